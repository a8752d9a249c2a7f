"""LOKI (ICLR 2025) image annotations as prepared sets: ``true_or_false.json``, ``open_ended_vqa.json`` and
``multi_choice.json``.

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

from fakevlm_tasks.hooks import FAKECLUE_QUESTION, DataError, ImagePolicy, PrepareReport, load_json
from fakevlm_tasks.tasks.loki.options import format_options, option_letters

#: LOKI's categories as its question types spell them ("sence" sic).
CATEGORIES = ("animals", "doc", "medicine", "object", "person", "satellite", "sence")
_QTYPE = re.compile(r"^image_tf_image_(real|fake)_ask_(real|fake)_(\w+)$")
_MC_QTYPE = re.compile(r"^image_mc_(fake_from_real|real_from_fake)_(\w+)$")
TF_FILE = "true_or_false.json"
OE_FILE = "open_ended_vqa.json"
MC_FILE = "multi_choice.json"


def _image(images: ImagePolicy, image_path) -> tuple[Path | None, str | None]:
    """``(the image, why it may not be used or None)``. LOKI paths read ``media_data/image/<uuid>.jpg``;
    accept the root above ``media_data`` or the image folder itself."""
    try:
        image = images.path(image_path)
        if not image.exists():
            flat = images.path(Path(image_path).name)
            image = flat if flat.exists() else image
    except DataError as exc:
        return None, f"malformed record: {exc}"
    return image, images.problem(image)


def _list(value, what: str) -> list:
    """``value`` when it is a list, [] when absent; DataError otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(f"{what} must be a list, got {type(value).__name__}")
    return value


def _clean_question(q: str) -> str:
    return q.replace("<image>", "").strip()


def explanation_reference(problems) -> str:
    """Join LOKI's human explanation: non-empty global descriptions first, then regional ones."""
    if not isinstance(problems, dict):
        raise DataError("'problems' must be an object with 'global' and 'regional' lists")
    parts = [str(g.get("desc", "")).strip() for g in _list(problems.get("global"), "'global'") if isinstance(g, dict)]
    parts += [str(r.get("desc", "")).strip() for r in _list(problems.get("regional"), "'regional'") if isinstance(r, dict)]
    return " ".join(p for p in parts if p)


def _read_tf(path: Path, report: PrepareReport, judgment: PrepareReport, images: ImagePolicy) -> dict[str, dict]:
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
        if image_path not in per_image and image_path not in bad_images:
            image, problem = _image(images, rec["image_path"])
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
                "image": per_image[image_path]["image"],
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


def prepare(annotations: str | Path, images: str | Path, *, check_images: bool = True,
            allow_outside_root: bool = False) -> tuple[PrepareReport, PrepareReport]:
    """Return the ``loki`` and ``loki_judgment`` reports from LOKI's annotation folder and media root;
    images outside that root are skipped unless ``allow_outside_root``."""
    annotations, images = Path(annotations), Path(images)
    if not annotations.is_dir():
        raise DataError(f"loki: --annotations {annotations} must be the folder holding {TF_FILE} and {OE_FILE}")
    if not images.is_dir():
        raise DataError(f"loki: --images {images} is not a folder")
    sources = {"annotations": str(annotations.resolve()), "images": str(images.resolve())}
    report = PrepareReport("loki", sources=sources)
    judgment = PrepareReport("loki_judgment", sources=sources)
    policy = ImagePolicy(images, allow_outside_root, check_images)
    per_image = _read_tf(annotations / TF_FILE, report, judgment, policy)

    for where, rec, reference in _read_open_ended(annotations, report):
        image_path = str(rec["image_path"])
        if image_path in per_image:
            per_image[image_path]["reference"] = reference
            continue
        image, problem = _image(policy, rec["image_path"])
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
    for k, r in enumerate(_list(problems.get("regional"), "'regional'")):
        box = r.get("region") if isinstance(r, dict) else None
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)):
            raise DataError(f"regional #{k}: 'region' must be [x, y, width, height], got {box!r}")
        regions.append({"box": [float(v) for v in box], "note": str(r.get("desc", "")).strip()})
    return regions


def prepare_explain(annotations: str | Path, images: str | Path, *, check_images: bool = True,
                    allow_outside_root: bool = False) -> PrepareReport:
    """``loki_explain``: each open-ended fake image with LOKI's question to the model and the image's annotations."""
    annotations, images = Path(annotations), Path(images)
    policy = ImagePolicy(images, allow_outside_root, check_images)
    report = PrepareReport("loki_explain", sources={"annotations": str(annotations.resolve()), "images": str(images.resolve())})
    for where, rec, reference in _read_open_ended(annotations, report):
        try:
            regions = _regions(rec["problems"])
            if not isinstance(rec.get("question"), str) or not _clean_question(rec["question"]):
                raise DataError("needs the question LOKI asks the model")
        except DataError as exc:
            report.skip(f"{where} ({rec['image_path']})", f"malformed record: {exc}")
            continue
        image, problem = _image(policy, rec["image_path"])
        if problem:
            report.skip(f"{where} ({rec['image_path']})", problem)
            continue
        report.records.append({
            "id": str(rec.get("id") or rec["image_path"]),
            "image": str(image),
            "label": "fake",
            "category": "open_ended",
            "question": _clean_question(rec["question"]),
            "overall_notes": [str(g.get("desc", "")).strip() for g in _list(rec["problems"].get("global"), "'global'")
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


def prepare_mc(annotations: str | Path, images: str | Path, *, check_images: bool = True,
               allow_outside_root: bool = False) -> PrepareReport | None:
    """``loki_mc`` from ``multi_choice.json``; None when the annotation folder has no such file."""
    annotations, images = Path(annotations), Path(images)
    policy = ImagePolicy(images, allow_outside_root, check_images)
    if not (annotations / MC_FILE).is_file():
        return None
    data = load_json(annotations / MC_FILE, "loki multi_choice")
    if not isinstance(data, list):
        raise DataError(f"loki: {annotations / MC_FILE} must hold a JSON list, found {type(data).__name__}")
    report = PrepareReport("loki_mc", sources={"annotations": str(annotations.resolve()), "images": str(images.resolve())})
    problems: dict[str, tuple[Path | None, str | None]] = {}  # an image is checked once, however many questions show it
    for i, rec in enumerate(data):
        where = f"{MC_FILE}#{i}"
        try:
            record = _mc_record(rec, i)
        except DataError as exc:
            report.skip(where, f"malformed record: {exc}")
            continue
        for name in record["images"]:
            if name not in problems:
                problems[name] = _image(policy, name)
        problem = next((problems[name][1] for name in record["images"] if problems[name][1]), None)
        if problem:
            report.skip(f"{where} ({record['id']})", problem)
            continue
        report.records.append({**record, "images": [str(problems[name][0]) for name in record["images"]]})
    return report


def add_arguments(parser) -> None:
    parser.add_argument("--annotations", required=True, type=Path,
                        help=f"folder with {TF_FILE}, {OE_FILE} and (for loki_mc) {MC_FILE} (LOKI data_json/image)")
    parser.add_argument("--images", required=True, type=Path, help="LOKI root that contains media_data/ (or the image folder itself)")


def run(args) -> list[PrepareReport]:
    """Every LOKI set the annotation folder allows; a set with no source record is named on stderr and not written."""
    import sys

    options = {"check_images": not args.no_image_check, "allow_outside_root": args.allow_outside_root}
    reports = list(prepare(args.annotations, args.images, **options))
    mc = prepare_mc(args.annotations, args.images, **options)
    explain = prepare_explain(args.annotations, args.images, **options)
    if mc is None:
        print(f"loki_mc: no {MC_FILE} in {args.annotations}: not prepared", file=sys.stderr)
    if not (explain.records or explain.skipped):
        print(f"loki_explain: {OE_FILE} holds no record: not prepared", file=sys.stderr)
    # A set whose records were all skipped is kept: writing it fails and names every skip.
    return reports + [r for r in (mc, explain) if r is not None and (r.records or r.skipped)]


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
