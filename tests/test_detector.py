"""The ``detector`` model: an image classifier's P(fake) as verdicts, verdict scores and loglikelihoods.

Through the lmms-eval CLI on fakeclue, ffpp and ffpp_gen with a tiny random ResNet, every
answer, score and AUC is checked against the classifier run directly on the prepared
images. In process: LOKI's yes/no, failures, batching, refusals, and the other ways to
name a classifier (a Hugging Face classifier, a torchvision network or a CLIP probe with
weights from a file).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from lmms_eval.api.instance import Instance
from PIL import Image
from sklearn.metrics import accuracy_score, roc_auc_score

from fakevlm_model.detector import Detector, UnsupportedRequest, question_kind
from fakevlm_tasks.glue.prepared import FAKECLUE_QUESTION
from fakevlm_tasks.glue.docs import read_prepared
from fakevlm_tasks.glue.sample import failure_of, verdict_score_of
from fakevlm_toys.tiny_detectors import build_tiny_clip, build_tiny_detector, build_tiny_hf_classifier
from lmms_runs import data_dir, offline_env, prepare, results_of, run_cli, samples_of
from detector_probe import direct_p_fake
from official_formats import fakeclue_record, ffpp_frames, png, write_fakeclue, write_ffpp_split

METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
COLOURS = [(20 * i % 256, 250 - 15 * i, (70 * i) % 256) for i in range(12)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_detector(tmp_path_factory.mktemp("detector") / "model", image_size=16)


# --------------------------------------------------------------- through the CLI


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """FakeClue (6 images, both labels) and FF++ (2 originals, 4 manipulations x 2 videos, 2 frames each), all colours distinct."""
    tmp = tmp_path_factory.mktemp("detector_data")
    records = [fakeclue_record(f"object/{i}.png", i % 2, "object", "This is a real image." if i % 2 else "This is a fake image.") for i in range(6)]
    ann, images = write_fakeclue(tmp / "fakeclue", records, make_images=False)
    for i, r in enumerate(records):
        png(images / r["image"], COLOURS[i])
    frames = tmp / "ffpp"
    videos = [(None, "001"), (None, "002")] + [(m, v) for m in METHODS for v in ("001_002", "002_001")]
    for n, (method, video) in enumerate(videos):
        ffpp_frames(frames, method, video, 2, color=lambda i, n=n: (10 + 23 * n, 200 - 9 * n - 40 * i, 60 + 17 * i))
    split = write_ffpp_split(tmp / "split.json", [("001", "002")])
    root = tmp / "prepared"
    prepare(root, "fakeclue", "--annotations", str(ann), "--images", str(images), "--strict")
    prepare(root, "ffpp", "--source", str(frames), "--split", str(split), "--frames-per-video", "2", "--strict")
    return root


@pytest.fixture(scope="module")
def run(tiny, prepared, tmp_path_factory):
    out = tmp_path_factory.mktemp("detector_run") / "out"
    proc = run_cli(["--model", "detector", "--model_args", f"pretrained={tiny},device=cpu", "--tasks", "fakeclue,ffpp,ffpp_gen",
                    "--batch_size", "4", "--output_path", str(out), "--log_samples"], offline_env(prepared))
    return results_of(out, proc)["results"], lambda task: samples_of(out, task)


def _docs(prepared: Path, name: str) -> list[dict]:
    with data_dir(prepared):
        return read_prepared(name)


def _answer(sample) -> str:
    resp = sample["filtered_resps"]
    return resp[0] if isinstance(resp, list) else resp


@pytest.mark.slow
def test_every_fakeclue_answer_is_the_verdict_of_the_classifiers_probability(run, prepared, tiny):
    _, samples_of_task = run
    docs = _docs(prepared, "fakeclue")
    p_fake = direct_p_fake(tiny, [d["image"] for d in docs])
    answers = {s["doc_id"]: _answer(s) for s in samples_of_task("fakeclue")}
    assert answers == {i: "This is a fake image." if p >= 0.5 else "This is a real image." for i, p in enumerate(p_fake)}
    assert len(set(p_fake)) == len(p_fake)  # the images differ, and so do the scores


@pytest.mark.slow
def test_fakeclue_samples_carry_one_minus_p_fake_as_p_real(run, prepared, tiny):
    _, samples_of_task = run
    docs = _docs(prepared, "fakeclue")
    p_fake = direct_p_fake(tiny, [d["image"] for d in docs])
    recorded = {s["doc_id"]: s["acc"]["p_real"] for s in samples_of_task("fakeclue")}
    assert recorded == pytest.approx({i: 1 - p for i, p in enumerate(p_fake)}, abs=1e-5)


@pytest.mark.slow
def test_fakeclue_accuracy_is_the_verdicts_against_the_labels(run, prepared, tiny):
    results, _ = run
    docs = _docs(prepared, "fakeclue")
    verdicts = ["fake" if p >= 0.5 else "real" for p in direct_p_fake(tiny, [d["image"] for d in docs])]
    assert results["fakeclue"]["acc,none"] == pytest.approx(100 * accuracy_score([d["label"] for d in docs], verdicts))
    assert results["fakeclue"]["failed_rate,none"] == 0.0


def _expected_ffpp_aucs(prepared: Path, tiny: Path) -> dict[str, float]:
    docs = _docs(prepared, "ffpp")
    log_odds_real = [math.log(1 - p) - math.log(p) for p in direct_p_fake(tiny, [d["image"] for d in docs])]
    reals = [(1, s) for d, s in zip(docs, log_odds_real) if d["label"] == "real"]
    out = {}
    for m in METHODS:
        pairs = reals + [(0, s) for d, s in zip(docs, log_odds_real) if d["category"] == m]
        out[m] = 100 * roc_auc_score([y for y, _ in pairs], [s for _, s in pairs])
    return out


@pytest.mark.slow
def test_ffpp_auc_from_loglikelihoods_equals_sklearn_on_the_classifiers_log_odds(run, prepared, tiny):
    results, _ = run
    expected = _expected_ffpp_aucs(prepared, tiny)
    r = results["ffpp"]
    for m in METHODS:
        assert r[f"auc_{m.lower()},none"] == pytest.approx(expected[m]), m
    assert r["auc_avg,none"] == pytest.approx(sum(expected.values()) / len(METHODS))
    assert r["score_coverage,none"] == 100.0


@pytest.mark.slow
def test_ffpp_loglikelihoods_are_the_log_probabilities_of_the_two_classes(run):
    _, samples_of_task = run
    for s in samples_of_task("ffpp"):
        ll_real, ll_fake = (float(r.strip("()").split(",")[0]) for r in s["filtered_resps"])
        assert math.exp(ll_real) + math.exp(ll_fake) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow
def test_ffpp_gen_auc_from_the_answers_verdict_scores_equals_the_loglikelihood_task(run, prepared, tiny):
    results, _ = run
    expected = _expected_ffpp_aucs(prepared, tiny)
    assert results["ffpp_gen"]["auc_avg,none"] == pytest.approx(sum(expected.values()) / len(METHODS))
    assert results["ffpp_gen"]["score_coverage,none"] == 100.0


# ------------------------------------------------------------------ in process


def _detector(model_dir: Path, docs: list[dict], **args) -> Detector:
    model = Detector(pretrained=str(model_dir), device="cpu", **args)
    model.task_dict = {"t": {"test": docs}}
    return model


def _image(doc):
    return [Image.open(doc["image"]).convert("RGB")]


def _request(kind: str, payload, doc_id: int, task: str = "t") -> Instance:
    return Instance(kind, ("", payload, _image, doc_id, task, "test"), idx=0, metadata={"task": task, "doc_id": doc_id, "repeats": 1})


def _generate(model: Detector, n: int):
    return model.generate_until([_request("generate_until", {}, i) for i in range(n)])


def _loglikelihood(model: Detector, continuations):
    return model.loglikelihood([_request("loglikelihood", c, i) for i, c in continuations])


@pytest.fixture
def images(tmp_path) -> list[Path]:
    paths = [tmp_path / f"{i}.png" for i in range(5)]
    for path, colour in zip(paths, COLOURS):
        png(path, colour)
    return paths


def _detection_docs(paths) -> list[dict]:
    return [{"id": i, "image": str(p), "question": FAKECLUE_QUESTION} for i, p in enumerate(paths)]


def test_question_kind_asks_the_benchmarks_declaration_and_refuses_other_questions():
    assert question_kind("fakeclue", {"question": FAKECLUE_QUESTION}) == "verdict"
    assert question_kind("loki_jpeg50", {"question": "<image>" + FAKECLUE_QUESTION}) == "verdict"
    assert question_kind("loki_judgment", {"question": "Is this image generated by an AI model?", "asks": "fake"}) == "yes_no"
    with pytest.raises(UnsupportedRequest, match="'asks'"):  # a judgment doc must say what it asks
        question_kind("loki_judgment", {"question": "Is this image generated by an AI model?"})
    with pytest.raises(UnsupportedRequest):  # a doc of a detection task is read as a detection doc
        question_kind("fakeclue", {"question": "Is this image generated by an AI model?", "asks": "fake"})
    with pytest.raises(UnsupportedRequest, match="'choice'"):
        question_kind("loki_mc", {"question": FAKECLUE_QUESTION})
    with pytest.raises(UnsupportedRequest):
        question_kind("ddvqa", {"question": "Do the person's eyes look real/fake?"})


def test_a_ddvqa_question_is_refused_with_the_tasks_it_supports(tiny, images):
    docs = [{"id": 0, "image": str(images[0]), "question": "Do the person's eyes look real/fake?"}]
    model = _detector(tiny, docs)
    model.task_dict = {"ddvqa": {"test": docs}}
    with pytest.raises(UnsupportedRequest, match=r"task 'ddvqa'.*eyes.*detection question.*yes/no judgment"):
        model.generate_until([_request("generate_until", {}, 0, task="ddvqa")])


def test_a_multiple_choice_continuation_is_refused(tiny, images):
    model = _detector(tiny, _detection_docs(images))
    with pytest.raises(UnsupportedRequest, match="names neither real nor fake"):
        _loglikelihood(model, [(0, " A")])


def test_loki_judgment_is_answered_yes_or_no_to_what_the_question_asks(tiny, images):
    (p_fake,) = direct_p_fake(tiny, images[:1])
    docs = [{"id": i, "image": str(images[0]), "question": "Is this image ...? Answer with yes or no.", "asks": asks}
            for i, asks in enumerate(("fake", "real"))]
    model = _detector(tiny, docs)
    model.task_dict = {"loki_judgment": {"test": docs}}
    answers = [r.text for r in model.generate_until([_request("generate_until", {}, i, task="loki_judgment") for i in range(2)])]
    says_fake = p_fake >= 0.5
    assert answers == (["Yes.", "No."] if says_fake else ["No.", "Yes."])
    assert all(verdict_score_of([a]).p_fake == pytest.approx(p_fake, abs=1e-6) for a in answers)


def test_batching_does_not_change_any_score(tiny, images):
    docs = _detection_docs(images)
    one = [verdict_score_of([r.text]).p_fake for r in _generate(_detector(tiny, docs, batch_size=1), len(docs))]
    four = [verdict_score_of([r.text]).p_fake for r in _generate(_detector(tiny, docs, batch_size=4), len(docs))]
    assert four == pytest.approx(one, abs=1e-6)
    assert one == pytest.approx(direct_p_fake(tiny, images), abs=1e-6)


def test_an_unreadable_image_fails_its_sample_only(tiny, images, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    docs = _detection_docs([images[0], broken, tmp_path / "missing.png"])
    model = _detector(tiny, docs)
    answers = [r.text for r in _generate(model, 3)]
    assert answers[0] in ("This is a real image.", "This is a fake image.")
    assert answers[1:] == ["", ""]
    assert [failure_of([a]) is not None for a in answers] == [False, True, True]
    assert "could not read the image" in failure_of([answers[2]]).reason
    lls = _loglikelihood(model, [(0, " This is a real"), (1, " This is a real")])
    assert lls[0][0] < 0 and lls[1] == (float("-inf"), False)


def test_loglikelihood_names_the_class_the_continuation_states(tiny, images):
    model = _detector(tiny, _detection_docs(images))
    (p_fake,) = direct_p_fake(tiny, images[:1])
    (real, real_greedy), (fake, fake_greedy) = _loglikelihood(model, [(0, " This is a real"), (0, " This is a fake")])
    assert (real, fake) == pytest.approx((math.log(1 - p_fake), math.log(p_fake)), abs=1e-6)
    assert real_greedy == (p_fake <= 0.5) and fake_greedy == (p_fake >= 0.5)


def test_a_hugging_face_classifier_is_read_through_its_fake_label(tmp_path, images):
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    folder = build_tiny_hf_classifier(tmp_path / "vit", labels=("real", "fake"))
    model = AutoModelForImageClassification.from_pretrained(folder).eval()
    processor = AutoImageProcessor.from_pretrained(folder)
    with torch.no_grad():
        expected = model(**processor(images=[Image.open(p).convert("RGB") for p in images], return_tensors="pt")).logits.softmax(-1)[:, 1]
    scores = [verdict_score_of([r.text]).p_fake for r in _generate(_detector(folder, _detection_docs(images)), len(images))]
    assert scores == pytest.approx(expected.tolist(), abs=1e-6)


def test_a_classifier_whose_labels_name_no_fake_class_needs_fake_label(tmp_path, images):
    folder = build_tiny_hf_classifier(tmp_path / "vit", labels=("cat", "dog"))
    with pytest.raises(ValueError, match="fake_label"):
        Detector(pretrained=str(folder), device="cpu")
    assert Detector(pretrained=str(folder), device="cpu", fake_label="dog").classifier.fake_index == 1


def test_a_torchvision_network_loads_weights_saved_elsewhere(tmp_path, images, tiny):
    from transformers import AutoModelForImageClassification

    source = AutoModelForImageClassification.from_pretrained(tiny)
    # DataParallel-style keys inside a {"model": ...} wrapper, as CNNDetection saves them.
    torch.save({"model": {f"module.{k}": v for k, v in source.backbone.state_dict().items()}}, tmp_path / "weights.pth")
    model = Detector(arch="torchvision:resnet18", checkpoint=str(tmp_path / "weights.pth"), image_size=16, device="cpu")
    model.task_dict = {"t": {"test": _detection_docs(images)}}
    scores = [verdict_score_of([r.text]).p_fake for r in _generate(model, len(images))]
    assert scores == pytest.approx(direct_p_fake(tiny, images), abs=1e-6)


def test_a_clip_probe_loads_a_univfd_style_head(tmp_path, images):
    from transformers import AutoImageProcessor, CLIPVisionModelWithProjection

    clip = build_tiny_clip(tmp_path / "clip", image_size=16)
    torch.manual_seed(3)
    head = torch.nn.Linear(32, 1)
    torch.save(head.state_dict(), tmp_path / "fc_weights.pth")
    model = Detector(arch="probe", encoder=str(clip), checkpoint=str(tmp_path / "fc_weights.pth"), device="cpu")
    model.task_dict = {"t": {"test": _detection_docs(images)}}
    scores = [verdict_score_of([r.text]).p_fake for r in _generate(model, len(images))]
    encoder = CLIPVisionModelWithProjection.from_pretrained(clip).eval()
    processor = AutoImageProcessor.from_pretrained(clip)
    with torch.no_grad():
        pixels = processor(images=[Image.open(p).convert("RGB") for p in images], return_tensors="pt")["pixel_values"]
        expected = torch.sigmoid(head(encoder(pixel_values=pixels).image_embeds))[:, 0]
    assert scores == pytest.approx(expected.tolist(), abs=1e-5)


def test_model_args_are_checked():
    with pytest.raises(TypeError, match="unknown model args"):
        Detector(pretrained="x", temperature=0)
    with pytest.raises(ValueError, match="either pretrained"):
        Detector(device="cpu")
    with pytest.raises(ValueError, match="needs checkpoint"):
        Detector(arch="torchvision:resnet18", device="cpu")


def test_the_detector_is_registered_with_lmms_eval():
    from lmms_eval.models import get_model

    assert get_model("detector") is Detector

