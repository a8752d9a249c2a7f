"""The robust parser on answers real models wrote (tests/data/real_answers.jsonl): each with its source, the
question it answered, and what a careful reader concludes; the accuracy per model and per class is printed."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from fakevlm_tasks.scoring.parsing import FAKE, REAL, UNKNOWN, parse_verdict

CORPUS = Path(__file__).parent / "data" / "real_answers.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
# The classes issue 22 names; "plain" is an answer that shows none of them.
CLASSES = ("rather-than", "answer-field", "reasoning-tags", "long-negation", "rendering", "undecided")
# The accuracy the rules reach on the corpus today (181 of 184); a change that reads fewer right fails here.
FLOOR = 0.98
# Answers in the issue's classes that the rules still misread, and why: each is a failure the test expects
# (strict xfail), and reports once fixed. None today.
KNOWN_MISSES: dict[int, str] = {}


def _prompt(row):
    """What the model was asked: the source's system prompt (where it sent one) before the question."""
    parts = [part for part in (row.get("system"), row["question"]) if part]
    return "\n\n".join(parts) or None


def _read(row) -> str:
    return parse_verdict(row["answer"], question=_prompt(row))


READ = {row["id"]: _read(row) for row in ROWS}


def test_corpus_holds_at_least_150_answers_from_at_least_6_models():
    assert len(ROWS) >= 150
    assert len({row["model"] for row in ROWS}) >= 6


@pytest.mark.parametrize("row", ROWS, ids=[str(row["id"]) for row in ROWS])
def test_every_answer_names_its_model_source_question_and_label(row):
    assert row["model"] and row["answer"].strip()
    assert row["label"] in (REAL, FAKE, UNKNOWN)
    source = row["source"]
    assert ("repo" in source and "path" in source and "commit" in source) or "paper" in source or "issue" in source
    assert "question" in row  # None where the source does not give the prompt
    assert row.get("system") is None or row["system"].strip()  # the system prompt, where the source sent one
    assert set(row["classes"]) <= set(CLASSES)


def test_accuracy_per_model_and_per_class_is_reported_and_above_the_floor(record_property):
    per_model, per_class = defaultdict(Counter), defaultdict(Counter)
    for row in ROWS:
        right = READ[row["id"]] == row["label"]
        per_model[row["model"]][right] += 1
        for name in row["classes"] or ["plain"]:
            per_class[name][right] += 1
    right = sum(READ[row["id"]] == row["label"] for row in ROWS)
    lines = [f"robust parser on {len(ROWS)} real answers: {right}/{len(ROWS)} = {right / len(ROWS):.1%}"]
    for title, table in (("model", per_model), ("class", per_class)):
        for name, counts in sorted(table.items(), key=lambda item: -sum(item[1].values())):
            n = sum(counts.values())
            lines.append(f"  {title} {name:44s} {counts[True]:3d}/{n:<3d} {counts[True] / n:6.1%}")
    record_property("report", "\n".join(lines))  # printed at the end of the run (conftest.py)
    assert right / len(ROWS) >= FLOOR


def _cases(rows):
    return [pytest.param(r, id=str(r["id"]), marks=pytest.mark.xfail(reason=KNOWN_MISSES[r["id"]], strict=True))
            if r["id"] in KNOWN_MISSES else pytest.param(r, id=str(r["id"])) for r in rows]


@pytest.mark.parametrize("row", _cases([r for r in ROWS if r["label"] == UNKNOWN]))
def test_no_undecided_answer_is_read_as_a_verdict(row):
    assert READ[row["id"]] == UNKNOWN


INVERTIBLE = [r for r in ROWS if r["label"] != UNKNOWN and set(r["classes"]) & set(CLASSES)]


@pytest.mark.parametrize("row", _cases(INVERTIBLE))
def test_no_verdict_in_the_issue_classes_is_read_as_its_opposite(row):
    assert READ[row["id"]] in (row["label"], UNKNOWN)
