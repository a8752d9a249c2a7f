"""LOKI (ICLR 2025) image annotations: ``true_or_false.json``, ``open_ended_vqa.json`` and ``multi_choice.json``.

Four prepared datasets come out of one preparation:

* ``loki`` (FakeVLM's protocol): one record per image. Detection covers the images of
  ``true_or_false.json`` (label and category read from ``question_type``); the 229 fake
  images of ``open_ended_vqa.json`` carry the human explanation as reference (global
  description, then each regional description). Open-ended images absent from
  ``true_or_false.json`` are kept for the explanation metrics only (``detection: false``).
* ``loki_judgment`` (LOKI's own protocol): one record per yes/no question.
* ``loki_mc`` (LOKI's own protocol): one record per multiple-choice question on a pair of
  images, from ``multi_choice.json`` (written only when that file is there).
* ``loki_explain`` (LOKI's own protocol): one record per open-ended fake image with its
  annotations (notes on the whole image, boxed regions with notes), for LOKI's rubric.
"""

from __future__ import annotations

import re
from pathlib import Path

from fakevlm_tasks.hooks import FAKECLUE_QUESTION, DataError, PrepareReport, check_image, load_json
from fakevlm_tasks.tasks.loki.options import format_options, option_letters

_QTYPE = re.compile(r"^image_tf_image_(real|fake)_ask_(real|fake)_(\w+)$")
_MC_QTYPE = re.compile(r"^image_mc_(fake_from_real|real_from_fake)_(\w+)$")
TF_FILE = "true_or_false.json"
OE_FILE = "open_ended_vqa.json"
MC_FILE = "multi_choice.json"


def _resolve_image(images: Path, image_path: str) -> Path:
    """LOKI paths read ``media_data/image/<uuid>.jpg``; accept the root above ``media_data`` or the image folder itself."""
    direct = images / image_path
    if direct.exists():
        return direct.resolve()
    flat = images / Path(image_path).name
    return (flat if flat.exists() else direct).resolve()


def _clean_question(q: str) -> str:
    return q.replace("<image>", "").strip()


def explanation_reference(problems) -> str:
    """Join LOKI's human explanation: non-empty global descriptions first, then regional ones."""
    if not isinstance(problems, dict):
        raise DataError("'problems' must be an object with 'global' and 'regional' lists")
    parts = [str(g.get("desc", "")).strip() for g in problems.get("global") or [] if isinstance(g, dict)]
    parts += [str(r.get("desc", "")).strip() for r in problems.get("regional") or [] if isinstance(r, dict)]
    return " ".join(p for p in parts if p)


def _read_tf(path: Path, report: PrepareReport, judgment: PrepareReport, images: Path, check_images: bool) -> dict[str, dict]:
    data = load_json(path, "loki true_or_false")
    if not isinstance(data, list):
        raise DataError(f"loki: {path} must hold a JSON list, found {type(data).__name__}")
    per_image: dict[str, dict] = {}
    bad_images: dict[str, str] = {}
    for i, rec in enumerate(data):
        where = f"{TF_FILE}#{i}"
        if not isinstance(rec, dict) or not all(k in rec for k in ("image_path", "question", "answer", "question_type")):
            judgment.skip(where, "malformed record: needs image_path, question, answer, question_type")
            continue
        m = _QTYPE.match(str(rec["question_type"]))
        answer = str(rec["answer"]).strip().lower()
        if not m or answer not in ("yes", "no"):
            judgment.skip(f"{where} ({rec.get('id')})", f"malformed record: question_type {rec['question_type']!r} / answer {rec['answer']!r}")
            continue
        label, asks, category = m.groups()
        image_path = str(rec["image_path"])
        image = _resolve_image(images, image_path)
        if image_path not in per_image and image_path not in bad_images:
            problem = check_image(image) if check_images else None
            if problem:
                bad_images[image_path] = problem
            else:
                per_image[image_path] = {
                    "id": image_path,
                    "image": str(image),
                    "label": label,
                    "category": category,
                    "question": FAKECLUE_QUESTION,
                    "reference": None,
                    "detection": True,
                }
        if image_path in bad_images:
            judgment.skip(f"{where} ({rec.get('id')})", bad_images[image_path])
            continue
        if per_image[image_path]["label"] != label:
            judgment.skip(f"{where} ({rec.get('id')})", f"malformed record: label {label} contradicts an earlier question on {image_path}")
            continue
        judgment.records.append(
            {
                "id": str(rec.get("id", f"tf{i}")),
                "image": str(image),
                "label": label,
                "category": category,
                "asks": asks,
                "question": _clean_question(str(rec["question"])),
                "answer": answer,
            }
        )
    for image_path, problem in bad_images.items():
        report.skip(f"{TF_FILE} ({image_path})", problem)
    return per_image


def prepare(annotations: str | Path, images: str | Path, *, check_images: bool = True) -> tuple[PrepareReport, PrepareReport]:
    """Return the ``loki`` and ``loki_judgment`` reports from LOKI's annotation folder and media root."""
    annotations, images = Path(annotations), Path(images)
    if not annotations.is_dir():
        raise DataError(f"loki: --annotations {annotations} must be the folder holding {TF_FILE} and {OE_FILE}")
    if not images.is_dir():
        raise DataError(f"loki: --images {images} is not a folder")
    sources = {"annotations": str(annotations.resolve()), "images": str(images.resolve())}
    report = PrepareReport("loki", sources=sources)
    judgment = PrepareReport("loki_judgment", sources=sources)
    per_image = _read_tf(annotations / TF_FILE, report, judgment, images, check_images)

    for where, rec, reference in _read_open_ended(annotations, report):
        image_path = str(rec["image_path"])
        if image_path in per_image:
            per_image[image_path]["reference"] = reference
            continue
        image = _resolve_image(images, image_path)
        problem = check_image(image) if check_images else None
        if problem:
            report.skip(f"{where} ({image_path})", problem)
            continue
        per_image[image_path] = {
            "id": image_path,
            "image": str(image),
            "label": "fake",  # every open-ended LOKI image is a generated one
            "category": "open_ended",
            "question": FAKECLUE_QUESTION,
            "reference": reference,
            "detection": False,
        }
    report.records = list(per_image.values())
    return report, judgment


def _read_open_ended(annotations: Path, report: PrepareReport):
    """``(where, record, reference)`` for each usable record of ``open_ended_vqa.json``; the others are skipped into ``report``."""
    oe = load_json(annotations / OE_FILE, "loki open_ended_vqa")
    if not isinstance(oe, list):
        raise DataError(f"loki: {annotations / OE_FILE} must hold a JSON list, found {type(oe).__name__}")
    for i, rec in enumerate(oe):
        where = f"{OE_FILE}#{i}"
        try:
            if not isinstance(rec, dict) or "image_path" not in rec:
                raise DataError("needs image_path and problems")
            reference = explanation_reference(rec.get("problems"))
        except DataError as exc:
            report.skip(where, f"malformed record: {exc}")
            continue
        if not reference:
            report.skip(f"{where} ({rec['image_path']})", "no explanation: every description is empty")
            continue
        yield where, rec, reference


def _regions(problems: dict) -> list[dict]:
    """LOKI's regional annotations as ``{"box": [left, top, width, height], "note"}``; DataError if a box is not four numbers."""
    regions = []
    for k, r in enumerate(problems.get("regional") or []):
        box = r.get("region") if isinstance(r, dict) else None
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)):
            raise DataError(f"regional #{k}: 'region' must be [x, y, width, height], got {box!r}")
        regions.append({"box": [float(v) for v in box], "note": str(r.get("desc", "")).strip()})
    return regions


def prepare_explain(annotations: str | Path, images: str | Path, *, check_images: bool = True) -> PrepareReport:
    """``loki_explain``: each open-ended fake image with LOKI's question to the model and the image's annotations."""
    annotations, images = Path(annotations), Path(images)
    report = PrepareReport("loki_explain", sources={"annotations": str(annotations.resolve()), "images": str(images.resolve())})
    for where, rec, reference in _read_open_ended(annotations, report):
        try:
            regions = _regions(rec["problems"])
            if not isinstance(rec.get("question"), str) or not _clean_question(rec["question"]):
                raise DataError("needs the question LOKI asks the model")
        except DataError as exc:
            report.skip(f"{where} ({rec['image_path']})", f"malformed record: {exc}")
            continue
        image = _resolve_image(images, str(rec["image_path"]))
        problem = check_image(image) if check_images else None
        if problem:
            report.skip(f"{where} ({rec['image_path']})", problem)
            continue
        report.records.append({
            "id": str(rec.get("id") or rec["image_path"]),
            "image": str(image),
            "label": "fake",
            "category": "open_ended",
            "question": _clean_question(rec["question"]),
            "overall_notes": [str(g.get("desc", "")).strip() for g in rec["problems"].get("global") or []
                              if isinstance(g, dict) and str(g.get("desc", "")).strip()],
            "regions": regions,
            "reference": reference,
        })
    return report


def _mc_record(rec, i: int) -> dict:
    """One ``multi_choice.json`` question as a record (image paths still relative); DataError names what is wrong."""
    if not isinstance(rec, dict) or not all(k in rec for k in ("image_path", "question", "choices", "answer", "question_type")):
        raise DataError("needs image_path, question, choices, answer, question_type")
    paths, choices = rec["image_path"], rec["choices"]
    if not (isinstance(paths, list) and len(paths) >= 2 and all(isinstance(x, str) for x in paths)):
        raise DataError(f"image_path must list two or more images, got {paths!r}")
    if not (isinstance(choices, list) and len(choices) == len(paths) and all(isinstance(c, str) for c in choices)):
        raise DataError(f"choices must give one option per image, got {choices!r}")
    m = _MC_QTYPE.match(str(rec["question_type"]))
    answer = str(rec["answer"]).strip()
    if not m or answer not in option_letters(len(choices)):
        raise DataError(f"question_type {rec['question_type']!r} / answer {rec['answer']!r}")
    kind, category = m.groups()
    return {
        "id": str(rec.get("id", f"mc{i}")),
        "images": paths,
        # What the question asks to pick: LOKI scores fake_from_real as its fake type, real_from_fake as its real type.
        "label": "fake" if kind == "fake_from_real" else "real",
        "category": category,
        # The question as LOKI shows it: its text, then the lettered options.
        "question": f"{_clean_question(str(rec['question']))}\n{format_options(choices)}",
        "options": choices,
        "answer": answer,
        "cluster": "|".join(sorted(paths)),  # LOKI asks both kinds of question about each pair
    }


def prepare_mc(annotations: str | Path, images: str | Path, *, check_images: bool = True) -> PrepareReport | None:
    """``loki_mc`` from ``multi_choice.json``; None when the annotation folder has no such file."""
    annotations, images = Path(annotations), Path(images)
    if not (annotations / MC_FILE).is_file():
        return None
    data = load_json(annotations / MC_FILE, "loki multi_choice")
    if not isinstance(data, list):
        raise DataError(f"loki: {annotations / MC_FILE} must hold a JSON list, found {type(data).__name__}")
    report = PrepareReport("loki_mc", sources={"annotations": str(annotations.resolve()), "images": str(images.resolve())})
    problems: dict[str, str | None] = {}  # an image is checked once, however many questions show it
    for i, rec in enumerate(data):
        where = f"{MC_FILE}#{i}"
        try:
            record = _mc_record(rec, i)
        except DataError as exc:
            report.skip(where, f"malformed record: {exc}")
            continue
        resolved = [_resolve_image(images, x) for x in record["images"]]
        for path in resolved:
            if str(path) not in problems:
                problems[str(path)] = check_image(path) if check_images else None
        problem = next((problems[str(path)] for path in resolved if problems[str(path)]), None)
        if problem:
            report.skip(f"{where} ({record['id']})", problem)
            continue
        report.records.append({**record, "images": [str(path) for path in resolved]})
    return report


def add_arguments(parser) -> None:
    parser.add_argument("--annotations", required=True, type=Path,
                        help=f"folder with {TF_FILE}, {OE_FILE} and (for loki_mc) {MC_FILE} (LOKI data_json/image)")
    parser.add_argument("--images", required=True, type=Path, help="LOKI root that contains media_data/ (or the image folder itself)")


def run(args) -> list[PrepareReport]:
    """Every LOKI set the annotation folder allows; a set with no source record is named on stderr and not written."""
    import sys

    check = not args.no_image_check
    reports = list(prepare(args.annotations, args.images, check_images=check))
    mc = prepare_mc(args.annotations, args.images, check_images=check)
    explain = prepare_explain(args.annotations, args.images, check_images=check)
    if mc is None:
        print(f"loki_mc: no {MC_FILE} in {args.annotations}: not prepared", file=sys.stderr)
    if not (explain.records or explain.skipped):
        print(f"loki_explain: {OE_FILE} holds no record: not prepared", file=sys.stderr)
    # A set whose records were all skipped is kept: writing it fails and names every skip.
    return reports + [r for r in (mc, explain) if r is not None and (r.records or r.skipped)]


# ------------------------------------------------------------------ the declaration

from collections import Counter  # noqa: E402

from loguru import logger  # noqa: E402

from fakevlm_tasks import hooks  # noqa: E402 - the preparer above needs no lmms-eval glue
from fakevlm_tasks.glue import sample  # noqa: E402
from fakevlm_tasks.services import judge  # noqa: E402
from fakevlm_tasks.hooks import DETECTION_PROMPTS, Benchmark, HubSource, PaperRows, prompted  # noqa: E402
from fakevlm_tasks.tasks.loki.options import parse_option  # noqa: E402

#: LOKI's categories as its question types spell them ("sence" sic).
CATEGORIES = ("animals", "doc", "medicine", "object", "person", "satellite", "sence")
METRICS = hooks.DETECTION_METRICS + tuple(f"acc_{c}" for c in CATEGORIES)
JUDGMENT_METRICS = hooks.LOKI_JUDGMENT_METRICS + tuple(f"loki_score_{c}" for c in CATEGORIES)


def _same_for_every_family(suffix: str) -> dict:
    """LOKI's own protocols ask every model the same thing."""
    return {"fakevlm": suffix, "general": suffix, "api": suffix}


process_docs = hooks.prepared_docs("loki")
judgment_process_docs = hooks.prepared_docs("loki_judgment")
doc_to_text = prompted(DETECTION_PROMPTS)
#: LOKI's own protocol appends this to every yes/no question.
judgment_doc_to_text = prompted(_same_for_every_family(" Answer with yes or no."))
process_results = hooks.detection_results(METRICS)
judgment_process_results = hooks.judgment_results(JUDGMENT_METRICS)


def _answered(results) -> tuple[str, bool, str | None]:
    """The answer's text, whether it is no answer at all, and the adapter's reason if it gave one."""
    text = hooks.answer_text(results)
    failure = sample.failure_of(results)
    return text, failure is not None or hooks.is_failed_answer(text), failure.reason if failure else None


# ------------------------------------------------------------ loki_mc: LOKI's multiple choice

#: LOKI's instruction after the lettered options.
MC_POST_PROMPT = "\nAnswer with the option letter."
MC_METRICS = ("acc", "loki_score", "acc_fake_from_real", "acc_real_from_fake", "fallback_rate", "failed_rate") + tuple(
    f"loki_score_{c}" for c in CATEGORIES)

mc_process_docs = hooks.prepared_docs("loki_mc")
mc_doc_to_text = prompted(_same_for_every_family(MC_POST_PROMPT))


def mc_doc_to_visual(doc):
    """Every image of the question, in the order its options name them."""
    return [image for path in doc["images"] for image in hooks.doc_to_visual({"id": doc["id"], "image": path})]


def mc_record(doc, results) -> dict:
    """The option LOKI's rule reads (``loki``; a seeded letter when it reads none) against the right one (``answer``)."""
    text, failed, failure = _answered(results)
    choice = parse_option(text, doc["options"], seed=doc["id"])
    return {"id": doc["id"], "label": doc["label"], "category": doc.get("category") or "unknown",
            "cluster": doc.get("cluster"), "detection": True, "answer": doc["answer"], "loki": choice.pick,
            "rule": choice.rule, "fallback": choice.fallback, "failed": failed, "failure": failure}


def mc_process_results(doc, results):
    record = mc_record(doc, results)
    return hooks.fan_out(record, record["loki"] == record["answer"], MC_METRICS)


def _share(records, keep) -> float | None:
    return hooks.pct(sum(map(keep, records)) / len(records)) if records else None


def agg_fallback_rate(records):
    """Share of questions whose option LOKI's rule could not read (the seeded letter stands in), x100."""
    return _share(records, lambda r: r["fallback"])


def agg_acc_fake_from_real(records):
    """Accuracy on the questions that ask for the AI-generated image, x100."""
    return _share([r for r in records if r["label"] == "fake"], lambda r: r["loki"] == r["answer"])


def agg_acc_real_from_fake(records):
    """Accuracy on the questions that ask for the image not generated by AI, x100."""
    return _share([r for r in records if r["label"] == "real"], lambda r: r["loki"] == r["answer"])


# ------------------------------------------------------------ loki_explain: LOKI's rubric

EXPLAIN_METRICS = tuple(f"rubric_{c}" for c in judge.RUBRIC_CRITERIA) + (
    "rubric_total", "rubric_coverage", "failed_rate", "judge_model")

explain_process_docs = hooks.prepared_docs("loki_explain")
#: LOKI's question already says the image is fake and what to explain.
explain_doc_to_text = prompted(_same_for_every_family(""))


def rubric_judge() -> judge.JudgeConfig | None:
    """The judge configured by ``FAKEVLM_JUDGE_*`` (read now), or None: without one nothing is graded."""
    try:
        return judge.JudgeConfig.from_env()
    except judge.JudgeNotConfigured:
        return None


def rubric_item(doc, answer: str) -> judge.RubricItem:
    return judge.RubricItem(answer, doc["image"], tuple(doc["overall_notes"]),
                            tuple(judge.Region(tuple(r["box"]), r["note"]) for r in doc["regions"]))


def explain_record(doc, results) -> dict:
    """The judge's grades of the answer (``rubric``: criterion -> 0-5), or why there are none.

    No answer at all earns 0 on every criterion without a request (LOKI's rubric gives 0 to
    a refusal); the judge off leaves ``rubric`` None. The answer itself is in the samples'
    ``resps``, not repeated here.
    """
    text, failed, failure = _answered(results)
    record = {"id": doc["id"], "failed": failed, "failure": failure, "rubric": None, "judge_failure": None,
              "judge_model": None}
    config = rubric_judge()
    if config is None:
        return record
    record["judge_model"] = judge.summary(config.describe("rubric"))
    if failed:
        return {**record, "rubric": dict.fromkeys(judge.RUBRIC_CRITERIA, 0.0)}
    (graded,) = judge.judge_rubric([rubric_item(doc, text)], config)
    if graded.failure:
        logger.warning(f"doc {doc['id']!r}: the judge gave no grade ({graded.failure})")
    return {**record, "rubric": graded.scores, "judge_failure": graded.failure}


def explain_process_results(doc, results):
    record = explain_record(doc, results)
    return {name: record for name in EXPLAIN_METRICS}


def _ungraded(records, metric: str) -> str | None:
    """None when every doc is graded; else why ``metric`` is withheld (logged)."""
    if not any(r["judge_model"] for r in records):
        why = (f"{metric} not computed: no judge is configured. Set FAKEVLM_JUDGE_MODEL (and FAKEVLM_JUDGE_BASE_URL "
               "for a server other than OpenAI's) to grade the explanations; the answers are in the samples")
    else:
        missing = [r for r in records if r["rubric"] is None]
        if not missing:
            return None
        reasons = Counter(r["judge_failure"] or "no grade" for r in missing).most_common(3)
        why = (f"{metric} not computed: {len(missing)} of {len(records)} explanations have no grade "
               f"({'; '.join(f'{n}x {reason}' for reason, n in reasons)}); rerun: the graded ones come from the cache")
    logger.warning(why)
    return why


def _rubric_mean(records, metric: str, value) -> float | None:
    if not records or _ungraded(records, metric):
        return None
    return sum(value(r["rubric"]) for r in records) / len(records)


def _criterion_mean(criterion: str):
    def aggregate(records):
        return _rubric_mean(records, f"rubric_{criterion}", lambda scores: scores[criterion])

    aggregate.__name__ = f"agg_rubric_{criterion}"
    aggregate.__doc__ = f"Mean {criterion} grade (0-5, LOKI's scale) over every explanation; None unless all are graded."
    return aggregate


agg_rubric_overall, agg_rubric_completeness, agg_rubric_correctness, agg_rubric_plausibility = (
    _criterion_mean(c) for c in judge.RUBRIC_CRITERIA)


def agg_rubric_total(records):
    """Mean of the four grades' sum (0-20, LOKI's total) over every explanation; None unless all are graded."""
    return _rubric_mean(records, "rubric_total", lambda scores: sum(scores.values()))


def agg_rubric_coverage(records):
    """Share of explanations the judge graded, x100; None with no judge."""
    if not any(r["judge_model"] for r in records):
        return None
    return _share(records, lambda r: r["rubric"] is not None)


def write_miniature(root: Path) -> list[str]:
    """LOKI's three annotation files under ``root``: one real and one fake image, two yes/no
    questions each, both multiple-choice questions on the pair, and the fake one explained."""
    import json

    from PIL import Image

    media = root / "media_data"
    records, paths = [], []
    for i, (label, category) in enumerate((("real", "sence"), ("fake", "doc"))):
        image = f"media_data/{category}/{i}.png"
        paths.append(image)
        (root / image).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (200 if label == "real" else 40, 90, 90)).save(root / image)
        for asks, question in (("fake", "Is this image generated by AI?"), ("real", "Is this image taken from the real world?")):
            records.append({"image_path": image, "question": question, "answer": "yes" if asks == label else "no",
                            "question_type": f"image_tf_image_{label}_ask_{asks}_{category}", "id": f"{i}{asks}"})
    choices = ["The first one.", "The second one."]
    multi_choice = [
        {"image_path": paths, "question": "<image>\n<image>\nWhich of the above images is most likely not generated by AI?",
         "choices": choices, "answer": "A", "question_type": "image_mc_real_from_fake_doc", "id": "mc_real"},
        {"image_path": paths, "question": "<image>\n<image>\nWhich of the above images is most likely generated by AI?",
         "choices": choices, "answer": "B", "question_type": "image_mc_fake_from_real_doc", "id": "mc_fake"},
    ]
    open_ended = [{"image_path": paths[1], "id": "oe_fake", "question": "<image>\nThis is a fake image. Explain where it seems inauthentic.",
                   "problems": {"global": [{"desc": "The colours are flat."}],
                                "regional": [{"region": [1, 1, 4, 3], "desc": "The edge is smeared."}]}}]
    ann = root / "data_json"
    ann.mkdir(parents=True, exist_ok=True)
    (ann / TF_FILE).write_text(json.dumps(records), encoding="utf-8")
    (ann / MC_FILE).write_text(json.dumps(multi_choice), encoding="utf-8")
    (ann / OE_FILE).write_text(json.dumps(open_ended), encoding="utf-16")
    return ["--annotations", str(ann), "--images", str(media.parent)]


def hub_image_paths(annotations) -> list[str]:
    """The image paths LOKI's yes/no questions name (``media_data/image/...``), to find them in the media archive."""
    data = load_json(annotations / TF_FILE, "loki true_or_false")
    return [str(r["image_path"]) for r in data if isinstance(r, dict) and "image_path" in r] if isinstance(data, list) else []


#: The media archive is on the Hub (``bczhou/LOKI``, which held no annotations at revision 314ddac); the annotations
#: are in LOKI's GitHub repository, which has no licence file, so they are not shipped: the user clones it.
HUB = HubSource(
    repo_id="bczhou/LOKI",
    annotations={"test": tuple(f"data_json/image/{f}" for f in (TF_FILE, OE_FILE, MC_FILE))},
    archives={"test": "media_data.zip"},  # ~7.6 GB: loki_media_aggregate/, which the annotations call media_data/
    image_paths=hub_image_paths,
    annotations_elsewhere=("git clone https://github.com/opendatalab/LOKI", "LOKI/data_json/image"),
)

_TABLE2 = {
    "Deepseek-VL2-small": (25.3, 38.7, 16.4, 39.1), "Deepseek-VL2": (43.1, 39.2, 16.9, 38.8),
    "InternVL2-8B": (52.6, 34.0, 17.9, 47.2), "InternVL2-40B": (50.7, 37.6, 18.4, 47.3),
    "Qwen2-VL-7B": (57.1, 35.0, 18.2, 38.4), "Qwen2-VL-72B": (55.4, 40.9, 17.3, 43.2),
    "GPT-4o (2024-08-06)": (63.4, 57.2, 14.7, 35.4), "CNNSpot": (43.1, 11.4, None, None),
    "FreqNet": (58.9, 50.6, None, None), "Fatformer": (58.8, 48.4, None, None), "UnivFD": (49.0, 35.8, None, None),
    "AIDE (trained on FakeClue)": (65.6, 80.2, None, None), "NPR (trained on FakeClue)": (77.4, 80.0, None, None),
    "FakeVLM": (84.3, 83.7, 20.1, 58.2),
}
#: Table 8: FakeVLM's LOKI accuracy per category.
_TABLE8 = {"sence": 98.9, "animals": 89.7, "person": 73.8, "object": 94.1, "medicine": 69.3, "doc": 85.0, "satellite": 97.2}

BENCHMARK = Benchmark(
    name="loki",
    title="LOKI",
    prepare=run,
    add_arguments=add_arguments,
    prepare_hint="--annotations <LOKI's data_json/image> --images <LOKI root containing media_data/>",
    tasks=("loki", "loki_judgment", "loki_mc", "loki_explain"),
    datasets=("loki", "loki_judgment", "loki_mc", "loki_explain"),
    headline={"loki": ("acc", "f1", "rouge_l", "css"), "loki_judgment": ("loki_score", "acc"),
              "loki_mc": ("loki_score", "acc"), "loki_explain": ("rubric_total",)},
    labels={"loki_judgment": "LOKI (own protocol)", "loki_mc": "LOKI (multiple choice)", "loki_explain": "LOKI (explanations, judged)",
            "loki_score": "LOKI score", "rubric_total": "LOKI rubric (0-20)"},
    ranking={"loki_judgment": "loki_score", "loki_mc": "loki_score"},
    paper=(
        PaperRows("Table 2", {m: {k: v for k, v in zip(("acc", "f1", "rouge_l", "css"), vals) if v is not None} for m, vals in _TABLE2.items()}),
        PaperRows("Table 8", {"FakeVLM": {f"acc_{c}": v for c, v in _TABLE8.items()}}),
    ),
    variants={"loki": ("jpeg50", "resize50", "blur2", "noise10", "grey", "lowpass", "highpass")},
    write_miniature=write_miniature,
    hub=HUB,
)
