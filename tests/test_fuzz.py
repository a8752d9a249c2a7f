"""A seeded fuzz of what users hand the tools: `fakevlm-data prepare`'s official files and images (every
benchmark's miniature, damaged), and `fakevlm-leaderboard`'s results JSONs and samples files.

A case may end in the project's own error (exit 2, a message), never in a traceback, never writing outside
the folders it was given, and a set it prepares never points outside its image root. A failure names the
case's seed and what was done to its files, so that ``case(seed)`` replays it.
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import time
import zlib
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from PIL import Image

from fakevlm_tasks.data import cli as data_cli
from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.glue.prepared import DATA_DIR_ENV, IMAGE_SUFFIXES, RECORDS_FILE
from fakevlm_tasks.report import cli as board_cli

SEED = 21
PREPARE_CASES = 400
LEADERBOARD_CASES = 120
OUTSIDE = "<OUTSIDE>"  # replaced by the absolute path of an image outside every root given

JUNK = [None, True, False, 0, -1, 1, 2**70, 1.5, float("inf"), float("nan"), "", " ", "\x00", "a\x00b.png",
        "\ud800", "../../outside/secret.png", OUTSIDE, "/", "/etc/hostname", "é" * 3, "x" * 3000, "real", "fake",
        "<script>alert(1)</script>", [], {}, [None], {"": None}, [[[[[]]]]], {"image": "a.png"}, ["a", "b"]]
NAMES = ["/abs/X", "../../X", "..", "a/b", "", "\x00", "<b>x</b>", "acc,none", "acc", "fakeclue", "é/../..", "CON"]


# ------------------------------------------------------------------ mutations


def _nodes(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nodes(v, (*path, i))


def _junk(rng: random.Random, outside: str):
    value = rng.choice(JUNK)
    return outside if value == OUTSIDE else value


def mutate_tree(value, rng: random.Random, outside: str, log: list):
    """One structural change at a random node of a JSON value: replace, delete, duplicate, wrap or rename."""
    path = rng.choice(list(_nodes(value)))
    if not path:
        log.append("root replaced")
        return _junk(rng, outside) if rng.random() < 0.5 else [value]
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    op = rng.choice(["replace", "replace", "delete", "duplicate", "wrap", "rename"])
    log.append(f"{op} at {path!r}"[:200])
    if op == "replace":
        parent[key] = _junk(rng, outside)
    elif op == "delete":
        del parent[key]
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(parent[key])))
    elif op == "wrap":
        parent[key] = [parent[key]]
    elif op == "rename" and isinstance(parent, dict):
        parent[rng.choice(NAMES)] = parent.pop(key)
    return value


def serialise(value, rng: random.Random, log: list) -> bytes:
    """JSON text of ``value``, mostly well-formed; sometimes truncated, in another encoding, or not JSON at all."""
    text = json.dumps(value, ensure_ascii=rng.random() < 0.5, allow_nan=True)
    how = rng.choices(["json", "truncated", "latin-1", "utf-16", "bom", "random", "empty", "deep", "surrogate"],
                      [10, 2, 1, 1, 1, 1, 1, 1, 1])[0]
    if how != "json":
        log.append(f"serialised: {how}")
    if how == "truncated":
        return text.encode("utf-8", "surrogatepass")[: rng.randrange(max(1, len(text)))]
    if how == "latin-1":
        return text.encode("latin-1", "replace")
    if how == "utf-16":
        return text.encode("utf-16", "surrogatepass")
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    if how == "random":
        return rng.randbytes(rng.randrange(1, 400))
    if how == "empty":
        return b""
    if how == "deep":
        return b"[" * 100_000 + b"]" * 100_000
    if how == "surrogate":  # raw surrogate bytes: not UTF-8
        return json.dumps(value, ensure_ascii=False).replace('"', '"\ud800', 1).encode("utf-8", "surrogatepass")
    return text.encode("utf-8", "surrogatepass")


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header (with a right CRC) claiming a huge size: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def _jpeg(rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((16, 16), 50).convert("RGB").save(buffer, format="JPEG", quality=rng.randrange(10, 95))
    return buffer.getvalue()


def damage_file(path: Path, rng: random.Random, outside: Path, log: list) -> None:
    """One damage to an input file or folder: its bytes, its kind, or a link out of the root."""
    op = rng.choice(["truncate", "random", "empty", "delete", "folder", "link out", "link loop", "link root",
                     "bomb", "truncated jpeg", "other format"])
    log.append(f"{op}: {path.name}")
    if path.is_dir() and not path.is_symlink():
        if op in ("link out", "link root", "delete", "link loop"):
            _remove(path)
            if op != "delete":
                path.symlink_to({"link out": outside.parent, "link root": Path("/"), "link loop": path}[op])
        return
    if op in ("link out", "link loop", "link root", "delete", "folder"):
        path.unlink(missing_ok=True)
        if op == "folder":
            path.mkdir()
        elif op != "delete":
            path.symlink_to({"link out": outside, "link root": Path("/"), "link loop": path}[op])
        return
    if op == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: rng.randrange(max(1, len(data)))])
    elif op == "random":
        path.write_bytes(rng.randbytes(rng.randrange(1, 2000)))
    elif op == "empty":
        path.write_bytes(b"")
    elif op == "bomb":
        path.write_bytes(_png_claiming(40_000, 40_000))
    elif op == "truncated jpeg":
        data = _jpeg(rng)
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(_jpeg(rng))


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    for child in path.iterdir():
        _remove(child)
    path.rmdir()


def damage(root: Path, rng: random.Random, outside: Path, log: list) -> None:
    """1 to 3 changes to the files under ``root``: JSON files get structural mutations, others get damaged."""
    files = sorted(p for p in root.rglob("*") if not p.is_symlink())
    for _ in range(rng.randint(1, 3)):
        candidates = [p for p in files if p.exists() and not p.is_symlink()]
        if not candidates:
            return
        path = rng.choice(candidates)
        if path.is_file() and path.suffix in (".json", ".jsonl"):
            try:
                lines = ([json.loads(path.read_text(encoding="utf-8"))] if path.suffix == ".json"
                         else [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line])
            except (ValueError, UnicodeDecodeError, RecursionError):  # damaged by an earlier change
                damage_file(path, rng, outside, log)
                continue
            log.append(f"mutated {path.name}")
            k = rng.randrange(len(lines)) if lines else 0
            if lines:
                lines[k] = mutate_tree(lines[k], rng, str(outside), log)
            chunks = [serialise(v, rng, log) if i == k else json.dumps(v).encode() for i, v in enumerate(lines)]
            path.write_bytes(chunks[0] if path.suffix == ".json" else b"\n".join(chunks) + b"\n")
        else:
            damage_file(path, rng, outside, log)


# ------------------------------------------------------------------ what a case may do


def snapshot(folder: Path) -> set[str]:
    """Every path under ``folder``, links not followed."""
    found = set()
    for here, dirs, files in os.walk(folder):
        found.update(os.path.join(here, n) for n in dirs + files)
    return found


def run_quietly(main, argv) -> tuple[object, str]:
    """``main(argv)``'s return value (or the exception it let out) and its stderr."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            return main(argv), err.getvalue()
    except BaseException as exc:  # noqa: BLE001 - a fuzz case reports whatever escaped
        return exc, err.getvalue()


def check_case(rc, err: str, before: set[str], after: set[str], allowed: list[Path], ok: tuple) -> list[str]:
    problems = []
    if isinstance(rc, BaseException):
        problems.append(f"raised {type(rc).__name__}: {str(rc)[:300]}")
    elif rc not in ok:
        problems.append(f"exit status {rc!r}")
    if "Traceback" in err:
        problems.append("printed a traceback: " + err[-500:])
    stray = sorted(p for p in after - before if not any(Path(p).is_relative_to(a) for a in allowed))
    if stray:
        problems.append(f"wrote outside its folders: {stray[:5]}")
    return problems


@pytest.fixture(scope="module")
def miniatures(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """Every benchmark's miniature official files, written once; each case works on a copy."""
    made = {}
    for name, bench in sorted(benchmarks.discover().items()):
        if bench.write_miniature is not None:
            root = tmp_path_factory.mktemp(f"mini-{name}")
            made[name] = (root, bench.write_miniature(root))
    return made


def _copy(src: Path, dst: Path) -> None:
    import shutil

    shutil.copytree(src, dst, symlinks=True)


def prepare_case(seed: int, miniatures: dict, tmp: Path, monkeypatch) -> list[str]:
    rng = random.Random(seed)
    name = rng.choice(sorted(miniatures))
    root, argv = miniatures[name]
    case = tmp / f"case{seed}"
    inputs, prepared = case / "in", case / "prepared"
    _copy(root, inputs)
    outside = case / "outside" / "secret.png"
    outside.parent.mkdir(parents=True)
    Image.new("RGB", (8, 8), (1, 2, 3)).save(outside)
    log = [name]
    damage(inputs, rng, outside, log)
    monkeypatch.setenv(DATA_DIR_ENV, str(prepared))
    argv = [a.replace(str(root), str(inputs)) for a in argv]
    before = snapshot(case)
    rc, err = run_quietly(data_cli.main, ["prepare", name, *argv])
    problems = check_case(rc, err, before, snapshot(case), [prepared], (0, 2))
    if rc == 0:
        lines = (prepared / name / RECORDS_FILE).read_bytes().decode("utf-8").splitlines()
        for line in lines:
            image = Path(json.loads(line)["image"]).resolve()
            if image.is_relative_to(outside.parent.resolve()) or not image.is_relative_to(inputs.resolve()):
                problems.append(f"prepared an image outside the root: {image}")
    return [f"seed {seed} ({'; '.join(log)}): {p}" for p in problems]


def test_prepare_survives_damaged_official_files(miniatures, tmp_path, monkeypatch):
    start = time.monotonic()
    failures = [f for seed in range(SEED, SEED + PREPARE_CASES) for f in prepare_case(seed, miniatures, tmp_path, monkeypatch)]
    took = time.monotonic() - start
    print(f"prepare fuzz: {PREPARE_CASES} cases over {', '.join(sorted(miniatures))} in {took:.1f} s")
    assert not failures, f"{len(failures)} of {PREPARE_CASES} cases failed:\n" + "\n".join(failures[:20])


# ------------------------------------------------------------------ the leaderboard's inputs


@pytest.fixture(scope="module")
def logged_run() -> tuple[dict, list[dict]]:
    """A FakeClue results JSON and its samples lines, as lmms-eval writes them for six docs."""
    fakeclue = benchmarks.module("fakeclue")
    answers = ["This is a real image. Soft fur.", "This is a fake image. The text is garbled.", "Hmm.",
               "This is a fake image. Seams.", "", "This is a real image."]
    lines = []
    for i, answer in enumerate(answers):
        doc = {"id": f"d{i}", "image": f"/data/{i}.png", "label": "real" if i % 2 else "fake", "category": "animal",
               "question": "Does the image looks real/fake?", "reference": "This is a fake image. Blurred fur."}
        lines.append({"doc_id": i, "doc": doc, "target": doc["label"], "resps": [[answer]], "filtered_resps": [answer],
                      "doc_hash": "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b",
                      **fakeclue.process_results(doc, [answer])})
    results = {"results": {"fakeclue": {"alias": "fakeclue", "acc,none": 50.0, "f1,none": 40.0, "auc,none": None}},
               "config": {"model": "fakevlm", "model_args": "pretrained=lingcco/fakeVLM,prompt_format=train", "limit": None},
               "configs": {"fakeclue": {"task": "fakeclue", "metric_list": [{"metric": "acc"}]}},
               "n-samples": {"fakeclue": {"original": 6, "effective": 6}}, "date": "20250101_000000",
               "versions": {"fakeclue": 1}}
    return results, lines


def leaderboard_case(seed: int, logged_run, tmp: Path) -> list[str]:
    rng = random.Random(seed)
    results, lines = json.loads(json.dumps(logged_run[0])), json.loads(json.dumps(logged_run[1]))
    case = tmp / f"board{seed}"
    runs, out, site_dir = case / "runs", case / "out", case / "site"
    folder = runs / "fakevlm"
    folder.mkdir(parents=True)
    outside = case / "outside" / "secret.png"
    outside.parent.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(outside)
    if rng.random() < 0.3:  # a metric named like a path
        results["results"]["fakeclue"][rng.choice(NAMES)] = {"animal": 1.0} if rng.random() < 0.5 else 1.0
    (folder / "20250101_000000_results.json").write_text(json.dumps(results), encoding="utf-8")
    (folder / "20250101_000000_samples_fakeclue.jsonl").write_text("\n".join(json.dumps(s) for s in lines) + "\n", encoding="utf-8")
    log = []
    damage(runs, rng, outside, log)
    command = rng.choice(["build", "build", "build", "check", "html"])
    argv = {"check": ["check", str(runs)], "build": ["build", str(runs), "--out", str(out), "--resamples", "20"],
            "html": ["build", str(runs), "--out", str(out), "--resamples", "20", "--html", str(site_dir)]}[command]
    log.insert(0, command)
    before = snapshot(case)
    rc, err = run_quietly(board_cli.main, argv)
    problems = check_case(rc, err, before, snapshot(case), [out, site_dir], (0, 1, 2))
    return [f"seed {seed} ({'; '.join(log)}): {p}" for p in problems]


def test_the_leaderboard_survives_damaged_results_and_samples(logged_run, tmp_path):
    start = time.monotonic()
    failures = [f for seed in range(SEED, SEED + LEADERBOARD_CASES) for f in leaderboard_case(seed, logged_run, tmp_path)]
    took = time.monotonic() - start
    print(f"leaderboard fuzz: {LEADERBOARD_CASES} cases in {took:.1f} s")
    assert not failures, f"{len(failures)} of {LEADERBOARD_CASES} cases failed:\n" + "\n".join(failures[:20])
