"""The ``replay`` model: answers read from prediction files in each supported format, matched to docs and scored.

The unit tests hand :class:`fakevlm_model.replay.Replay` the requests lmms-eval would
(``(ctx, gen_kwargs, doc_to_visual, doc_id, task, split)``) over docs written here; the
slow tests run lmms-eval's CLI: a live ``fakevlm`` run's logged samples, written as a
prediction file and replayed, give exactly the live run's metrics, AUC included, and a
VLMEvalKit table and a FakeVLM ``scripts/eval.py`` list score the FakeClue miniature.
"""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from fakevlm_model.replay import BY_CONTENT, BY_ID, BY_PATH, Replay, ReplayError, file_sha256
from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.glue.sample import failure_of, verdict_score_of
from fakevlm_tasks.report.results import model_label
from lmms_runs import offline_env, prepare, results_of, run_cli, run_fakevlm, samples_of

TASK, SPLIT = "fakeclue", "test"


def _image(path: Path, colour) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)
    return str(path)


@pytest.fixture
def docs(tmp_path) -> list[dict]:
    """Three prepared FakeClue docs; images under <tmp>/data/images, the annotation's own relative paths kept."""
    root = tmp_path / "data" / "images"
    rows = [("animal/fake/0.png", 0, (200, 10, 10)), ("animal/real/1.png", 1, (10, 200, 10)), ("doc/fake/2.png", 0, (10, 10, 200))]
    return [{"id": rel, "image": _image(root / rel, colour), "source_image": rel, "label": label, "question": "q"}
            for rel, label, colour in rows]


def _write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _replay(predictions: Path, docs: list[dict], **args) -> tuple[Replay, list]:
    """The model over ``docs``, and its answer to one request per doc, in doc order."""
    model = Replay(predictions=str(predictions), **args)
    model.task_dict = {TASK: {SPLIT: docs}}
    requests = [SimpleNamespace(args=("ctx", {}, None, i, TASK, SPLIT)) for i in range(len(docs))]
    return model, [r.text for r in model.generate_until(requests)]


# ------------------------------------------------------------------ plain JSONL


def test_plain_jsonl_answers_each_doc_by_id(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"id": d["id"], "answer": f"This is a fake image. {i}"} for i, d in enumerate(docs)])
    model, answers = _replay(preds, docs)
    assert answers == [f"This is a fake image. {i}" for i in range(3)]
    assert model.report[TASK] == {BY_ID: 3, "no prediction": 0}


def test_p_real_and_p_fake_become_the_answers_verdict_score(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"id": d["id"], "answer": "This is a real image.", "p_real": 0.75, "p_fake": 0.125} for d in docs])
    _, answers = _replay(preds, docs)
    score = verdict_score_of([answers[0]])
    assert (score.p_real, score.p_fake) == (0.75, 0.125)
    assert score.log_odds == math.log(0.75) - math.log(0.125)


def test_recorded_log_odds_are_kept_to_the_last_bit(tmp_path, docs):
    # Near 0 no pair of probabilities gives these log-odds back; AUC must rank what the original run recorded.
    values = [1e-13, -2.5e-12, 3.0000000000000004]
    preds = _write(tmp_path / "p.jsonl", [{"id": d["id"], "answer": "x", "log_odds": v} for d, v in zip(docs, values)])
    _, answers = _replay(preds, docs)
    assert [verdict_score_of([a]).log_odds for a in answers] == values


def test_an_answer_without_a_score_carries_none(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"id": d["id"], "answer": "x"} for d in docs])
    _, answers = _replay(preds, docs)
    assert verdict_score_of([answers[0]]) is None


def test_a_half_given_score_is_refused_naming_the_line(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"id": docs[0]["id"], "answer": "x"}, {"id": docs[1]["id"], "answer": "x", "p_real": 0.5}])
    with pytest.raises(ReplayError, match=r"p\.jsonl line 2: give both p_real and p_fake"):
        Replay(predictions=str(preds))


def test_a_line_without_answer_is_refused_naming_the_line(tmp_path):
    preds = _write(tmp_path / "p.jsonl", [{"id": "a"}])
    with pytest.raises(ReplayError, match=r"p\.jsonl line 1: no 'answer'"):
        Replay(predictions=str(preds))


def test_a_line_that_is_not_json_is_refused_naming_the_line(tmp_path):
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "a", "answer": "x"}\n{not json\n')
    with pytest.raises(ReplayError, match=r"p\.jsonl line 2: not JSON"):
        Replay(predictions=str(preds))


def test_a_missing_file_is_refused_naming_it(tmp_path):
    with pytest.raises(ReplayError, match="no prediction file at .*nothere.jsonl"):
        Replay(predictions=str(tmp_path / "nothere.jsonl"))


def test_a_sha256_that_is_not_the_files_is_refused(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"id": docs[0]["id"], "answer": "x"}])
    Replay(predictions=str(preds), sha256=file_sha256(preds))  # the right one is accepted
    with pytest.raises(ReplayError, match="the file changed"):
        Replay(predictions=str(preds), sha256="0" * 64)


def test_the_run_is_named_by_its_name_arg(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"id": docs[0]["id"], "answer": "x"}])
    assert Replay(predictions=str(preds), name="GPT-4o batch").name == "GPT-4o batch"


# ------------------------------------------------------------------ matching


def test_an_image_path_with_another_machines_prefix_matches_by_its_path_under_the_dataset_root(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"image": f"/mnt/other/FakeClue/test/{d['source_image']}", "answer": f"a{i}"} for i, d in enumerate(docs)])
    model, answers = _replay(preds, docs)
    assert answers == ["a0", "a1", "a2"]
    assert model.report[TASK][BY_PATH] == 3


def test_an_image_path_elsewhere_matches_by_the_images_pixels(tmp_path, docs):
    copy = tmp_path / "renamed" / "whatever.png"
    copy.parent.mkdir()
    with Image.open(docs[1]["image"]) as im:
        im.save(copy.with_suffix(".bmp"))  # re-encoded, same pixels
    preds = _write(tmp_path / "p.jsonl", [{"image": str(copy.with_suffix(".bmp")), "answer": "by pixels"}])
    model, answers = _replay(preds, docs)
    assert answers[1] == "by pixels"
    assert model.report[TASK] == {BY_CONTENT: 1, "no prediction": 2}


def test_an_id_is_tried_before_the_image(tmp_path, docs):
    # The id names doc 2 while the image path names doc 0: the id wins.
    preds = _write(tmp_path / "p.jsonl", [{"id": docs[2]["id"], "image": docs[0]["source_image"], "answer": "by id"}])
    _, answers = _replay(preds, docs)
    assert answers[2] == "by id" and answers[0] == ""


def test_a_doc_without_prediction_is_a_failed_sample_with_its_reason(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"id": docs[0]["id"], "answer": "x"}])
    model, answers = _replay(preds, docs)
    assert answers[1] == "" and failure_of([answers[1]]).reason == "no prediction for this doc in p.jsonl"
    assert model.report[TASK]["no prediction"] == 2


def test_a_prediction_that_matches_no_doc_is_listed(tmp_path, docs, caplog_loguru):
    preds = _write(tmp_path / "p.jsonl", [{"id": d["id"], "answer": "x"} for d in docs] + [{"id": "stranger.png", "answer": "x"}])
    model, _ = _replay(preds, docs)
    assert [p.id for p in model.unmatched] == ["stranger.png"]
    assert any("1 predictions in p.jsonl match no doc" in m and "p.jsonl line 4 (id 'stranger.png')" in m for m in caplog_loguru)


def test_two_predictions_for_one_doc_stop_the_run_naming_both(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"id": docs[0]["id"], "answer": "x"}, {"image": f"/elsewhere/{docs[0]['source_image']}", "answer": "y"}])
    with pytest.raises(ReplayError, match=r"doc 'animal/fake/0.png' has two predictions: p\.jsonl line 1 .* and p\.jsonl line 2"):
        _replay(preds, docs)


def test_an_image_several_docs_ask_about_is_matched_by_id_only(tmp_path, docs):
    both = [dict(docs[0], id="q1"), dict(docs[0], id="q2")]  # two questions about one image, as in DD-VQA
    preds = _write(tmp_path / "p.jsonl", [{"image": docs[0]["source_image"], "answer": "x"}])
    model, answers = _replay(preds, both)
    assert answers == ["", ""] and len(model.unmatched) == 1


def test_a_task_field_keeps_a_prediction_to_its_task(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"id": docs[0]["id"], "answer": "x", "task": "loki"}])
    _, answers = _replay(preds, docs)
    assert answers[0] == ""


def test_loglikelihood_requests_are_refused(tmp_path, docs):
    preds = _write(tmp_path / "p.jsonl", [{"id": docs[0]["id"], "answer": "x"}])
    with pytest.raises(ReplayError, match="not loglikelihoods"):
        Replay(predictions=str(preds)).loglikelihood([])


# ------------------------------------------------------------------ the other formats


def test_fakevlm_eval_py_output_matches_by_image_path(tmp_path, docs):
    preds = tmp_path / "eval.json"
    preds.write_text(json.dumps([{"image_path": f"/data/FakeClue/test/{d['source_image']}", "output": f"o{i}"} for i, d in enumerate(docs)]))
    _, answers = _replay(preds, docs)
    assert answers == ["o0", "o1", "o2"]


def test_fakevlm_eval_vllm_output_matches_by_id(tmp_path, docs):
    preds = tmp_path / "vllm.json"
    preds.write_text(json.dumps([{"id": d["id"], "caption": f"c{i}"} for i, d in enumerate(docs)]))
    _, answers = _replay(preds, docs)
    assert answers == ["c0", "c1", "c2"]


def _b64(path: str) -> str:
    buf = io.BytesIO()
    with Image.open(path) as im:
        im.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_a_vlmevalkit_table_answers_with_its_prediction_column_and_matches_base64_images(tmp_path, docs):
    import pandas as pd

    rows = [{"index": i, "image": _b64(d["image"]), "question": "q", "answer": "ground truth", "prediction": f"p{i}"}
            for i, d in enumerate(docs)]
    rows[2]["image"] = "0"  # VLMEvalKit's reference to an earlier row's image: row 2 repeats row 0's image
    rows[2]["image_path"] = docs[2]["source_image"]  # ... and is found by its path instead
    pd.DataFrame(rows).to_excel(tmp_path / "pred.xlsx", index=False)
    model, answers = _replay(tmp_path / "pred.xlsx", docs)
    assert answers == ["p0", "p1", "p2"]
    assert model.report[TASK] == {BY_CONTENT: 2, BY_PATH: 1, "no prediction": 0}


def test_a_vlmevalkit_tsv_reads_like_its_xlsx(tmp_path, docs):
    import pandas as pd

    pd.DataFrame([{"index": d["id"], "prediction": f"t{i}"} for i, d in enumerate(docs)]).to_csv(tmp_path / "pred.tsv", sep="\t", index=False)
    _, answers = _replay(tmp_path / "pred.tsv", docs)
    assert answers == ["t0", "t1", "t2"]


def test_a_table_without_prediction_column_is_refused_naming_it(tmp_path):
    import pandas as pd

    pd.DataFrame([{"index": 0, "answer": "x"}]).to_csv(tmp_path / "pred.tsv", sep="\t", index=False)
    with pytest.raises(ReplayError, match="pred.tsv: no 'prediction' column"):
        Replay(predictions=str(tmp_path / "pred.tsv"))


def test_a_batch_output_line_answers_its_custom_id_and_a_failed_one_is_a_failed_sample(tmp_path, docs):
    ok = {"id": "b1", "custom_id": docs[0]["id"], "error": None, "response": {"status_code": 200, "request_id": "r", "body": {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "This is a fake image."}}]}}}
    failed = {"id": "b2", "custom_id": docs[1]["id"], "response": None, "error": {"code": "server_error", "message": "boom"}}
    _, answers = _replay(_write(tmp_path / "out.jsonl", [ok, failed]), docs)
    assert answers[0] == "This is a fake image."
    assert answers[1] == "" and "the batch request failed" in failure_of([answers[1]]).reason and "boom" in failure_of([answers[1]]).reason


# ------------------------------------------------------------------ the leaderboard's name for a replayed run


def _replayed_results(model_args: str) -> dict:
    return {"config": {"model": "replay", "model_args": model_args}, "results": {}}


def test_the_leaderboard_names_a_replayed_run_by_its_name_and_the_hash_it_checked(tmp_path):
    digest = "ab" * 32
    label = model_label(_replayed_results(f"predictions={tmp_path / 'gone.jsonl'},name=GPT-4o batch,sha256={digest}"))
    assert label == f"GPT-4o batch (replayed, sha256 {digest[:12]})"


def test_without_a_checked_hash_the_leaderboard_hashes_the_file_it_names(tmp_path):
    preds = _write(tmp_path / "p.jsonl", [{"id": "a", "answer": "x"}])
    assert model_label(_replayed_results(f"predictions={preds},name=Mine")) == f"Mine (replayed, sha256 {file_sha256(preds)[:12]})"


def test_a_replayed_run_whose_file_is_gone_is_still_marked_replayed(tmp_path):
    label = model_label(_replayed_results(f"predictions={tmp_path / 'gone.jsonl'}"))
    assert label == "gone.jsonl (replayed from gone.jsonl; file not found here, no hash)"


# ------------------------------------------------------------------ through the lmms-eval CLI


def _replay_cli(predictions: Path, tasks: str, out: Path, data_root: Path, name: str = "elsewhere") -> dict:
    proc = run_cli(["--model", "replay", "--model_args", f"predictions={predictions},name={name}", "--tasks", tasks,
                    "--output_path", str(out), "--log_samples"], offline_env(data_root))
    return results_of(out, proc)


@pytest.fixture(scope="module")
def miniatures(tmp_path_factory) -> Path:
    """FakeClue's and DMimage's miniatures, prepared by fakevlm-data."""
    tmp = tmp_path_factory.mktemp("replay_data")
    root = tmp / "prepared"
    for name in ("fakeclue", "dmimage"):
        prepare(root, name, *benchmarks.module(name).write_miniature(tmp / name))
    return root


@pytest.fixture(scope="module")
def live_and_replayed(tmp_path_factory, miniatures, fake_answering_llava):
    """A live fakevlm run on fakeclue and dmimage, and the replay of a prediction file written from its logged samples."""
    tmp = tmp_path_factory.mktemp("replay_runs")
    proc = run_fakevlm(fake_answering_llava, "fakeclue,dmimage", tmp / "live", miniatures)
    live = results_of(tmp / "live", proc)
    lines = []
    for task in ("fakeclue", "dmimage"):
        for s in samples_of(tmp / "live", task):
            resp = s["filtered_resps"][0] if isinstance(s["filtered_resps"], list) else s["filtered_resps"]
            lines.append({"task": task, "id": s["acc"]["id"], "answer": resp, "log_odds": s["acc"]["log_odds"]})
    preds = _write(tmp / "predictions.jsonl", lines)
    return live, _replay_cli(preds, "fakeclue,dmimage", tmp / "replayed", miniatures)


@pytest.mark.slow
def test_a_replayed_live_run_gives_exactly_its_metrics(live_and_replayed):
    live, replayed = live_and_replayed
    for task in ("fakeclue", "dmimage"):
        assert replayed["results"][task] == live["results"][task]


@pytest.mark.slow
def test_the_replayed_run_has_an_auc_to_compare(live_and_replayed):
    live, replayed = live_and_replayed
    assert live["results"]["dmimage"]["auc_avg,none"] is not None
    assert replayed["results"]["dmimage"]["auc_avg,none"] == live["results"]["dmimage"]["auc_avg,none"]


@pytest.mark.slow
def test_the_replayed_runs_results_name_it_by_its_name_and_file_hash(live_and_replayed):
    _, replayed = live_and_replayed
    preds = Path(dict(a.split("=", 1) for a in replayed["config"]["model_args"].split(","))["predictions"])
    assert model_label(replayed) == f"elsewhere (replayed, sha256 {file_sha256(preds)[:12]})"


@pytest.fixture(scope="module")
def fakeclue_docs(miniatures) -> list[dict]:
    return [json.loads(line) for line in (miniatures / "fakeclue" / "test.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_vlmevalkit_table_scores_the_fakeclue_miniature(tmp_path, miniatures, fakeclue_docs):
    import pandas as pd

    # Right about the first doc, wrong about the others, whatever their labels.
    said = {"real": "This is a real image.", "fake": "This is a fake image."}
    wrong = {"real": "fake", "fake": "real"}
    rows = [{"index": i, "image_path": f"/vlmeval/FakeClue/{d['source_image']}", "answer": "ignored",
             "prediction": said[d["label"] if i == 0 else wrong[d["label"]]]} for i, d in enumerate(fakeclue_docs)]
    pd.DataFrame(rows).to_excel(tmp_path / "FakeVLM_FakeClue.xlsx", index=False)
    r = _replay_cli(tmp_path / "FakeVLM_FakeClue.xlsx", "fakeclue", tmp_path / "out", miniatures)["results"]["fakeclue"]
    assert r["acc,none"] == pytest.approx(100 * 1 / len(rows)) and r["failed_rate,none"] == 0


@pytest.mark.slow
def test_a_fakevlm_eval_json_with_a_missing_an_extra_and_no_duplicate_scores_as_described(tmp_path, miniatures, fakeclue_docs):
    first, *rest = fakeclue_docs
    items = [{"image_path": f"/FakeClue/test/{first['source_image']}", "output": f"This is a {first['label']} image."},
             {"image_path": "/FakeClue/test/not/in/the/set.png", "output": "This is a fake image."}]
    (tmp_path / "eval.json").write_text(json.dumps(items))
    r = _replay_cli(tmp_path / "eval.json", "fakeclue", tmp_path / "out", miniatures)["results"]["fakeclue"]
    n = len(fakeclue_docs)
    assert r["acc,none"] == pytest.approx(100 / n)
    assert r["failed_rate,none"] == pytest.approx(100 * len(rest) / n)  # the docs without prediction, counted as failed


@pytest.mark.slow
def test_two_predictions_for_one_doc_stop_the_cli_run_naming_both(tmp_path, miniatures, fakeclue_docs):
    doc = fakeclue_docs[0]
    preds = _write(tmp_path / "twice.jsonl", [{"id": doc["id"], "answer": "This is a real image."},
                                              {"image": f"/other/{doc['source_image']}", "answer": "This is a fake image."}])
    proc = run_cli(["--model", "replay", "--model_args", f"predictions={preds}", "--tasks", "fakeclue",
                    "--output_path", str(tmp_path / "out")], offline_env(miniatures))
    assert not list((tmp_path / "out").rglob("*_results.json"))
    assert "has two predictions: twice.jsonl line 1" in proc.stdout + proc.stderr
