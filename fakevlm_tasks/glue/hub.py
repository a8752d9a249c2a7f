"""A benchmark's official files from the Hugging Face Hub: downloaded, checked, extracted safely, prepared.

The transfer is huggingface_hub's (its cache, ``HF_TOKEN``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, progress bars and
resumption of a dropped connection). This module adds what the Hub client does not do: checking each file against the
hash the Hub reports, extracting the image archive so that no member lands outside its folder, finding where in the
archive the annotations' image paths point, one process at a time (accelerate ranks share a file lock), and the
prepare step, whose manifest records the Hub revision. Extractions live under ``$FAKEVLM_DATA_DIR/.hub/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import stat
import zipfile
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from loguru import logger

from fakevlm_tasks.glue.benchmarks import Benchmark, discover
from fakevlm_tasks.glue.prepared import DATA_DIR_ENV, RECORDS_FILE, DataError, data_root, write_prepared

AUTO_DOWNLOAD_ENV = "FAKEVLM_AUTO_DOWNLOAD"
HUB_DIR = ".hub"
EXTRACTED_MARKER = ".fakevlm-extracted.json"

#: Archive-bomb limits: no member may expand past MAX_MEMBER_BYTES, nor past MAX_RATIO times its compressed size
#: once it is larger than RATIO_FLOOR (images barely compress; a 1000:1 member is not an image).
MAX_MEMBER_BYTES = 4 << 30
MAX_RATIO = 100
RATIO_FLOOR = 1 << 20
#: Room left free after an extraction, besides what the archive holds.
SPARE_BYTES = 256 << 20


class HubError(DataError):
    """The Hub files cannot be fetched, checked or extracted; the message names the file and what to do."""


@dataclass(frozen=True)
class Fetched:
    """What a download left: the annotations (file or folder), the image root, where they came from (repo,
    commit, each file's hash) and the folders prepared from them (none for a split the tasks do not evaluate)."""

    annotations: Path
    images: Path
    source: dict
    prepared: tuple[Path, ...] = ()


def auto_download() -> bool:
    """Whether a task may download its missing data (``$FAKEVLM_AUTO_DOWNLOAD``, read now; on unless ``0``)."""
    return os.environ.get(AUTO_DOWNLOAD_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def download_command(bench: Benchmark, split: str | None = None) -> str:
    """The command that downloads and prepares ``bench`` (with the step that fetches annotations the Hub lacks)."""
    hub = bench.hub
    command = f"fakevlm-data download {bench.name}" + (f" --split {split}" if split and split != hub.evaluated else "")
    if hub.annotations_elsewhere:
        fetch_annotations, path = hub.annotations_elsewhere
        return f"{fetch_annotations} && {command} --annotations {path}"
    return command


def owner(dataset: str) -> Benchmark | None:
    """The benchmark that writes the prepared set ``dataset``."""
    return next((b for b in discover().values() if dataset in b.prepared_sets), None)


# ------------------------------------------------------------------ one process at a time


@contextmanager
def _locked(bench: Benchmark):
    """Hold ``bench``'s download lock; a second process (another rank) waits here, then finds the work done."""
    from filelock import FileLock, Timeout

    path = data_root() / HUB_DIR / f"{bench.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info(f"{bench.name}: another process is downloading it (lock {path}); waiting for it to finish")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def ensure_prepared(dataset: str) -> None:
    """A task's first use: download and prepare ``dataset``, whose benchmark is on the Hub.

    Under the benchmark's lock, so that of two ranks one downloads and the other waits, then reads what it wrote.
    """
    bench = owner(dataset)
    with _locked(bench):
        if (data_root() / dataset / RECORDS_FILE).is_file():
            return  # another rank prepared it while this one waited
        logger.info(f"{dataset}: not prepared under {data_root()}; downloading {bench.hub.repo_id} "
                    f"({bench.hub.evaluated} split) from the Hugging Face Hub and preparing it "
                    f"(${AUTO_DOWNLOAD_ENV}=0 turns this off)")
        _download_and_prepare(bench, bench.hub.evaluated)


def download_and_prepare(bench: Benchmark, split: str | None = None, *, annotations: Path | None = None,
                         force_download: bool = False, strict: bool = False, check_images: bool = True) -> Fetched:
    """``fakevlm-data download``: fetch ``split`` and, for the evaluated split, prepare it."""
    with _locked(bench):
        return _download_and_prepare(bench, split or bench.hub.evaluated, annotations=annotations,
                                     force_download=force_download, strict=strict, check_images=check_images)


def _download_and_prepare(bench, split, *, annotations=None, force_download=False, strict=False, check_images=True):
    hub = bench.hub
    if split not in hub.archives:
        raise HubError(f"{bench.name}: no split {split!r} on the Hub; known: {', '.join(hub.archives)}")
    fetched = fetch(bench, split, annotations=annotations, force_download=force_download)
    if split != hub.evaluated:
        return fetched
    return replace(fetched, prepared=tuple(prepare(bench, fetched, strict=strict, check_images=check_images)))


def prepare(bench: Benchmark, fetched: Fetched, *, strict: bool = False, check_images: bool = True) -> list[Path]:
    """Run ``bench``'s preparer on what was fetched, as ``fakevlm-data prepare`` would, recording the Hub source."""
    parser = argparse.ArgumentParser(prog=f"fakevlm-data prepare {bench.name}")
    bench.add_arguments(parser)
    args = parser.parse_args(["--annotations", str(fetched.annotations), "--images", str(fetched.images)])
    args.strict, args.no_image_check = strict, not check_images
    args.allow_outside_root = False  # the archive was extracted under the image root
    out = []
    for report in bench.prepare(args):
        report.sources["hub"] = fetched.source
        out.append(write_prepared(report, strict=strict))
        logger.info(report.summary() + f"\n  -> {out[-1]}")
    return out


# ------------------------------------------------------------------ download and check


def fetch(bench: Benchmark, split: str, *, annotations: Path | None = None, force_download: bool = False) -> Fetched:
    """Download ``split``'s annotations (unless given) and image archive, check them, extract the archive."""
    hub = bench.hub
    listing = _listing(hub)
    revision = hub.revision  # not the listing's commit: huggingface_hub then records the branch, for offline use
    wanted = hub.annotations[split] if annotations is None else ()
    files = {}
    if annotations is None:
        present = [p for p in wanted if listing is None or p in listing]
        if listing is not None and wanted[0] not in listing:
            raise HubError(_no_annotations(bench, split, wanted[0]))
        for path in present:
            local = _download(bench, split, path, revision, force_download, required=path == wanted[0])
            if local is not None:
                _checked(hub, path, local, listing)
                files[path] = local
        annotations = files[wanted[0]].parent if len(wanted) > 1 else files[wanted[0]]
    elif not annotations.exists():
        raise HubError(f"{bench.name}: --annotations {annotations} does not exist")
    archive = hub.archives[split]
    if listing is not None and archive in listing:
        _check_room_for(listing[archive].size, f"{hub.repo_id}/{archive}")
    local = _download(bench, split, archive, revision, force_download, required=True)
    commit = _commit_of(local) or revision
    blob = _checked(hub, archive, local, listing)
    dest = data_root() / HUB_DIR / bench.name / split
    images = extract(blob, dest, hub.image_paths(annotations), etag=blob.name, label=f"{hub.repo_id}/{archive}")
    source = {"repo": hub.repo_id, "revision": commit, "split": split,
              "files": {p: Path(os.path.realpath(f)).name for p, f in {**files, archive: local}.items()}}
    return Fetched(annotations=annotations, images=images, source=source)


def _no_annotations(bench: Benchmark, split: str, path: str) -> str:
    hub = bench.hub
    msg = f"{bench.name}: {hub.repo_id} does not carry the annotations ({path})."
    if hub.annotations_elsewhere:
        fetch_cmd, folder = hub.annotations_elsewhere
        split_arg = f" --split {split}" if split != hub.evaluated else ""
        msg += (f" Get them and give their folder:\n  {fetch_cmd}\n"
                f"  fakevlm-data download {bench.name}{split_arg} --annotations {folder}")
    return msg


def _listing(hub) -> dict | None:
    """``{path: RepoFile}`` of the files the Hub lists at the revision's commit; None offline or unreachable."""
    from huggingface_hub import HfApi, constants

    if constants.is_offline_mode():
        return None  # huggingface_hub's offline rule: the cache's refs decide, no request is made
    api = HfApi()
    paths = sorted({p for ps in hub.annotations.values() for p in ps} | set(hub.archives.values()))
    try:
        commit = api.dataset_info(hub.repo_id, revision=hub.revision).sha or hub.revision
        listing = {f.path: f for f in api.get_paths_info(hub.repo_id, paths, revision=commit, repo_type="dataset")
                   if hasattr(f, "size")}
    except Exception as exc:  # noqa: BLE001 - offline, unreachable, no access: hf_hub_download then decides from the cache
        logger.warning(f"{hub.repo_id}: the Hub's file list could not be read ({type(exc).__name__}: {exc}); "
                       "using what the local Hub cache holds")
        return None
    return listing


def _download(bench, split, path, revision, force, *, required) -> Path | None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    hub = bench.hub
    try:
        return Path(hf_hub_download(hub.repo_id, path, repo_type="dataset", revision=revision, force_download=force))
    except LocalEntryNotFoundError as exc:
        if not required:
            return None
        raise HubError(
            f"{bench.name}: {hub.repo_id}/{path} is not in the local Hub cache and the Hub cannot be reached "
            f"({'HF_HUB_OFFLINE is set' if _offline() else exc}). Run, where the Hub is reachable and with the "
            f"same HF_HOME:\n  {download_command(bench, split)}") from None
    except EntryNotFoundError:
        if not required:
            return None
        if path in hub.annotations[split]:
            raise HubError(_no_annotations(bench, split, path)) from None
        raise HubError(f"{bench.name}: {hub.repo_id} has no {path} at revision {revision}") from None
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise HubError(f"{bench.name}: {hub.repo_id} (revision {revision}) cannot be read: {exc}. "
                       "A private or gated copy needs HF_TOKEN.") from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise HubError(f"{bench.name}: downloading {hub.repo_id}/{path} failed: {type(exc).__name__}: {exc}. "
                       "Rerun the same command.") from None


def _offline() -> bool:
    from huggingface_hub import constants

    return constants.is_offline_mode()


def _commit_of(local: Path) -> str | None:
    """The commit a cached file belongs to: huggingface_hub stores it under ``snapshots/<commit>/``."""
    parts = local.parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None


def _checked(hub, path: str, local: Path, listing: dict | None) -> Path:
    """Check ``local`` against the size and hash the Hub reports for ``path``; return the blob it is.

    The expected hash is the listing's (sha256 for LFS files, git's blob id otherwise) or, offline, the ETag the
    Hub gave when the file was downloaded, which huggingface_hub names the blob after. A blob already checked
    (same size and modification time) is not hashed again.
    """
    blob = Path(os.path.realpath(local))
    entry = listing.get(path) if listing else None
    size = blob.stat().st_size
    label = f"{hub.repo_id}/{path} ({blob})"
    if entry is not None and entry.size is not None and entry.size != size:
        raise HubError(f"size mismatch: {label} has {size} bytes, the Hub reports {entry.size}. "
                       "Run the download again with --force-download.")
    expected = (entry.lfs.sha256 if entry is not None and entry.lfs else entry.blob_id if entry is not None else blob.name)
    kind = "sha256" if len(expected) == 64 else "git-sha1" if len(expected) == 40 else None
    if kind is None:
        logger.warning(f"{label}: the Hub reported no hash ({expected!r}); checked by size only")
        return blob
    checked = data_root() / HUB_DIR / "checked.json"
    seen = _read_json(checked) or {}
    stamp = [size, blob.stat().st_mtime_ns, expected]
    if seen.get(str(blob)) == stamp:
        return blob
    if size > 256 << 20:
        logger.info(f"checking {label} against the {kind} the Hub reports")
    actual = _hash(blob, kind)
    if actual != expected:
        raise HubError(f"checksum mismatch: {label} has {kind} {actual}, the Hub reports {expected}. "
                       "The download is corrupt: run it again with --force-download.")
    seen[str(blob)] = stamp
    _write_json(checked, seen)
    return blob


def _hash(path: Path, kind: str) -> str:
    digest = hashlib.sha256() if kind == "sha256" else hashlib.sha1()
    if kind == "git-sha1":
        digest.update(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1), encoding="utf-8")
    tmp.replace(path)


def _check_room_for(size: int, what: str) -> None:
    """Before downloading an archive of ``size`` bytes: room for it in the Hub cache and for its extraction."""
    from huggingface_hub import constants

    cache, data = Path(constants.HF_HUB_CACHE), data_root()
    for folder in (cache, data):
        folder.mkdir(parents=True, exist_ok=True)
    if cache.stat().st_dev == data.stat().st_dev:
        _check_space(2 * size, data, f"{what} (download and extraction, one disk)")
    else:
        _check_space(size, cache, f"{what} (download)")
        _check_space(size, data, f"{what} (extraction)")


def _check_space(needed: int, where: Path, what: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(where).free
    if free < needed + SPARE_BYTES:
        raise HubError(f"not enough free space for {what}: {needed / 1e9:.2f} GB needed under {where}, "
                       f"{free / 1e9:.2f} GB free. Point ${DATA_DIR_ENV} (and HF_HOME) at a larger disk.")


# ------------------------------------------------------------------ safe extraction


def unsafe_members(infos, *, max_member: int = MAX_MEMBER_BYTES, max_ratio: float = MAX_RATIO) -> list[str]:
    """Why each member of a zip listing may not be extracted: outside the folder, a link, a special file, a bomb."""
    problems = []
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        mode = info.external_attr >> 16
        if name.startswith(("/", "\\")) or (parts and parts[0].endswith(":")):
            problems.append(f"{name!r}: an absolute path")
        elif ".." in parts:
            problems.append(f"{name!r}: leaves the folder (..)")
        elif stat.S_ISLNK(mode):
            problems.append(f"{name!r}: a symbolic link")
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no type recorded (most zip writers)
            problems.append(f"{name!r}: not a regular file")
        elif info.file_size > max_member:
            problems.append(f"{name!r}: {info.file_size} bytes, over the {max_member}-byte limit for one member")
        elif info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
            problems.append(f"{name!r}: expands {info.compress_size} bytes to {info.file_size} "
                            f"(over {max_ratio}:1, an archive bomb)")
    return problems


def find_root(names: list[str], image_paths: list[str], *, sample: int = 200) -> tuple[str, str]:
    """Where the annotations' image paths point in an archive holding ``names``: ``(member_root, path_prefix)``.

    The member ``<member_root>/<rest>`` is the image the annotations call ``<path_prefix>/<rest>``. Found by
    matching a spread sample of the paths against the members by their longest common tail, then taking the
    answer most of them agree on (FakeClue's ``test.zip`` nests its folders in ``test/`` or ``test/test/``;
    LOKI's media archive holds ``loki_media_aggregate/`` where the annotations say ``media_data/``).
    """
    by_name = defaultdict(list)
    for n in names:
        by_name[n.rsplit("/", 1)[-1]].append(n.split("/"))
    votes: Counter = Counter()
    step = max(1, len(image_paths) // sample)
    for path in image_paths[::step]:
        want = [p for p in str(path).replace("\\", "/").split("/") if p not in ("", ".")]
        if not want:
            continue
        best = None
        for have in by_name.get(want[-1], ()):
            common = 0
            while common < min(len(have), len(want)) and have[-1 - common] == want[-1 - common]:
                common += 1
            if best is None or common > best[0]:
                best = (common, have)
        if best:
            common, have = best
            votes["/".join(have[:len(have) - common]), "/".join(want[:len(want) - common])] += 1
    if not votes:
        example = image_paths[0] if image_paths else "(none)"
        raise HubError(f"none of the {len(image_paths)} image paths the annotations name (e.g. {example}) is in the archive")
    (root, prefix), _ = max(votes.items(), key=lambda kv: (kv[1], -len(kv[0][1]), -len(kv[0][0])))
    return root, prefix


def extract(archive: Path, dest: Path, image_paths: list[str], *, etag: str = "", label: str | None = None,
            max_member: int = MAX_MEMBER_BYTES, max_ratio: float = MAX_RATIO) -> Path:
    """Extract the images of ``archive`` into ``dest`` so the annotations' image paths resolve against it; return it.

    Nothing is written unless every member is safe (see :func:`unsafe_members`) and the disk has room. The work
    goes to ``dest.partial`` and is renamed into place only when complete, so a killed extraction leaves nothing a
    task sees (the next run starts it over), and an earlier extraction is replaced only by a complete one. An
    extraction of the same archive (same ETag) is reused.
    """
    label = label or str(archive)
    done = _read_json(dest / EXTRACTED_MARKER)
    if done and etag and done.get("etag") == etag:
        return dest
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise HubError(f"corrupt archive {label} ({archive}): {exc}. Run the download again with --force-download.") from None
    with zf:
        infos = zf.infolist()
        problems = unsafe_members(infos, max_member=max_member, max_ratio=max_ratio)
        if problems:
            raise HubError(f"refused to extract {label}: {len(problems)} unsafe member(s), nothing written:\n  "
                           + "\n  ".join(problems[:10]))
        files = [i for i in infos if not i.is_dir()]
        root, prefix = find_root([i.filename for i in files], image_paths)
        under = [(i, i.filename[len(root):].lstrip("/")) for i in files
                 if not root or i.filename.startswith(root + "/")]
        if len(under) < len(files):
            logger.info(f"{label}: {len(files) - len(under)} files outside {root}/, where the images are, not extracted")
        total = sum(i.file_size for i, _ in under)
        _check_space(total, dest.parent, f"extracting {label}")
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)  # what a killed extraction left; this process holds the lock
        partial.mkdir(parents=True)
        logger.info(f"extracting {label}: {len(under)} files, {total / 1e6:.1f} MB, into {dest}"
                    + (f" (its {root}/ as {prefix or 'the root'})" if root or prefix else ""))
        try:
            _copy_members(zf, under, partial / prefix if prefix else partial, total, label)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    _write_json(partial / EXTRACTED_MARKER, {"archive": label, "etag": etag, "files": len(under), "bytes": total,
                                             "member_root": root, "path_prefix": prefix})
    if dest.exists():
        old = dest.with_name(dest.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
        partial.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(dest)
    return dest


def _copy_members(zf: zipfile.ZipFile, members, into: Path, total: int, label: str) -> None:
    from huggingface_hub.utils import tqdm

    base = into.resolve()
    with tqdm(total=total, unit="B", unit_scale=True, desc=f"extracting {Path(label).name}") as bar:
        for info, rest in members:
            target = (into / rest).resolve()
            if base not in target.parents:  # unsafe_members already refused this; a second lock on the door
                raise HubError(f"refused to extract {label}: {info.filename!r} leaves the folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                        bar.update(len(chunk))
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
                raise HubError(f"corrupt archive {label}: member {info.filename!r} cannot be read ({exc}). "
                               "Run the download again with --force-download.") from None
