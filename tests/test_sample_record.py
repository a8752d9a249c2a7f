"""The per-sample record through lmms-eval's own evaluator: no silently wrong number.

Each test evaluates in-process with ``simple_evaluate`` on miniature data prepared by
fakevlm-data. :class:`PlantedScores` is a test double that answers with the verdict its
planted P(real) implies and carries that P(real) as the verdict score, as the fakevlm
adapter does; lmms-eval's ``dummy`` answers a constant and gives no scores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from lmms_eval.api.model import lmms
from PIL import Image
from sklearn.metrics import roc_auc_score

from lmms_runs import data_dir, prepare
from official_formats import fakeclue_record, ffpp_frames, write_dmimage, write_fakeclue, write_ffpp_split

pytestmark = pytest.mark.slow

TESTS_DIR = Path(__file__).resolve().parent
DOUBLE = f"{Path(__file__).stem}.PlantedScores"


def planted_p_real(image_path) -> float:
    with Image.open(image_path) as im:
        return (im.convert("RGB").getpixel((0, 0))[0] + 0.5) / 256


class PlantedScores(lmms):
    """Clearly not a model: P(real) is the red value of each image's top-left pixel."""

    calls = 0  # generate requests answered by this class in this process (a cache hit makes none)

    def __init__(self, **_):
        super().__init__()

    def generate_until(self, requests):
        from fakevlm_tasks.glue.sample import Answer, VerdictScore

        out = []
        for req in requests:
            _, _, _, doc_id, task, split = req.args
            doc = self.task_dict[task][split][doc_id]
            p = planted_p_real(doc.get("image") or doc["images"][0])  # loki_mc's docs show two images
            text = "This is a real image. Natural light." if p > 0.5 else "This is a fake image. Smooth skin."
            out.append(Answer(text, verdict=VerdictScore(p_real=p, p_fake=1 - p, step=3)))
        PlantedScores.calls += len(requests)
        return out

    def loglikelihood(self, requests):
        import math

        out = []
        for req in requests:
            _, continuation, _, doc_id, task, split = req.args
            p = planted_p_real(self.task_dict[task][split][doc_id]["image"])
            out.append((math.log(p if continuation.strip().endswith("real") else 1 - p), False))
        return out

    def generate_until_multi_round(self, requests):
        raise NotImplementedError


def _register_double():
    import lmms_eval.models as m
    from lmms_eval.models.registry_v2 import ModelManifest

    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    m.MODEL_REGISTRY_V2.register_manifest(ModelManifest(model_id="planted_scores", simple_class_path=DOUBLE))


DM_REDS = {"real_ucid": [250, 200, 60, 140], "real_coco_valid": [180, 20], "biggan_256": [10, 150, 90], "dalle_2": [100, 20, 240]}
FFPP_REDS = {
    (None, "001"): [230, 200], (None, "002"): [150, 90],
    ("Deepfakes", "001_002"): [40, 160], ("Deepfakes", "002_001"): [20, 60],
    ("Face2Face", "001_002"): [210, 180], ("Face2Face", "002_001"): [100, 70],
    ("FaceSwap", "001_002"): [5, 15], ("FaceSwap", "002_001"): [25, 35],
    ("NeuralTextures", "001_002"): [140, 240], ("NeuralTextures", "002_001"): [95, 30],
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("record_data")
    root = tmp / "prepared"
    dm = write_dmimage(tmp / "dm", {f: [(r, 90, 90) for r in reds] for f, reds in DM_REDS.items()})
    frames = tmp / "ffpp"
    for (method, video), reds in FFPP_REDS.items():
        ffpp_frames(frames, method, video, len(reds), color=lambda i, reds=reds: (reds[i], 90, 90))
    split = write_ffpp_split(tmp / "split.json", [("001", "002")])
    records = [fakeclue_record(f"animal/{'real' if i % 2 else 'fake'}/{i}.png", i % 2, "animal",
                               f"This is a {'real' if i % 2 else 'fake'} image. Fur detail {i}.") for i in range(5)]
    ann, images = write_fakeclue(tmp / "fc", records)
    for i, r in enumerate(records):  # planted P(real): 40, 90, ..., 240 of 256
        Image.new("RGB", (8, 8), (40 + 50 * i, 90, 90)).save(images / r["image"])
    prepare(root, "dmimage", "--source", str(dm), "--strict")
    prepare(root, "ffpp", "--source", str(frames), "--split", str(split), "--frames-per-video", "2", "--strict")
    prepare(root, "fakeclue", "--annotations", str(ann), "--images", str(images), "--strict")
    _register_double()
    return root


def evaluate(model: str, tasks: list[str], data_root: Path, include_path: str | None = None, **kw) -> dict:
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    with data_dir(data_root):
        return simple_evaluate(model=model, model_args=kw.pop("model_args", ""), tasks=tasks,
                               task_manager=TaskManager("WARNING", include_path=include_path, model_name=model),
                               bootstrap_iters=0, log_samples=True, **kw)


def sklearn_family_auc(samples) -> float:
    """Corvi's AVR of AUC over families, from the planted scores of the logged docs."""
    docs = [s["doc"] for s in samples]
    reals = [d for d in docs if d["label"] == "real"]
    aucs = []
    for family in sorted({d["category"] for d in docs if d["label"] == "fake"}):
        pool = reals + [d for d in docs if d["category"] == family]
        aucs.append(100 * roc_auc_score([d["label"] == "real" for d in pool], [planted_p_real(d["image"]) for d in pool]))
    return sum(aucs) / len(aucs)


def _stored_responses(cache: Path) -> list[str]:
    """The responses lmms-eval's cache holds in its merged root database."""
    import sqlite3

    db = cache / "cache.db"
    if not db.is_file():
        return []
    with sqlite3.connect(db) as con:
        return [row[0] for row in con.execute("SELECT response FROM responses")]


def _refill(cache: Path, data_root: Path) -> Path:
    """A new cache holding the first 5 docs again (for the one retry)."""
    fresh = cache.parent / (cache.name + "_retry")
    evaluate("planted_scores", ["dmimage"], data_root, use_cache=str(fresh), limit=5)
    return fresh


def test_a_run_answered_partly_then_fully_from_the_response_cache_reproduces_the_fresh_auc(data_root, tmp_path):
    fresh = evaluate("planted_scores", ["dmimage"], data_root)
    expected = sklearn_family_auc(fresh["samples"]["dmimage"])
    assert fresh["results"]["dmimage"]["auc_avg,none"] == pytest.approx(expected)

    cache = tmp_path / "cache"
    evaluate("planted_scores", ["dmimage"], data_root, use_cache=str(cache), limit=5)  # fills the cache with 5 of 12 docs
    stored = _stored_responses(cache)
    assert len(stored) == 5 and all(json.loads(r)["fakevlm_answer"] == 1 for r in stored)  # each with its verdict score
    for attempt in range(2):
        # lmms-eval 0.7.3 has twice served no hit from a cache it had just merged, on a machine
        # loaded by other jobs (a host-side race we could not pin down): one more try, then fail.
        if attempt:
            cache = _refill(cache, data_root)
        before = PlantedScores.calls
        partly = evaluate("planted_scores", ["dmimage"], data_root, use_cache=str(cache))
        if PlantedScores.calls - before == 12 - 5:
            break
    assert PlantedScores.calls - before == 12 - 5  # the other 5 came from the cache
    assert partly["results"]["dmimage"]["auc_avg,none"] == pytest.approx(expected)

    for attempt in range(2):  # the same host race as above, once more allowed
        before = PlantedScores.calls
        fully = evaluate("planted_scores", ["dmimage"], data_root, use_cache=str(cache))
        if PlantedScores.calls == before:
            break
    assert PlantedScores.calls == before  # nothing generated
    assert fully["results"]["dmimage"]["auc_avg,none"] == pytest.approx(expected)
    assert fully["results"]["dmimage"]["score_coverage,none"] == 100.0


def test_without_cache_persistence_a_cached_run_withholds_auc_and_says_why(data_root, tmp_path, monkeypatch, caplog_loguru):
    from lmms_eval.caching.response_cache import ResponseCache

    cache = str(tmp_path / "cache")
    evaluate("planted_scores", ["dmimage"], data_root, use_cache=cache)
    # A host whose cache keeps only text (the patch undone): the answers come back as plain strings.
    monkeypatch.setattr(ResponseCache, "_lookup", ResponseCache._lookup.__wrapped__)
    monkeypatch.setattr(ResponseCache, "_extract_cacheable", staticmethod(ResponseCache._extract_cacheable.__wrapped__))
    cached = evaluate("planted_scores", ["dmimage"], data_root, use_cache=cache)
    r = cached["results"]["dmimage"]
    assert r["auc_avg,none"] is None and r["score_coverage,none"] == 0.0
    assert r["acc,none"] is not None
    assert any("auc" in m and "--use_cache" in m for m in caplog_loguru)


def test_a_constant_answer_model_after_a_scored_one_in_the_same_process_inherits_no_score(data_root):
    first = evaluate("planted_scores", ["dmimage"], data_root)
    assert first["results"]["dmimage"]["auc_avg,none"] is not None
    second = evaluate("dummy", ["dmimage"], data_root, model_args="response=This is a fake image.")
    r = second["results"]["dmimage"]
    assert r["auc_avg,none"] is None and r["score_coverage,none"] == 0.0
    assert r["fake_acc,none"] == 100.0 and r["real_acc,none"] == 0.0


def test_dummy_after_the_real_fakevlm_adapter_in_one_process_inherits_no_score(data_root, tiny_llava):
    first = evaluate("fakevlm", ["dmimage"], data_root, model_args=f"pretrained={tiny_llava},device=cpu,max_new_tokens=6")
    assert first["results"]["dmimage"]["score_coverage,none"] == 100.0  # every answer carried its verdict score
    assert first["results"]["dmimage"]["auc_avg,none"] is not None
    second = evaluate("dummy", ["dmimage"], data_root, model_args="response=This is a fake image.")
    assert second["results"]["dmimage"]["auc_avg,none"] is None
    assert second["results"]["dmimage"]["score_coverage,none"] == 0.0


def test_a_variant_task_under_another_name_gets_its_own_scores(data_root, tmp_path):
    from fakevlm_tasks import TASKS_DIR

    variants = tmp_path / "variants"
    variants.mkdir()
    (variants / "dmimage_again.yaml").write_text(f"task: dmimage_again\ninclude: {TASKS_DIR / 'dmimage' / 'dmimage.yaml'}\n")
    out = evaluate("planted_scores", ["dmimage_again"], data_root, include_path=str(variants))
    r = out["results"]["dmimage_again"]
    assert r["auc_avg,none"] == pytest.approx(sklearn_family_auc(out["samples"]["dmimage_again"]))


def test_the_hosts_clt_and_clustered_standard_errors_are_numeric_and_right(data_root):
    import numpy as np

    out = evaluate("planted_scores", ["fakeclue", "dmimage"], data_root)
    for task in ("fakeclue", "dmimage"):
        correct = [s["score"] for s in out["samples"][task]]
        assert set(correct) <= {0.0, 1.0}
        expected = np.std(correct, ddof=1) / np.sqrt(len(correct))
        assert out["results"][task]["acc_stderr_clt,none"] == pytest.approx(expected)
        assert out["results"][task]["acc,none"] == pytest.approx(100 * np.mean(correct))


def test_frames_of_one_video_give_a_clustered_standard_error(data_root, tmp_path):
    from lmms_eval.api.metrics import clustered_stderr

    out = evaluate("planted_scores", ["ffpp_gen"], data_root)
    samples = out["samples"]["ffpp_gen"]
    clusters = [s["acc"]["cluster"] for s in samples]
    assert len(set(clusters)) == 10 and len(samples) == 20  # 10 videos, 2 frames each
    se = out["results"]["ffpp_gen"]["acc_stderr_clustered,none"]
    assert isinstance(se, float) and se == pytest.approx(clustered_stderr([s["score"] for s in samples], clusters))


def test_baseline_gives_a_paired_p_value_on_fakeclue(data_root, tmp_path):
    base = evaluate("dummy", ["fakeclue"], data_root, model_args="response=This is a fake image.")
    baseline_file = tmp_path / "base_samples_fakeclue.jsonl"
    baseline_file.write_text("".join(json.dumps(s, default=str) + "\n" for s in base["samples"]["fakeclue"]))
    out = evaluate("planted_scores", ["fakeclue"], data_root, baseline=str(baseline_file))
    r = out["results"]["fakeclue"]
    assert isinstance(r["paired_pvalue"], float) and 0.0 <= r["paired_pvalue"] <= 1.0
    # The baseline's score is what its own samples say: the constant "fake" answer is right on the fakes.
    expected = 100 * sum(s["score"] for s in base["samples"]["fakeclue"]) / 5
    assert r["paired_baseline_score"] == pytest.approx(expected)


def test_the_printed_table_of_every_task_is_under_160_characters_wide(tmp_path):
    from lmms_eval.utils import make_table
    from fakevlm_tasks.glue import benchmarks
    from official_formats import write_all

    TASK_NAMES = sorted({t for bench in benchmarks.discover().values() for t in bench.tasks})

    write_all(tmp_path, tmp_path / "prepared")
    _register_double()
    out = evaluate("planted_scores", TASK_NAMES, tmp_path / "prepared")
    assert set(TASK_NAMES) <= set(out["results"])
    table = make_table(out)
    width = max(len(line) for line in table.splitlines())
    assert width < 160, table
