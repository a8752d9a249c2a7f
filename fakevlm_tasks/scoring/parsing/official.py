"""The official FakeVLM rule (its evaluation script's), with its unseeded random fallback replaced by a coin
flip seeded from the text."""

from __future__ import annotations

import hashlib
import re

from .labels import FAKE, REAL, Verdict


def _official(text) -> Verdict:
    """The official rule: 'real' then 'fake' as substrings of sentence 1, then sentence 2.

    Where the official script would raise (no second sentence, not a string) the answer is
    treated like any other undecided one: it gets the coin flip.
    """
    decided = _official_word(text)
    return Verdict(decided[0]) if decided else Verdict(_coin_flip(text), fallback=True)


def _official_word(text) -> tuple[str, tuple[int, int] | None] | None:
    """The official rule's decision and where it read it: the first "real" (then "fake") as a substring of
    sentence 1, then of sentence 2 (split on "."), as ``(label, (start, end))``; None when neither decides.
    The span is None in the rare text whose lower-casing changes its length and hides the word's place."""
    if not isinstance(text, str):
        return None
    offset = 0
    for sentence in text.split(".")[:2]:
        lowered = sentence.lower()
        for label in (REAL, FAKE):
            at = lowered.find(label)
            if at < 0:
                continue
            if len(lowered) == len(sentence):
                return label, (offset + at, offset + at + len(label))
            found = re.search(label, sentence, re.IGNORECASE)
            return label, (offset + found.start(), offset + found.end()) if found else None
        offset += len(sentence) + 1
    return None


def _coin_flip(text) -> str:
    """A fair, reproducible coin: the low bit of the SHA-256 of the text."""
    key = text if isinstance(text, str) else repr(text)
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return REAL if digest[0] & 1 else FAKE
