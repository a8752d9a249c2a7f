"""loki_explain: LOKI's rubric for explanations of its fake images, graded by a judge that sees the
image, the annotated regions and the answer (a local server here), off without a judge; run
through the lmms-eval CLI with the dummy model and the tiny LLaVA."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from fakevlm_tasks.services import judge
from fakevlm_tasks.tasks.loki import explain, prepare as loki_prepare, rubric
from fakevlm_tasks.tasks.loki.rubric import CRITERIA, Region, RubricItem, RubricScores, build_messages, grade
from fakevlm_tasks.glue.sample import Answer
from lmms_runs import data_dir, prepare
from loki_runs import DUMMY_ANSWER, REAL_LIMIT, RUBRIC, RUBRIC_REPLY, loki_run
from judge_server import config_for

GRADES = {c: float(s) for c, s in RUBRIC.items()}


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "fake.png"
    Image.new("RGB", (2000, 1000), (10, 200, 30)).save(path)
    return path


def item(image, answer="The left hand has six fingers.", regions=((100, 50, 300, 200), (5000, 5000, 10, 10))):
    return RubricItem(answer, image, ("The lighting is flat.", ""), tuple(Region(box, f"note {k}") for k, box in enumerate(regions)))


def decoded(part) -> Image.Image:
    header, data = part["image_url"]["url"].split(",", 1)
    assert header == "data:image/jpeg;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


# ------------------------------------------------------------------ what the judge sees


def test_the_judge_sees_the_image_the_answer_the_notes_and_each_regions_box_note_and_crop(image):
    system, user = build_messages(item(image))
    assert system["role"] == "system" and user["role"] == "user"
    pictures = [p for p in user["content"] if p["type"] == "image_url"]
    whole, crop = (decoded(p) for p in pictures)  # the second box lies outside the image: no crop
    assert whole.size == (1024, 512)  # shrunk to 1,024 pixels on its longest side
    assert crop.size == (300, 200)  # the box's width and height, at full resolution
    text = "".join(p.get("text", "") for p in user["content"])
    assert "<<<\nThe left hand has six fingers.\n>>>" in text and "<<<\nThe lighting is flat.\n>>>" in text
    assert "Region 1, box (100, 50, 300, 200): note 0" in text
    assert "Region 2, box (5000, 5000, 10, 10): note 1\n(the box lies outside the image: no crop)" in text
    assert all(f"{c} -" in text for c in CRITERIA) and "from 0 (worst) to 5 (best)" in text
    assert user["content"][1] is pictures[0]  # the image comes right after the introduction


def test_no_notes_and_no_regions_are_said_so(image):
    text = "".join(p.get("text", "") for p in build_messages(RubricItem("x", image))[1]["content"])
    assert "<<<\n(none given)\n>>>" in text and "(no region was annotated)" in text


@pytest.mark.parametrize("reply, expected", [
    (RUBRIC_REPLY, GRADES),
    ('```json\n{"overall": 5, "completeness": 0, "correctness": 2.5, "plausibility": {"score": 1}}\n```',
     {"overall": 5.0, "completeness": 0.0, "correctness": 2.5, "plausibility": 1.0}),
    ('{"overall": 6, "completeness": 0, "correctness": 2, "plausibility": 1}', None),   # off the scale
    ('{"overall": 3, "completeness": 0, "correctness": 2}', None),                      # a criterion missing
    ('{"overall": true, "completeness": 0, "correctness": 2, "plausibility": 1}', None),
    ('{"overall": "3", "completeness": 0, "correctness": 2, "plausibility": 1}', None),
    ("Overall 3, completeness 2", None), ("[3, 2, 4, 1]", None), (None, None),
])
def test_the_reply_must_grade_every_criterion_from_0_to_5(reply, expected):
    assert rubric.parse_reply(reply) == expected


# ------------------------------------------------------------------ asking the judge


def test_grades_come_back_and_a_second_run_answers_from_the_cache(serve, tmp_path, image):
    server = serve({"The left hand has six fingers.": [RUBRIC_REPLY]})
    config = config_for(server, tmp_path)
    (first,) = grade([item(image)], config)
    assert first == RubricScores(GRADES, False, None, RUBRIC_REPLY) and first.total == 10.0
    (body,) = server.bodies
    assert body["max_tokens"] == config.rubric_max_tokens and body["temperature"] == 0
    (again,) = grade([item(image)], config)
    assert again.scores == GRADES and again.from_cache and server.requests == 1


def test_an_empty_answer_or_an_unreadable_image_is_not_sent(serve, tmp_path, image):
    server = serve({None: [RUBRIC_REPLY]})
    empty, unreadable = grade([item(image, answer="  "), item(tmp_path / "gone.png")], config_for(server, tmp_path))
    assert empty == RubricScores(None, failure="empty answer")
    assert unreadable.scores is None and unreadable.failure.startswith("image unreadable:")
    assert server.requests == 0


def test_a_malformed_reply_or_a_server_error_gives_no_grade_and_the_error_is_asked_again(serve, tmp_path, image):
    server = serve({"Rambles.": ["I would give it a 3."], "Unlucky.": [503]})
    config = config_for(server, tmp_path, retries=0)
    rambles, unlucky = grade([item(image, "Rambles."), item(image, "Unlucky.")], config)
    assert rambles.scores is None and rambles.failure == "malformed reply: 'I would give it a 3.'"
    assert unlucky.scores is None and unlucky.failure == "HTTP 503 after 1 attempt"
    grade([item(image, "Unlucky.")], config)
    assert server.calls["Unlucky."] == 2 and server.calls["Rambles."] == 1


# ------------------------------------------------------------------ the task's record and metrics


@pytest.fixture
def explain_doc(image):
    return {"id": "oe1", "image": str(image), "overall_notes": ["The lighting is flat."],
            "regions": [{"box": [100, 50, 300, 200], "note": "Six fingers."}]}


@pytest.fixture
def judge_env(monkeypatch, tmp_path):
    def point(server):
        for name, value in (("MODEL", "judge-test"), ("BASE_URL", server.base_url), ("CACHE", str(tmp_path / "j.sqlite")),
                            ("RETRY_DELAY", "0"), ("RETRIES", "0"), ("API_KEY_ENV", "FAKEVLM_TEST_NO_SUCH_KEY")):
            monkeypatch.setenv(f"FAKEVLM_JUDGE_{name}", value)

    monkeypatch.delenv("FAKEVLM_JUDGE_MODEL", raising=False)
    return point


def test_without_a_judge_nothing_is_graded_and_every_rubric_metric_says_why(explain_doc, judge_env, caplog_loguru):
    out = explain.process_results(explain_doc, ["The hand has six fingers."])
    assert set(out) == {m.name for m in explain.METRICS}
    record = out["rubric_total"]
    assert record["rubric"] is None and record["judge_model"] is None and "prediction" not in record
    assert explain.agg_rubric_total([record]) is None and explain.agg_rubric_coverage([record]) is None
    assert any("rubric_total not computed: no judge is configured" in m and "FAKEVLM_JUDGE_MODEL" in m for m in caplog_loguru)


def test_with_a_judge_each_explanation_is_graded_and_no_answer_scores_zero_unasked(serve, explain_doc, judge_env):
    server = serve({"The hand has six fingers.": [RUBRIC_REPLY]})
    judge_env(server)
    graded = explain.record(explain_doc, ["The hand has six fingers."])
    assert graded["rubric"] == GRADES and graded["judge_model"] == rubric.summary(judge.JudgeConfig("judge-test"))
    unanswered = explain.record(explain_doc, [Answer.failed("CUDA out of memory")])
    assert unanswered["rubric"] == dict.fromkeys(CRITERIA, 0.0) and unanswered["failure"] == "CUDA out of memory"
    assert server.requests == 1


def test_rubric_metrics_by_hand_and_withheld_while_one_explanation_is_ungraded(caplog_loguru):
    def rec(scores, failure=None):
        return {"rubric": scores, "judge_failure": failure, "judge_model": "j (prompt 1, ab)", "failed": False}

    records = [rec({"overall": 4.0, "completeness": 2.0, "correctness": 3.0, "plausibility": 5.0}),
               rec(dict.fromkeys(CRITERIA, 0.0)),
               rec({"overall": 2.0, "completeness": 1.0, "correctness": 3.0, "plausibility": 1.0})]
    assert explain.agg_rubric_overall(records) == pytest.approx(2.0)
    assert explain.agg_rubric_completeness(records) == pytest.approx(1.0)
    assert explain.agg_rubric_plausibility(records) == pytest.approx(2.0)
    assert explain.agg_rubric_total(records) == pytest.approx((14 + 0 + 7) / 3)
    assert explain.agg_rubric_coverage(records) == 100.0
    partial = records + [rec(None, "HTTP 503 after 3 attempts")]
    assert explain.agg_rubric_total(partial) is None and explain.agg_rubric_coverage(partial) == 75.0
    assert any("1 of 4 explanations have no grade (1x HTTP 503 after 3 attempts)" in m for m in caplog_loguru)


# ------------------------------------------------------------------ preparation


def test_each_explained_fake_becomes_a_record_with_its_notes_and_regions(tmp_path):
    prepare(tmp_path / "prepared", "loki", *loki_prepare.write_miniature(tmp_path / "download"), "--strict")
    with data_dir(tmp_path / "prepared"):
        from fakevlm_tasks.glue.docs import read_prepared

        (doc,) = read_prepared("loki_explain")
    assert doc["id"] == "oe_fake" and doc["label"] == "fake" and doc["image"].endswith("doc/1.png")
    assert doc["question"] == "This is a fake image. Explain where it seems inauthentic."
    assert doc["overall_notes"] == ["The colours are flat."]
    assert doc["regions"] == [{"box": [1.0, 1.0, 4.0, 3.0], "note": "The edge is smeared."}]
    assert explain.doc_to_text(doc, {"family": "general"}) == doc["question"]


def test_a_region_that_is_not_four_numbers_skips_its_record_and_is_named(tmp_path):
    argv = loki_prepare.write_miniature(tmp_path / "download")
    path = tmp_path / "download" / "data_json" / "open_ended_vqa.json"
    (record,) = json.loads(path.read_text(encoding="utf-16"))
    record["problems"]["regional"].append({"region": [1, 2, "wide", 4], "desc": "odd"})
    path.write_bytes(json.dumps([record, {**record, "id": "oe_2", "problems": {
        "global": [{"desc": "fine"}], "regional": []}}]).encode("utf-16"))
    prepare(tmp_path / "prepared", "loki", *argv)
    manifest = json.loads((tmp_path / "prepared" / "loki_explain" / "manifest.json").read_text())
    (skip,) = manifest["skipped_records"]
    assert skip["record"].startswith("open_ended_vqa.json#0") and "regional #1" in skip["reason"]


def test_the_real_open_ended_file_gives_229_records_with_their_annotations(shared_data, tmp_path):
    report = loki_prepare.prepare_explain(shared_data / "loki", tmp_path, check_images=False)
    assert len(report.records) == 229 and not report.skipped
    assert sum(not r["overall_notes"] for r in report.records) == 4  # four empty global descriptions
    assert sum(len(r["regions"]) for r in report.records) == 2 * 77 + 3 * 59 + 4 * 35 + 23 + 5 * 23 + 6 * 9 + 7 + 8 + 9
    assert all(r["question"].startswith("This is a fake image generated by an advanced AI model.") for r in report.records)


# ------------------------------------------------------------------ through the lmms-eval CLI


def assert_graded_as_scripted(run, n_docs: int):
    r = run.results["loki_explain"]
    for criterion, value in GRADES.items():
        assert r[f"rubric_{criterion},none"] == pytest.approx(value)
    assert r["rubric_total,none"] == pytest.approx(sum(GRADES.values()))
    assert r["rubric_coverage,none"] == 100.0 and r["failed_rate,none"] == 0.0
    assert r["judge_model,none"] == rubric.summary(judge.JudgeConfig("judge-test"))
    samples = run.samples("loki_explain")
    assert len(samples) == n_docs and all(s["rubric_total"]["rubric"] == GRADES for s in samples)
    return samples


@pytest.mark.slow
def test_dummy_on_the_miniature_through_the_cli(tmp_path_factory):
    run = loki_run(tmp_path_factory, "dummy", "miniature")
    (sample,) = assert_graded_as_scripted(run, 1)
    assert sample["filtered_resps"] in (DUMMY_ANSWER, [DUMMY_ANSWER])
    assert run.judge_requests == 1


@pytest.mark.slow
def test_tiny_llava_on_the_miniature_through_the_cli(tmp_path_factory, tiny_llava):
    run = loki_run(tmp_path_factory, "tiny", "miniature", tiny_llava=tiny_llava)
    assert_graded_as_scripted(run, 1)


@pytest.mark.slow
def test_dummy_on_the_real_annotation_files_through_the_cli(tmp_path_factory, shared_data):
    run = loki_run(tmp_path_factory, "dummy", "real", shared=shared_data)
    assert_graded_as_scripted(run, 229)
    assert run.judge_requests == 229  # one image each: every prompt differs


@pytest.mark.slow
def test_tiny_llava_on_the_real_annotation_files_through_the_cli(tmp_path_factory, shared_data, tiny_llava):
    run = loki_run(tmp_path_factory, "tiny", "real", tiny_llava=tiny_llava, shared=shared_data)
    assert_graded_as_scripted(run, REAL_LIMIT)


@pytest.mark.slow
def test_without_a_judge_an_lmms_eval_run_logs_the_answers_and_withholds_the_grades(tmp_path, monkeypatch):
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    monkeypatch.delenv("FAKEVLM_JUDGE_MODEL", raising=False)
    prepare(tmp_path / "prepared", "loki", *loki_prepare.write_miniature(tmp_path / "download"), "--strict")
    with data_dir(tmp_path / "prepared"):
        out = simple_evaluate(model="dummy", model_args="response=The edge is smeared", tasks=["loki_explain"],
                              task_manager=TaskManager("WARNING", model_name="dummy"), bootstrap_iters=0, log_samples=True)
    r = out["results"]["loki_explain"]
    assert all(r[f"{m.name},none"] is None for m in explain.METRICS if m.name != "failed_rate")
    (sample,) = out["samples"]["loki_explain"]
    assert sample["resps"] == [["The edge is smeared"]]
    assert sample["rubric_total"]["rubric"] is None and sample["rubric_total"]["judge_model"] is None
