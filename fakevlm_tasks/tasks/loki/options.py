"""Multiple-choice answers read as LOKI reads them (its copy of MMMU's option rules), with its
random fallback replaced by a choice seeded from the question's id. Pure: no I/O, no lmms-eval.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: What LOKI strips, one character at a time and in this order, from both ends of an answer.
_EDGE_PUNCTUATION = (",", ".", "!", "?", ";", ":", "'")

#: Which rule decided, in the order they are tried (docs/protocol.md, "LOKI's multiple choice (loki_mc)").
RULES = ("bracket", "bold", "letter", "letter_dot", "option_text", "content", "fallback")


@dataclass(frozen=True)
class OptionChoice:
    """The option an answer picks.

    ``pick`` is what LOKI's rule returns: an option letter, except under ``option_text``,
    where LOKI's code returns the option's text itself (so the answer is scored wrong, as
    LOKI scores it). ``rule`` is the rule in :data:`RULES` that decided; ``fallback`` is
    True when none did and the seeded choice picked a letter.
    """

    pick: str
    rule: str

    @property
    def fallback(self) -> bool:
        return self.rule == "fallback"


def option_letters(n: int) -> list[str]:
    """``A``, ``B``, ... for ``n`` options."""
    return [chr(ord("A") + i) for i in range(n)]


def format_options(options) -> str:
    """The options as LOKI lists them in the prompt: ``A. <text>`` per line, a leading
    ``A.`` already in the text removed."""
    return "\n".join(f"{letter}. {text.replace(letter + '.', '').strip()}"
                     for letter, text in zip(option_letters(len(options)), options))


def seeded_letter(letters, seed: str) -> str:
    """A letter chosen uniformly by the SHA-256 of ``seed``: the same seed, the same letter."""
    digest = int.from_bytes(hashlib.sha256(str(seed).encode()).digest()[:8], "big")
    return letters[digest % len(letters)]


def parse_option(answer, options, seed: str) -> OptionChoice:
    """The option ``answer`` picks among ``options`` (their texts, lettered from A).

    LOKI's rules, in order: strip :data:`_EDGE_PUNCTUATION` from both ends and pad the
    answer with a space each side; letters in brackets ``(A)`` and in bold ``**A**`` (both
    searched); else a letter followed by a space; else a letter followed by ``.``; else an
    option's exact text (case-sensitive; LOKI then returns the text, not its letter); else,
    for an answer of more than five words, an option's text in any case. Several
    candidates: the one whose mark appears last. None: a letter chosen by ``seed`` (LOKI
    draws an unseeded random one). A non-string answer reads as empty.
    """
    text = answer if isinstance(answer, str) else ""
    for char in _EDGE_PUNCTUATION:
        text = text.strip(char)
    text = f" {text} "
    letters = option_letters(len(options))
    by_letter = dict(zip(letters, options))

    bracketed = [x for x in letters if f"({x})" in text]
    bold = [x for x in letters if f"**{x}**" in text]
    if bracketed or bold:
        mark = "({})" if bracketed else "**{}**"
        return _last(bracketed + bold, lambda x: text.rfind(mark.format(x)), "bracket" if bracketed else "bold")
    for rule, mark in (("letter", "{} "), ("letter_dot", "{}.")):
        found = [x for x in letters if mark.format(x) in text]
        if found:
            return _last(found, lambda x: text.rfind(f" {x} "), rule)
    quoted = [body for body in options if body in text]
    if quoted:
        return _last(quoted, lambda body: text.rfind(f" {body} "), "option_text")
    if len(text.split()) > 5:
        lowered = text.lower()
        named = [x for x in letters if by_letter[x].lower() in lowered]
        if named:
            return _last(named, lambda x: lowered.rfind(by_letter[x].lower()), "content")
    return OptionChoice(seeded_letter(letters, seed), "fallback")


def _last(candidates: list[str], position, rule: str) -> OptionChoice:
    """The candidate whose mark lies furthest right; the first listed among equals (numpy's argmax, as LOKI)."""
    best = max(range(len(candidates)), key=lambda i: (position(candidates[i]), -i))
    return OptionChoice(candidates[best], rule)
