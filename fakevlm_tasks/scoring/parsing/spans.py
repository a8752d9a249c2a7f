"""Where an answer states the verdict the parser reads (what the results site highlights)."""

from __future__ import annotations

import difflib

from .cues import _clause_start, _Cue, _negating
from .fields import _answer_part
from .labels import MODES, UNKNOWN
from .normalise import _normalise
from .official import _official_word
from .robust import _robust_parse
from .sentences import _LABEL_RE, _YES_NO_RE, _read_statements, _yes_no_label
from .text import _Parse, _split, _statements


def verdict_spans(text, mode: str = "robust", question=None, label: str | None = None) -> list[tuple[int, int]]:
    """Where ``text`` states the verdict the parser reads: sorted, disjoint ``(start, end)`` spans of ``text``.

    fakevlm mode: the one "real" or "fake" that decided; none when the coin flip did. Robust
    mode: in each sentence read as the verdict, the cues it was read from (with the negation
    that turned them: "isn't real", "no sign of manipulation"), and a yes/no that means the
    verdict (opening the answer or after "Answer:"); none for UNKNOWN. Where the answer has an
    answer field (``<answer> fake </answer>``) the spans lie in it. The rules read a
    normalised copy of the text (lower-cased, Chinese rewritten as English); words the
    normalisation rewrote get no span, so Chinese answers, verdicts read from per-class scores
    or option letters, and a verdict read off a first impression ("At first it looks real. On
    closer inspection ...") have none. ``label``: the verdict a caller logged; the spans are
    empty unless the parser reads that verdict now. It reads the parser's own functions and
    changes no verdict.
    """
    if mode not in MODES:
        raise ValueError(f"unknown parse mode {mode!r}; expected one of {MODES}")
    if mode == "fakevlm":
        decided = _official_word(text)
        return [decided[1]] if decided and decided[1] and label in (None, decided[0]) else []
    parsed = _robust_parse(text, question)
    if parsed.label == UNKNOWN or label not in (None, parsed.label):
        return []
    part_start, part_end, _ = _answer_part(text)  # what the parser read: an answer field, say
    text = text[part_start:part_end]
    parsed = _spelled_out(parsed, text, question)
    found = [[(at, at + len(word))] for at, word in _yes_nos(parsed.sentences)
             if _yes_no_label(word, parsed.yes_means) == parsed.label]
    for (offset, sentence), reading in zip(parsed.statements, parsed.readings):
        if reading.label == parsed.label:
            start = offset + reading.read_from
            found += [[(start + a, start + b) for a, b in _cue_tries(sentence[reading.read_from:], cue)] for cue in reading.cues]
    locate = _locator(text, parsed.normalised)
    located = (next((span for span in (locate(*t) for t in tries) if span), None) for tries in found)
    return [(part_start + a, part_start + b) for a, b in _merged([span for span in located if span is not None])]


def _spelled_out(parsed: _Parse, text: str, question) -> _Parse:
    """``parsed`` with its sentences read too where a label, per-class scores or the answer's structure decided."""
    if parsed.readings is not None:
        return parsed
    normalised, sentences, yes_means = _split(text, question)
    statements, _ = _statements(sentences, yes_means)
    return _Parse(parsed.label, normalised, sentences, yes_means, tuple(statements),
                  tuple(_read_statements([s for _, s in statements])))


def _yes_nos(sentences) -> list[tuple[int, str]]:
    """The yes/no words the parser may read, with their offsets in the normalised text: opening the first
    statement, and opening what follows an "Answer:" label (or the next sentence, after a bare label)."""
    statements = [(offset, s) for offset, s, is_question in sentences if not is_question]
    starts = [statements[0]] if statements else []
    for i, (offset, sentence, _) in enumerate(sentences):
        for label in _LABEL_RE.finditer(sentence):
            rest = sentence[label.end():]
            if rest.strip(" ,:-"):
                starts.append((offset + len(sentence) - len(rest.lstrip(" ,:-")), rest.lstrip(" ,:-")))
            elif i + 1 < len(sentences):
                starts.append(sentences[i + 1][:2])
    return [(at, match.group("word")) for at, content in starts if (match := _YES_NO_RE.match(content))]


def _cue_tries(sentence: str, cue: _Cue) -> list[tuple[int, int]]:
    """The spans to try for a cue: with the nearest negation that turned it first, then the cue alone (if not negated)."""
    if cue.raw == cue.label:
        return [(cue.start, cue.end)]
    negating = _negating(sentence, _clause_start(sentence, cue.start), cue.start)
    return [(negating[-1].start(), cue.end)] if negating else []


def _locator(text: str, normalised: str):
    """A function from a span of the normalised text to the same words' span in ``text``, or None where the
    normalisation rewrote them. Where it only lower-cased the text, or blanked markup characters, up to the span,
    the place is the same; elsewhere the two texts are aligned (difflib), and the words found there must
    normalise to the same words."""
    lowered = text.lower()
    blocks = []

    def through(position: int) -> int | None:
        return next((i + position - j for i, j, n in blocks if j <= position < j + n), None)

    def locate(start: int, end: int) -> tuple[int, int] | None:
        if len(lowered) != len(text):  # lower-casing changed the length: positions cannot be told
            return None
        if all(x == y or y == " " for x, y in zip(lowered[:end], normalised[:end])) and end <= len(lowered):
            return start, end
        if not blocks:
            blocks.extend(difflib.SequenceMatcher(None, lowered, normalised, autojunk=False).get_matching_blocks())
        first, last = through(start), through(end - 1)
        if first is None or last is None or first > last:
            return None
        # Aligned ends can straddle a rewrite ("created by ai" against "created by artificial intelligence").
        return (first, last + 1) if _normalise(text[first:last + 1]).strip() == normalised[start:end] else None

    return locate


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
