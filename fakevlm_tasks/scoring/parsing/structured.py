"""Answers whose structure states the verdict: a JSON object's verdict field or class-named fields, the option
letter the answer picks when the question offers real and fake options."""

from __future__ import annotations

import json
import re

from .cues import _cues
from .labels import FAKE, _OPPOSITE, REAL, UNKNOWN
from .scores import _larger_score
from .sentences import _LABEL_WORD
from .text import _read_text

_JSON_RE = re.compile(r"\{.*\}", re.DOTALL)
_LABEL_KEY_RE = re.compile(rf"(?:predicted\s)?(?:{_LABEL_WORD}|class)")


def _json_verdict(text: str, question) -> str | None:
    """The verdict of a JSON object in the answer: its label field ("verdict", "label",
    "answer", ...) if it has one, read like an answer (so it may be UNKNOWN, and the
    object's other fields are not consulted); else its class-named booleans
    ("is_fake": false) if they agree; else class-named scores ("real": 0.1, "fake": 0.9).
    None when there is no such object."""
    match = _JSON_RE.search(text)
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return None
    booleans, scores = set(), {}
    for key, value in _fields(data):
        words = re.sub(r"[\W_]+", " ", str(key)).strip().lower()
        if _LABEL_KEY_RE.fullmatch(words):
            return _read_text(value, question).label if isinstance(value, str) else UNKNOWN
        named = {c.label for c in _cues(words)}
        if len(named) != 1:
            continue
        label = named.pop()
        if isinstance(value, bool):
            booleans.add(label if value else _OPPOSITE[label])
        elif isinstance(value, (int, float)):
            scores[label] = value
    if booleans:
        return booleans.pop() if len(booleans) == 1 else UNKNOWN
    return _larger_score(scores)


def _fields(data):
    """(key, value) pairs of a JSON object, nested objects included, outer keys first."""
    if not isinstance(data, dict):
        return
    nested = []
    for key, value in data.items():
        if isinstance(value, dict):
            nested.append(value)
        else:
            yield key, value
    for value in nested:
        yield from _fields(value)

# Options offered by the question: "(A) real (B) fake", "A. It is a real photo.\nB. ...".
_OPTION_RE = re.compile(
    r"(?<![A-Za-z0-9])[(（]?([A-D])[).:）．、：]\s*(.+?)\s*"
    r"(?=(?<![A-Za-z0-9])[(（]?[A-D][).:）．、：]|\n|$)",
    re.MULTILINE)
# The option an answer picks: a capital letter alone or opening the answer ("B", "(A)",
# "B. fake"), or named ("Option B", "The answer is B."); "A real image." picks nothing.
_CHOSEN_RE = re.compile(
    r"^[\s*_`>#]*\(?(?P<lead>[A-D])\)?\**(?=[).:,]|\s*$)"
    r"|\b(?:(?i:option|choice|answer(?:\s+is)?)|答案[是为]?|选项|选择?)"
    r"\s*[:=：]?\s*[*_]*[(（]?(?P<named>[A-D])[)）]?(?!\w)",
    re.MULTILINE,
)


def _option_verdict(text: str, question) -> str | None:
    """The verdict of the option the answer picks, when the question offers real and fake
    options. UNKNOWN if the picked option is neither, or the rest of its line says the
    other class ("B) real" when B is fake). None when no option is offered or picked."""
    options = _options(question)
    match = _CHOSEN_RE.search(text) if options else None
    if not match:
        return None
    label = options.get(match.group("lead") or match.group("named"), UNKNOWN)
    echo = text[match.end():].split("\n", 1)[0]
    return label if _read_text(echo, None).label in (UNKNOWN, label) else UNKNOWN


def _options(question) -> dict:
    """{letter: label} of the question's options, if it offers both a real and a fake one."""
    if not isinstance(question, str):
        return {}
    options = {letter: _read_text(body, None).label for letter, body in _OPTION_RE.findall(question)}
    return options if {REAL, FAKE} <= set(options.values()) else {}

