"""Reasoning models' answers: the verdict a model writes in its answer field (``<answer> fake </answer>``,
``\\boxed{real}``) outranks the reasoning it wrote to get there, and a reasoning block (``<think>...</think>``)
is read only when nothing follows it (an answer cut off mid-thought)."""

from __future__ import annotations

import re

_ANSWER_FIELD_RE = re.compile(r"<answer>(?P<body>.*?)(?:</answer>|$)", re.DOTALL | re.IGNORECASE)
_BOXED_RE = re.compile(r"\\boxed\{(?P<body>[^{}]*)\}")
_REASONING_END_RE = re.compile(r"</(?:think|thinking|reasoning|analysis)>", re.IGNORECASE)
_REASONING_START_RE = re.compile(r"<(?:think|thinking|reasoning|analysis)>", re.IGNORECASE)


def _answer_part(text: str) -> tuple[int, int, bool]:
    """``(start, end, reasoning)``: where in ``text`` the answer is stated (the last non-blank answer field, else
    what follows the last reasoning block, else all of it) and whether that is a reasoning block read because
    nothing follows it."""
    for pattern in (_ANSWER_FIELD_RE, _BOXED_RE):
        fields = [m for m in pattern.finditer(text) if m.group("body").strip()]
        if fields:
            return (*fields[-1].span("body"), False)
    ends = list(_REASONING_END_RE.finditer(text))
    if ends and text[ends[-1].end():].strip():
        return ends[-1].end(), len(text), False
    if ends:
        return 0, ends[-1].start(), True
    return 0, len(text), bool(_REASONING_START_RE.search(text))


def answer_start(text: str) -> int:
    """Where in ``text`` the answer the robust mode reads begins (see :func:`_answer_part`): after the last reasoning
    block, or at the answer field; 0 for an answer with neither, or one that is all reasoning (cut off mid-thought).
    The adapter reads its verdict score at the first "real"/"fake" token from here, not inside the reasoning."""
    if not isinstance(text, str):
        return 0
    start, _, reasoning = _answer_part(text)
    return 0 if reasoning else start
