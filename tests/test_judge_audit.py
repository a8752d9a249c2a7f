"""The judge audit (``FAKEVLM_JUDGE_AUDIT``): a seeded share of the answers the rules decided is read by the judge
too, against the local OpenAI-compatible server of tests/test_judge.py, and ``rules_judge_agreement`` (with its n,
``rules_judge_audited``) says how often the two agree."""

from __future__ import annotations

import pytest

from judge_server import point_judge_at


from fakevlm_tasks import hooks
from fakevlm_tasks.scoring.parsing import FAKE, REAL
from fakevlm_tasks.services import judge

QUESTION = "Does the image looks real/fake?"
FAKE_ANSWER = "This is a fake image. The fur is smeared."
REAL_ANSWER = "This is a real image. The lighting is natural."


@pytest.fixture
def audit_env(monkeypatch, tmp_path):
    """Judge mode against a server, auditing ``share`` of the decided answers."""

    def point(server, share: str):
        monkeypatch.setenv(hooks.PARSE_MODE_ENV, "judge")
        point_judge_at(monkeypatch, server, tmp_path / "judge.sqlite")
        monkeypatch.setenv(judge.AUDIT_ENV, share)

    return point


def doc(i, label=FAKE):
    return {"id": f"doc-{i}", "image": "/nowhere.png", "label": label, "category": "c", "question": QUESTION}


def test_the_audited_share_is_seeded_by_the_doc_id():
    ids = [f"fakeclue/{i}" for i in range(4000)]
    picked = [i for i in ids if judge.audited(i, 0.05)]
    assert picked == [i for i in ids if judge.audited(i, 0.05)]  # the same on every run
    assert 150 < len(picked) < 250  # about 5 %
    assert set(picked) <= {i for i in ids if judge.audited(i, 0.2)}  # a larger share audits a superset
    assert not any(judge.audited(i, 0) for i in ids) and all(judge.audited(i, 1) for i in ids)


@pytest.mark.parametrize("raw, share", [(None, 0.0), ("", 0.0), ("0.05", 0.05), ("1", 1.0)])
def test_the_share_is_read_from_the_environment(raw, share):
    assert judge.audit_share({} if raw is None else {judge.AUDIT_ENV: raw}) == share


@pytest.mark.parametrize("raw", ["five percent", "1.5", "-0.1"])
def test_a_share_outside_zero_to_one_names_the_variable(raw):
    with pytest.raises(ValueError, match=judge.AUDIT_ENV):
        judge.audit_share({judge.AUDIT_ENV: raw})


def test_without_an_audit_a_decided_answer_is_not_sent(serve, audit_env):
    server = serve({None: ["real"]})
    audit_env(server, "0")
    record = hooks.detection_record(doc(0), [FAKE_ANSWER])
    assert server.requests == 0
    assert (record["verdict"], record["judge_audit"], record["rules_judge_agree"]) == (FAKE, False, None)


def test_an_audited_answer_keeps_the_rules_verdict_and_records_whether_the_judge_agrees(serve, audit_env):
    server = serve({FAKE_ANSWER: ["fake"], REAL_ANSWER: ["fake"]})
    audit_env(server, "1")
    agreed = hooks.detection_record(doc(0), [FAKE_ANSWER])
    disagreed = hooks.detection_record(doc(1, REAL), [REAL_ANSWER])
    assert server.requests == 2
    assert (agreed["verdict"], agreed["verdict_source"], agreed["judge_verdict"], agreed["rules_judge_agree"]) == (
        FAKE, "rules", FAKE, True)
    assert (disagreed["verdict"], disagreed["judge_verdict"], disagreed["rules_judge_agree"]) == (REAL, FAKE, False)
    assert disagreed["judge_audit"] is True  # the sample lists the disagreement


def test_a_judge_that_reads_no_verdict_where_the_rules_did_disagrees(serve, audit_env):
    server = serve({FAKE_ANSWER: ["unknown"]})
    audit_env(server, "1")
    assert hooks.detection_record(doc(0), [FAKE_ANSWER])["rules_judge_agree"] is False


def test_a_judge_failure_is_no_disagreement_and_counts_in_no_n(serve, audit_env):
    server = serve({FAKE_ANSWER: [500]})
    audit_env(server, "1")
    record = hooks.detection_record(doc(0), [FAKE_ANSWER])
    assert record["rules_judge_agree"] is None and record["judge_failure"]
    assert hooks.agg_rules_judge_audited([record]) == 0


def test_unknown_answers_still_go_to_the_judge_for_a_verdict(serve, audit_env):
    server = serve({"Hmm the lighting is odd": ["real"]})
    audit_env(server, "1")
    record = hooks.detection_record(doc(0), ["Hmm the lighting is odd"])
    assert (record["verdict"], record["verdict_source"], record["rules_judge_agree"]) == (REAL, "judge", None)


def test_agreement_and_its_n_per_task(serve, audit_env):
    answers = {f"This is a fake image. Reason {i}.": ["fake" if i < 3 else "real"] for i in range(4)}
    server = serve(answers)
    audit_env(server, "1")
    records = [hooks.detection_record(doc(i), [a]) for i, a in enumerate(answers)]
    records.append(hooks.detection_record(doc(9), [""]))  # a failed answer is never sent
    assert server.requests == 4
    assert hooks.agg_rules_judge_agreement(records) == pytest.approx(75.0)
    assert hooks.agg_rules_judge_audited(records) == 4


def test_with_nothing_audited_the_agreement_is_none():
    assert hooks.agg_rules_judge_agreement([{"rules_judge_agree": None}]) is None
    assert hooks.agg_rules_judge_audited([{"rules_judge_agree": None}]) == 0
