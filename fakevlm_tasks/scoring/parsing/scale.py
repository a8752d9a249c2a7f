"""A score scale the question defines ("a final 0-10 score: 0 = certainly real, 10 = certainly fake"), and a
score line whose number and words name different classes on it ("Final Score: 2/10 (certainly fake)")."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .cues import _cues
from .labels import FAKE, REAL
from .normalise import _normalise

# One end of a scale: a number, then "=", ":", "-", "means" or "(", then the class it stands for within a few
# words ("0 = certainly real", "10 means AI-generated", "1 (authentic)"). "0·9" is how normalise writes 0.9.
_END_RE = re.compile(r"(?<![\w·/])(?P<num>\d+(?:·\d+)?)\s*(?:=|:|-|\bmeans\b|\bis\b|\bfor\b|\s)\s*"
                     r"(?=(?P<words>[\w-]+(?:\s[\w-]+){0,2}))")
# A score line's number: "2/10", "2 / 10", "7", "0·85" (the first number in its content).
_SCORE_RE = re.compile(r"(?<![\w·])(?P<num>\d+(?:·\d+)?)(?:\s*/\s*(?P<of>\d+))?(?![\w·])")


@dataclass(frozen=True)
class Scale:
    """A scale from ``low`` (class ``low_label``) to ``high``; a score strictly between the middle and an end
    names that end's class, the middle names none."""

    low: float
    high: float
    low_label: str

    def label(self, score: float) -> str | None:
        middle = (self.low + self.high) / 2
        if not self.low <= score <= self.high or score == middle:
            return None
        high_label = FAKE if self.low_label == REAL else REAL
        return self.low_label if score < middle else high_label


def _scale(question) -> Scale | None:
    """The scale ``question`` defines: two numbered ends that name opposite classes; None if it defines none."""
    if not isinstance(question, str) or not any(ch.isdigit() for ch in question):
        return None
    return _scale_of(question)


@functools.lru_cache(maxsize=256)
def _scale_of(question: str) -> Scale | None:
    ends = {}
    for match in _END_RE.finditer(_normalise(question)):
        labels = {cue.label for cue in _cues(match.group("words")) if cue.strong}
        if len(labels) == 1:
            ends.setdefault(labels.pop(), float(match.group("num").replace("·", ".")))
    if set(ends) != {REAL, FAKE} or ends[REAL] == ends[FAKE]:
        return None
    low_label = REAL if ends[REAL] < ends[FAKE] else FAKE
    return Scale(min(ends.values()), max(ends.values()), low_label)


def _score_contradicts(content: str, label: str, scale: Scale | None) -> bool:
    """Whether a score line's content (normalised: "2/10 certainly fake") puts its number on the other class's
    side of ``scale`` from the class ``label`` its words name. A score out of another total ("2/5") is rescaled."""
    if scale is None or (match := _SCORE_RE.search(content)) is None:
        return False
    score = float(match.group("num").replace("·", "."))
    total = float(match.group("of")) if match.group("of") else scale.high
    if total <= 0 or score > total:
        return False
    if total != scale.high:
        score = scale.low + (scale.high - scale.low) * score / total
    named = scale.label(score)
    return named is not None and named != label
