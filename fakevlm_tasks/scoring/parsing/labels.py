"""The three verdicts, the two parse modes, and the result of one parse."""

from __future__ import annotations

from dataclasses import dataclass

REAL, FAKE, UNKNOWN = "real", "fake", "unknown"
MODES = ("robust", "fakevlm")

_OPPOSITE = {REAL: FAKE, FAKE: REAL}


@dataclass(frozen=True)
class Verdict:
    """The result of one parse.

    ``label`` is REAL, FAKE or UNKNOWN. ``fallback`` is True only in ``mode="fakevlm"``
    when neither of the first two sentences decided and the (text-seeded) coin flip did.
    """

    label: str
    fallback: bool = False
