"""The robust mode: read the answer the way a person would, English or Chinese, and say UNKNOWN rather than guess."""

from __future__ import annotations

from .fields import _answer_part
from .labels import UNKNOWN
from .structured import _json_verdict, _option_verdict
from .text import _Parse, _read_text

# An answer field first (a reasoning model's <answer>...</answer>), then structure: a
# JSON object's verdict field, then the option letter the answer picks. Otherwise the
# answer (Chinese rewritten as English) is cut into sentences; each sentence is scanned
# for cues (words and phrases that mean real or fake); a cue is flipped by a negation
# shortly before it in the same clause (or anywhere before it when it negates the
# evidence: "no signs that would suggest manipulation"); inside a sentence the clause
# after "but"/"so"/... wins and a concession ("although ...") is dropped; across
# sentences an explicit "Answer: ..." wins, then scores for both classes, then a verdict
# the answer opens with ("Fake. Admittedly ..."), then a concluding sentence, then the
# first sentence that decides. Strong cues (real, fake, AI-generated ...) outrank weak
# ones (unnatural ..., or a class named as a kind: "typical of real photographs") at
# every step, so an aside like "some regions look unnatural" never overturns "This is a
# real image." A refusal or hedge ("I cannot verify the authenticity ...") decides
# nothing, and after one only a strong verdict counts: reading a refusal as a verdict is
# the worst error.


def _robust(text, question) -> str:
    return _robust_parse(text, question).label


def _robust_parse(text, question) -> _Parse:
    """The robust reading of ``text``'s answer part (:func:`._answer_part`); offsets in it are relative to that part."""
    if not isinstance(text, str) or not text.strip():
        return _Parse(UNKNOWN)
    start, end, reasoning = _answer_part(text)
    text = text[start:end]
    structured = _json_verdict(text, question) or _option_verdict(text, question)
    if structured:
        return _Parse(structured)
    return _read_text(text, question, concluding_only=reasoning)
