"""Verdict parsing, as a specification: one table of answers and what a reader concludes."""

from __future__ import annotations

import pytest
from parsing_spec import (
    Q_AI,
    QUESTION_NAMES,
    REAL_MODEL_STYLES,
    SCALE_0_REAL,
    SCALED_SCORES,
    TABLE,
    WRONG,
)

from fakevlm_tasks.scoring.parsing import (
    FAKE,
    REAL,
    UNKNOWN,
    Verdict,
    evidence_verdict,
    parse_verdict,
    parse_verdict_detail,
    split_verdict_sentence,
)


def _case_id(row) -> str:
    answer, question, _, _ = row
    asked = "" if question is None else f" [{QUESTION_NAMES[question]}]"
    return (answer[:48] + asked).replace("\n", "/")


@pytest.mark.parametrize("answer, question, expected, _note", TABLE, ids=[_case_id(r) for r in TABLE])
def test_robust_mode_reads_what_a_person_reads(answer, question, expected, _note):
    assert parse_verdict(answer, question=question) == expected


@pytest.mark.parametrize("answer, expected", REAL_MODEL_STYLES, ids=[a[:48].replace("\n", "/") for a, _ in REAL_MODEL_STYLES])
def test_robust_mode_reads_the_styles_real_models_write(answer, expected):
    assert parse_verdict(answer) == expected


@pytest.mark.parametrize("question, answer, expected", SCALED_SCORES,
                         ids=[f"{a[-40:]} [{(q or 'no question')[:24]}]".replace("\n", "/") for q, a, _ in SCALED_SCORES])
def test_a_score_line_that_contradicts_the_questions_scale_is_settled_by_the_rest_or_unknown(question, answer, expected):
    assert parse_verdict(answer, question=question) == expected


@pytest.mark.parametrize("question, low, high, low_label", [
    (SCALE_0_REAL, 0, 10, REAL),
    ("Rate 1 (real) to 10 (fake).", 1, 10, REAL),
    ("Give a score from 0 to 100 where 0 means AI-generated and 100 means authentic.", 0, 100, FAKE),
])
def test_the_scale_a_question_defines_is_read(question, low, high, low_label):
    from fakevlm_tasks.scoring.parsing.scale import Scale, _scale

    assert _scale(question) == Scale(low, high, low_label)


@pytest.mark.parametrize("question", [None, "Is this image real or fake?", "Score it 0-10.",
                                      "Rate 0 = real, 10 = real.", "Anything above 4 is likely AI generated."])
def test_a_question_that_names_no_two_opposite_ends_defines_no_scale(question):
    from fakevlm_tasks.scoring.parsing.scale import _scale

    assert _scale(question) is None


def test_table_has_at_least_60_distinct_answers():
    assert len({row[0] for row in TABLE}) >= 60


@pytest.mark.parametrize("text", [None, "", "   \n", 3, b"fake", ["fake"]])
def test_robust_mode_gives_unknown_for_missing_or_non_string_answers(text):
    assert parse_verdict_detail(text) == Verdict(UNKNOWN)


def test_robust_mode_is_the_default_and_never_falls_back():
    assert all(not parse_verdict_detail(a, question=q).fallback for a, q, _, _ in TABLE)


# --------------------------------------------------------------------------- fakevlm mode


def official_rule(response: str) -> str | None:
    """The official rule as docs/protocol.md ("The official rule") states it; None where it would call random.choice."""
    parts = response.split(".")
    first = parts[0].lower()
    if "real" in first:
        return REAL
    if "fake" in first:
        return FAKE
    if len(parts) > 1:
        second = parts[1].lower()
        if "real" in second:
            return REAL
        if "fake" in second:
            return FAKE
    return None


DECIDED = [row for row in TABLE if official_rule(row[0]) is not None]


@pytest.mark.parametrize("answer, question, _expected, _note", DECIDED, ids=[_case_id(r) for r in DECIDED])
def test_fakevlm_mode_matches_the_official_rule_where_it_decides(answer, question, _expected, _note):
    assert parse_verdict_detail(answer, mode="fakevlm", question=question) == Verdict(official_rule(answer))


def test_rows_marked_wrong_are_exactly_where_the_official_rule_disagrees_with_a_reader():
    disagree = {a for a, _, expected, _ in DECIDED if official_rule(a) != expected}
    marked = {a for a, _, _, note in TABLE if note == WRONG}
    assert marked == disagree


def test_fakevlm_mode_flags_its_coin_flip():
    undecided = [a for a, _, _, _ in TABLE if official_rule(a) is None]
    assert undecided, "the table should exercise the fallback"
    for answer in undecided:
        verdict = parse_verdict_detail(answer, mode="fakevlm")
        assert verdict.fallback and verdict.label in (REAL, FAKE)


def test_fakevlm_coin_flip_is_reproducible_and_fair():
    texts = [f"The image shows object number {i}" for i in range(2000)]
    first = [parse_verdict(t, mode="fakevlm") for t in texts]
    assert first == [parse_verdict(t, mode="fakevlm") for t in texts]
    assert 900 < first.count(REAL) < 1100


def test_fakevlm_mode_tests_real_before_fake_as_substrings():
    assert parse_verdict("Fake, not real.", mode="fakevlm") == REAL
    assert parse_verdict("Surreal fakery", mode="fakevlm") == REAL


def test_fakevlm_mode_reads_only_the_first_two_sentences():
    verdict = parse_verdict_detail("The cat sits. The sun shines. It is fake.", mode="fakevlm")
    assert verdict.fallback


@pytest.mark.parametrize("text", [None, "", 7])
def test_fakevlm_mode_flips_the_coin_for_missing_answers(text):
    assert parse_verdict_detail(text, mode="fakevlm").fallback


def test_fakevlm_mode_ignores_the_question():
    assert parse_verdict("Yes.", mode="fakevlm", question=Q_AI) == parse_verdict("Yes.", mode="fakevlm")


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        parse_verdict("fake", mode="strict")



# --------------------------------------------------------------------------- explanations


@pytest.mark.parametrize("text, sentence, evidence", [
    ("This is a fake image. The fur is overly smooth.", "This is a fake image.", "The fur is overly smooth."),
    ("This is a real image.\nThe lighting is consistent.", "This is a real image.", "The lighting is consistent."),
    ("**This is a fake image.** Warped text.", "**This is a fake image.**", "Warped text."),
    ("This image is AI-generated. Six fingers.", "This image is AI-generated.", "Six fingers."),
    ("It's a real photo! Natural grain.", "It's a real photo!", "Natural grain."),
    ("The image is clearly fake.\n\nThe text is garbled.", "The image is clearly fake.", "The text is garbled."),
    ("This image is not real. It shows six fingers.", "This image is not real.", "It shows six fingers."),
    ("Verdict: fake. The shadows disagree.", "Verdict: fake.", "The shadows disagree."),
    ("Real.", "Real.", ""),
])
def test_split_verdict_sentence_takes_off_the_opening_verdict(text, sentence, evidence):
    assert split_verdict_sentence(text) == (sentence, evidence)


@pytest.mark.parametrize("text", [
    "This is fake because the fur is too smooth.",  # the reason is evidence
    "The fur looks fake. The rest is fine.",  # a detail, not the verdict
    "This is a photo of a cat on a sofa.",
    "Real image, no manipulation detected.",
    "  The lighting is warm.  ",
])
def test_split_verdict_sentence_keeps_text_without_an_opening_verdict(text):
    assert split_verdict_sentence(text) == ("", text.strip())


@pytest.mark.parametrize("text", [None, 3, ""])
def test_split_verdict_sentence_of_no_text_is_empty(text):
    assert split_verdict_sentence(text) == ("", "")


@pytest.mark.parametrize("text, expected", [
    ("This is a real image. The lighting is consistent and there are no signs of manipulation.", REAL),
    ("This is a fake image. The hands show clear signs of AI generation.", FAKE),
    ("This is a real image. However, the face shows traces of a face swap.", FAKE),  # argues against its verdict
    ("This is a fake image. The fur on the cat's back is overly smooth.", UNKNOWN),  # argues neither
    ("This is a fake image.", UNKNOWN),  # no evidence at all
    ("The texture is unnatural.", FAKE),  # no verdict sentence: all of it is evidence
    (None, UNKNOWN),
])
def test_evidence_verdict_reads_what_the_evidence_argues_for(text, expected):
    assert evidence_verdict(text) == expected
