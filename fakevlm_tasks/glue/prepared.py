"""Where prepared data lives, and the checks every preparer shares.

A prepared dataset is a folder ``$FAKEVLM_DATA_DIR/<name>/`` holding ``test.jsonl`` (one
record per line, image paths absolute) and ``manifest.json`` (source, counts, what was
skipped and why). The tasks read only these files, so a task never sees the official
layouts and a preparer never imports lmms-eval.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from fakevlm_tasks.glue.images import decode

DATA_DIR_ENV = "FAKEVLM_DATA_DIR"
DEFAULT_DATA_DIR = "~/.cache/fakevlm/data"
RECORDS_FILE = "test.jsonl"
MANIFEST_FILE = "manifest.json"

#: Image files a preparer picks up from a folder.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}

#: The question FakeVLM was trained and evaluated with (the data says "looks").
FAKECLUE_QUESTION = "Does the image looks real/fake?"


class DataError(ValueError):
    """An input file or record is not what the official format says; the message names it."""


class DataNotPreparedError(FileNotFoundError):
    """A task's data has not been prepared; the message says which command prepares it."""


def data_root() -> Path:
    """The prepared-data root, read from ``$FAKEVLM_DATA_DIR`` each time (default ``~/.cache/fakevlm/data``)."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser()


@dataclass
class Skipped:
    """One record left out, with where it came from and why."""

    record: str
    reason: str


@dataclass
class PrepareReport:
    """What a preparer produced: kept records and every skipped one (nothing is dropped silently)."""

    name: str
    records: list[dict] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    sources: dict = field(default_factory=dict)

    def skip(self, record: str, reason: str) -> None:
        self.skipped.append(Skipped(_printable(str(record)), _printable(reason)))

    def summary(self) -> str:
        lines = [f"{self.name}: {len(self.records)} records prepared, {len(self.skipped)} skipped"]
        reasons: dict[str, int] = {}
        for s in self.skipped:
            key = s.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"  skipped {count}: {reason}")
        for s in self.skipped[:5]:
            lines.append(f"    e.g. {s.record}: {s.reason}")
        return "\n".join(lines)


def _printable(text: str) -> str:
    # A file name that is not UTF-8 holds lone surrogates, which neither a terminal nor a UTF-8 file takes.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def check_image(path: Path) -> str | None:
    """Why ``path`` is not an image that decodes to its last byte (missing, truncated, corrupt, past
    PIL's decompression-bomb limit), or None if it is; as strict as evaluation, whatever PIL's setting."""
    if not path.is_file():
        return "missing image: no file at " + str(path)
    try:
        decode(path)
    except OSError as exc:
        return f"unreadable image: {exc}"
    return None


@dataclass(frozen=True)
class ImagePolicy:
    """How a preparer vets each image: it must lie inside ``root`` once symlinks are resolved (unless
    ``allow_outside_root``: absolute paths, ``..`` and links out of the root are refused, so that a
    prepared set never reads, nor a site publishes, files the user did not name), and decode wholly
    (unless ``decode`` is False: ``--no-image-check``)."""

    root: Path
    allow_outside_root: bool = False
    decode: bool = True

    def path(self, name) -> Path:
        """The resolved path of the image an annotation names relative to ``root``; DataError when
        ``name`` is no usable file name (not a string, empty, a NUL byte, a symlink loop)."""
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"image {name!r} is not a file name")
        if "\0" in name:
            raise DataError(f"image {name!r} holds a NUL byte")
        try:
            return (self.root / name).resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
            raise DataError(f"image {name!r} cannot be resolved under {self.root} ({exc})") from None

    def outside(self, path: Path) -> str | None:
        """Why ``path`` (a file or a folder) may not be used for where it lies, or None."""
        try:
            resolved, root = path.resolve(), self.root.resolve()
        except (OSError, RuntimeError) as exc:
            return f"unresolvable path: {path} ({exc})"
        if self.allow_outside_root or resolved.is_relative_to(root):
            return None
        where = str(path) if resolved == path else f"{path} resolves to {resolved}"
        return f"outside the image root: {where}, not under {root} (--allow-outside-root accepts it)"

    def problem(self, path: Path) -> str | None:
        """Why the image at ``path`` may not be used (outside the root, missing, broken), or None."""
        return self.outside(path) or (check_image(path) if self.decode else None)


def load_json(path: Path, what: str):
    """Read a JSON file, detecting UTF-16/UTF-8 byte-order marks; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what}: no file at {path}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{what}: {path} cannot be read ({exc})") from None
    try:
        text = raw.decode("utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{what}: {path} is not UTF-8 (nor UTF-16 with a byte-order mark): {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or an integer past Python's 4,300 digits
        raise DataError(f"{what}: {path} is not valid JSON ({exc})") from None
    except RecursionError:
        raise DataError(f"{what}: {path} nests too deeply to be a record file") from None


def write_prepared(report: PrepareReport, *, strict: bool = False) -> Path:
    """Write ``report`` under the data root and return its folder.

    With ``strict=True`` any skipped record is an error. A preparation that keeps no
    record at all is always an error: it means the wrong folder was given.
    """
    lines = _jsonl_lines(report)
    if not report.records:
        detail = "\n".join(f"  {s.record}: {s.reason}" for s in report.skipped[:10])
        raise DataError(f"{report.name}: no usable record found; nothing written.\n{detail}")
    if strict and report.skipped:
        raise DataError(f"{report.name}: {len(report.skipped)} records skipped and --strict was given\n" + report.summary())
    out = data_root() / report.name
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (RECORDS_FILE + ".tmp")
    tmp.write_bytes(b"".join(lines))
    tmp.replace(out / RECORDS_FILE)
    manifest = {
        "dataset": report.name,
        "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "records": len(report.records),
        "skipped": len(report.skipped),
        "skipped_records": [{"record": s.record, "reason": s.reason} for s in report.skipped],
        "sources": report.sources,
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return out


def _jsonl_lines(report: PrepareReport) -> list[bytes]:
    """Each kept record as a UTF-8 JSON line. A record holding a lone surrogate (a ``\\ud800`` escape
    in an annotation, a file name that is not UTF-8) could not be loaded back: it is skipped, with why."""
    kept, lines = [], []
    for rec in report.records:
        line = json.dumps(rec, ensure_ascii=False)
        try:
            lines.append(line.encode("utf-8") + b"\n")
        except UnicodeEncodeError as exc:
            report.skip(str(rec.get("id")), f"not UTF-8 text: {exc.reason} in {line[:160]}")
            continue
        kept.append(rec)
    report.records = kept
    return lines


def first_existing(candidates: Iterable[Path]) -> Path | None:
    for c in candidates:
        if c.is_file():
            return c
    return None
