"""Writing the report's files safely: names from results files (task and metric names) are untrusted, so a file
name is a :func:`safe_name` checked by :func:`inside`, and a folder is filled through :func:`staged`, so a run that
fails leaves nothing partial in it."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

_SAFE = re.compile(r"[A-Za-z0-9_.-]+")


def safe_name(name: str, *, limit: int = 80) -> str:
    """``name`` as a file name: itself if it is only letters, digits and ``_.-`` (and does not start with a dot),
    else those characters and a hash of the original, so that two names never share a file."""
    name = str(name)
    if _SAFE.fullmatch(name) and not name.startswith(".") and len(name) <= limit:
        return name
    kept = "_".join(_SAFE.findall(name)).lstrip(".")[:limit - 13] or "name"
    return f"{kept}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def inside(folder: Path, name: str, suffix: str = "") -> Path:
    """``folder / (safe_name(name) + suffix)``, checked to stay inside ``folder`` once resolved (a symlink in it included)."""
    path = Path(folder) / (safe_name(name) + suffix)
    if not path.resolve().is_relative_to(Path(folder).resolve()):
        raise ValueError(f"refusing to write {path}: it resolves outside {folder}")
    return path


@contextlib.contextmanager
def staged(out: Path):
    """A hidden folder inside ``out`` to write into; on success its files move into ``out``, on failure it is removed
    (and ``out`` too, if this created it and it is empty)."""
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    try:
        yield stage
        for item in stage.iterdir():
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()
