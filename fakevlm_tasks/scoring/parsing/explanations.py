"""An answer's opening verdict sentence and the evidence after it (what the explanation metrics compare)."""

from __future__ import annotations

import re

from .labels import UNKNOWN
from .robust import _robust

# The opening verdict sentence of FakeClue's answers and close variants: "This is a fake
# image.", "This image is AI-generated.", "**Real.**", "Verdict: fake." A sentence that
# goes on to give a reason ("This is fake because ...") is evidence, and is kept.
_VERDICT_SENTENCE_RE = re.compile(
    r"""^[\s*_>#`]*
    (?:(?:verdict|answer|label|prediction|conclusion)\s*[:\-]\s*[*_]*)?
    (?:(?:(?:this|that|it)(?:\s(?:image|picture|photo(?:graph)?))?|the\s(?:image|picture|photo(?:graph)?))
       (?:\s(?:is|was)|'s|\s(?:appears|seems)\sto\sbe|\slooks\slike)\s)?
    (?:(?:an?|the)\s)?(?:(?:clearly|likely|probably|definitely|most\slikely)\s)?(?:(?:an?)\s)?
    (?:not\s)?(?:real|fake|authentic|genuine|(?:ai|computer)[\s-]generated|generated|synthetic
       |manipulated|forged|tampered|deepfake)
    (?:\s(?:image|picture|photo(?:graph)?))?
    [\s*_`]*(?:[.!]+[*_`]*|\n|$)""",
    re.IGNORECASE | re.VERBOSE,
)


def split_verdict_sentence(text) -> tuple[str, str]:
    """``(verdict_sentence, evidence)``: the answer's opening verdict sentence ("This is
    a real image." and close variants), and the rest, both stripped.

    Text that does not open with one gives ``("", text)``; a non-string gives ``("", "")``.
    Works on answers and references alike.
    """
    if not isinstance(text, str):
        return "", ""
    match = _VERDICT_SENTENCE_RE.match(text)
    if not match or _robust(match.group(0), None) == UNKNOWN:
        return "", text.strip()
    return match.group(0).strip(), text[match.end():].strip()


def evidence_verdict(text) -> str:
    """The verdict the evidence (the text after the opening verdict sentence) argues for,
    read by the robust parser: REAL, FAKE, or UNKNOWN when it argues for neither."""
    return _robust(split_verdict_sentence(text)[1], None)

