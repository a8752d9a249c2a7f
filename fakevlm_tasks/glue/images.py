"""A doc's image, decoded: the one place the tasks (and their perturbed variants) and the preparers open an image file."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

_STRICT = threading.Lock()


@contextlib.contextmanager
def strict_decoding():
    """Decode images inside this block with truncated files refused, whatever the host set (see below)."""
    # lmms-eval sets PIL's process-wide ImageFile.LOAD_TRUNCATED_IMAGES = True when it loads
    # (lmms_eval/api/task.py), and PIL then pads a truncated file with grey without a word. PIL
    # reads the flag at decode time and offers no per-image switch, so it is held False around our
    # own decoding and given back after, under a lock so that our threads do not restore it early.
    from PIL import ImageFile

    with _STRICT:
        host = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = host


def decode(path: str | Path):
    """The image at ``path`` as RGB, every byte of it decoded, whatever the host's PIL setting:
    a truncated or corrupt file, or one past PIL's decompression-bomb limit, raises OSError naming it."""
    from PIL import Image

    try:
        with strict_decoding(), Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except FileNotFoundError:
        raise
    except Exception as exc:  # PIL raises many types for broken files (OSError, SyntaxError, DecompressionBombError ...)
        raise OSError(f"{path} cannot be decoded ({type(exc).__name__}: {exc})") from exc


def doc_to_visual(doc):
    """The doc's image as RGB. A missing, truncated or broken file raises an error naming the doc and the file."""
    path = doc["image"]
    try:
        return [decode(path)]
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"image of doc {doc.get('id')!r} is missing: {path}") from exc
    except OSError as exc:
        raise OSError(f"image of doc {doc.get('id')!r}: {exc}") from exc
