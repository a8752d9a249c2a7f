"""verdict_spans: the words of an answer the parser read as its verdict (what the site highlights)."""

from __future__ import annotations

import itertools

import pytest
from parsing_spec import Q_AI, Q_REAL, TABLE

from fakevlm_tasks.scoring.parsing import (
    UNKNOWN,
    parse_verdict,
    parse_verdict_detail,
    verdict_spans,
)


def words(text: str, spans) -> list[str]:
    return [text[a:b] for a, b in spans]


@pytest.mark.parametrize("answer, question, highlighted", [
    ("This is a fake image. The fur is smeared.", None, ["fake"]),
    ("This is a real image. Some regions look unnatural.", None, ["real"]),  # the weak aside decides nothing
    ("It isn't real.", None, ["isn't real"]),  # normalised to "isnt real": found through the alignment
    ("There is no evidence that the image has been manipulated.", None, ["no evidence that the image has been manipulated"]),
    ("Although it looks real, this is a fake image.", None, ["fake"]),  # the concession is not read
    ("I cannot verify the authenticity of this image, but it appears to be AI-generated.", None, ["AI-generated"]),
    ("At first glance it looks real. On closer inspection, it is AI-generated.", None, ["AI-generated"]),
    ("- **Verdict:** it isn't real, it's an A.I. image", None, ["A.I. image"]),  # the cue about the image wins
    ("Yes.", Q_AI, ["Yes"]),
    ("No, it was not taken from the real world.", Q_REAL, ["No", "not taken from the real world"]),
    ("Answer:\nYes", Q_AI, ["Yes"]),
    ("Is this image real? Yes, it is real.", None, ["Yes", "real"]),  # the answer's own question says what yes means
    ('{"verdict": "fake", "confidence": 0.9}', None, ["fake"]),
])
def test_robust_spans_cover_the_words_the_parser_read(answer, question, highlighted):
    assert words(answer, verdict_spans(answer, question=question)) == highlighted


@pytest.mark.parametrize("answer", [
    "这张图片是假的。",  # Chinese is read through an English rewrite: no words of the answer to point at
    "The picture was made by artificial intelligence.",  # rewritten to "ai" before the cues are read
    "Real: 0.12, Fake: 0.88",  # read from the scores, not from a word
    "I cannot verify the authenticity of this image.",  # unknown
    "",
])
def test_robust_spans_are_empty_where_no_word_of_the_answer_holds_the_verdict(answer):
    assert verdict_spans(answer) == []


def test_robust_spans_of_every_spec_answer_are_ordered_disjoint_and_inside_the_text():
    for answer, question, _, _ in TABLE:
        spans = verdict_spans(answer, question=question)
        assert all(0 <= a < b <= len(answer) for a, b in spans), answer
        assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(spans)), answer
        if parse_verdict(answer, question=question) == UNKNOWN:
            assert spans == [], answer


def test_official_span_of_every_spec_answer_is_the_word_that_decided():
    for answer, _, _, _ in TABLE:
        verdict = parse_verdict_detail(answer, mode="fakevlm")
        spans = verdict_spans(answer, mode="fakevlm")
        if verdict.fallback:
            assert spans == [], answer
            continue
        ((a, b),) = spans
        assert answer[a:b].lower() == verdict.label, answer
        assert answer[:a].count(".") <= 1, answer  # in sentence 1 or 2


def test_official_span_prefers_real_in_the_first_sentence_then_looks_at_the_second():
    assert words("Fake or real? Hard to say.", verdict_spans("Fake or real? Hard to say.", mode="fakevlm")) == ["real"]
    text = "Hard to say. It is FAKE. It is real."
    assert verdict_spans(text, mode="fakevlm") == [(text.index("FAKE"), text.index("FAKE") + 4)]
    assert verdict_spans("No verdict here. None here either. Fake.", mode="fakevlm") == []


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown parse mode"):
        verdict_spans("fake", mode="other")


def test_spans_for_a_logged_verdict_the_parser_does_not_read_now_are_empty():
    text = "This is a fake image. The fur is smeared."
    assert verdict_spans(text, label="fake") == verdict_spans(text) == [(10, 14)]
    assert verdict_spans(text, label="real") == []  # e.g. a judge's verdict: no word of the answer says it
    assert verdict_spans(text, mode="fakevlm", label="fake") == [(10, 14)]
    assert verdict_spans(text, mode="fakevlm", label="real") == []
