"""A doc's image, decoded: the one place the tasks (and their perturbed variants) open an image file."""

from __future__ import annotations


def doc_to_visual(doc):
    """The doc's image as RGB. A missing or broken file raises an error naming the file."""
    from PIL import Image

    path = doc["image"]
    try:
        with Image.open(path) as im:
            return [im.convert("RGB")]
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"image of doc {doc.get('id')!r} is missing: {path}") from exc
    except OSError as exc:
        raise OSError(f"image of doc {doc.get('id')!r} cannot be decoded: {path} ({exc})") from exc
