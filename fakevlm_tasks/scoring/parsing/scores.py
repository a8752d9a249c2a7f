"""Per-class scores ("Real: 0.12, Fake: 0.88"): the class with the larger one."""

from __future__ import annotations

import re

from .cues import _cues
from .labels import FAKE, REAL, UNKNOWN

_SCORE_RE = re.compile(
    r"""(?:\b(?:probability|likelihood|chance|score|confidence|p)\s(?:of\s)?(?:being\s)?(?:an?\s)?)?
        \b(?P<cls>real|fake|authentic|genuine|ai[\s-]generated|synthetic)\b
        (?:\s(?:image|probability|likelihood|score|confidence))?\s*[:=]?\s*
        (?P<num>\d+(?:·\d+)?)(?P<pct>\s*%)?""",
    re.VERBOSE,
)


def _score_verdict(normalised: str) -> str | None:
    """"Real: 0.12, Fake: 0.88": the class with the larger score, when both are scored."""
    scores = {}
    if not any(ch.isdigit() for ch in normalised):  # the common case, and the regex is slow
        return None
    for match in _SCORE_RE.finditer(normalised):
        value = float(match.group("num").replace("·", "."))
        scores[_cues(match.group("cls"))[0].raw] = value / 100 if match.group("pct") or value > 1 else value
    return _larger_score(scores)


def _larger_score(scores: dict) -> str | None:
    if set(scores) != {REAL, FAKE}:
        return None
    if scores[REAL] == scores[FAKE]:
        return UNKNOWN
    return REAL if scores[REAL] > scores[FAKE] else FAKE

