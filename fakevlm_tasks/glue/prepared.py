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
        self.skipped.append(Skipped(str(record), reason))

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


def check_image(path: Path) -> str | None:
    """Return why ``path`` is not a readable image, or None if it is."""
    if not path.is_file():
        return "missing image: no file at " + str(path)
    try:
        from PIL import Image

        with Image.open(path) as im:
            im.verify()
    except Exception as exc:  # PIL raises many types for broken files
        return f"unreadable image: {path} ({type(exc).__name__}: {exc})"
    return None


def load_json(path: Path, what: str):
    """Read a JSON file, detecting UTF-16/UTF-8 byte-order marks; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what}: no file at {path}")
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        text = raw.decode("utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{what}: {path} is not valid JSON ({exc})") from exc


def write_prepared(report: PrepareReport, *, strict: bool = False) -> Path:
    """Write ``report`` under the data root and return its folder.

    With ``strict=True`` any skipped record is an error. A preparation that keeps no
    record at all is always an error: it means the wrong folder was given.
    """
    if not report.records:
        detail = "\n".join(f"  {s.record}: {s.reason}" for s in report.skipped[:10])
        raise DataError(f"{report.name}: no usable record found; nothing written.\n{detail}")
    if strict and report.skipped:
        raise DataError(f"{report.name}: {len(report.skipped)} records skipped and --strict was given\n" + report.summary())
    out = data_root() / report.name
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (RECORDS_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in report.records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
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


def first_existing(candidates: Iterable[Path]) -> Path | None:
    for c in candidates:
        if c.is_file():
            return c
    return None
