"""DD-VQA (ECCV 2024): common-sense questions on FF++ faces, from the ``DQ_FF++`` annotation folder + FF++ frames.

Each annotation file maps a video key (``<manipulation id>_<target>_<source>`` for fakes,
``5_<NNN>`` for originals) to its questions in order, each with 1 to 4 annotator
answers. DD-VQA ships no frames and no frame mapping; following the FakeVLM authors
(opendatalab/FakeVLM issue #3), the k-th question of a video (JSON order) is asked on
the k-th extracted frame of that video (frames sorted by number). The label comes from
the video: originals are real, every manipulation is fake.
"""

from __future__ import annotations

from pathlib import Path

from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.hooks import DataError, ImagePolicy, PrepareReport, load_json

ffpp = benchmarks.module("ffpp")  # DD-VQA's questions are about FF++ videos: its frame layout is FF++'s

#: DD-VQA's manipulation ids -> FF++ method folder (None: the original, real video).
MANIPULATIONS = {"0": "Deepfakes", "1": "Face2Face", "2": "FaceShifter", "3": "FaceSwap", "5": None, "6": "NeuralTextures"}
#: The annotation files of a set folder, as DD-VQA names them (note ``Neuraltexture``).
FILES = ("Deepfakes", "Face2Face", "FaceShifter", "FaceSwap", "Neuraltexture", "Original")
SPLITS = {"test": "test_set", "train": "train_set"}
#: The facial part each of DD-VQA's six question texts asks about.
PARTS = (("the image", "image"), ("skin", "skin"), ("eyebrows", "eyebrows"), ("eyes", "eyes"), ("nose", "nose"), ("mouth", "mouth"))


def question_part(question: str) -> str:
    q = question.lower()
    return next((part for phrase, part in PARTS if phrase in q), "other")


def parse_video_key(key: str) -> tuple[str | None, str]:
    """``(FF++ method or None for an original, FF++ video name)``; DataError if the key is not DD-VQA's form."""
    parts = key.split("_")
    if parts[0] not in MANIPULATIONS:
        raise DataError(f"video key {key!r}: unknown manipulation id {parts[0]!r} (known: {', '.join(MANIPULATIONS)})")
    method = MANIPULATIONS[parts[0]]
    expected = 2 if method is None else 3
    if len(parts) != expected or not all(p.isdigit() and len(p) == 3 for p in parts[1:]):
        form = "5_<NNN>" if method is None else "<id>_<target>_<source>"
        raise DataError(f"video key {key!r}: expected {form} with 3-digit FF++ ids")
    return method, "_".join(parts[1:])


def parse_qa(qa) -> tuple[str, list[str]]:
    """``(question, distinct answers in order)`` of one question entry; DataError says what is wrong."""
    if not isinstance(qa, dict) or not isinstance(qa.get("question"), str) or not qa["question"].strip():
        raise DataError("needs a 'question' string and an 'answer' list")
    answers = qa.get("answer")
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise DataError(f"'answer' must be a list of strings, found {type(answers).__name__}")
    distinct = list(dict.fromkeys(a.strip() for a in answers if a.strip()))
    if not distinct:
        raise DataError("'answer' holds no non-empty answer")
    return qa["question"].strip(), distinct


def set_folder(annotations: Path, split: str) -> Path:
    """The ``test_set`` / ``train_set`` folder: under ``DQ_FF++/`` or given directly."""
    if split not in SPLITS:
        raise DataError(f"ddvqa: --split {split!r}; DD-VQA has annotation files for {', '.join(SPLITS)} only")
    for candidate in (annotations / SPLITS[split], annotations):
        if all((candidate / name / f"{name}.json").is_file() for name in FILES):
            return candidate
    missing = [str(annotations / SPLITS[split] / name / f"{name}.json") for name in FILES if not (annotations / SPLITS[split] / name / f"{name}.json").is_file()]
    raise DataError(f"ddvqa: --annotations {annotations} must be DD-VQA's DQ_FF++ folder; missing: {', '.join(missing)}")


def _read_video(report, fname, key, questions, policy: ImagePolicy, compression) -> None:
    where = f"{fname}.json {key}"
    try:
        method, video = parse_video_key(key)
        if not isinstance(questions, dict) or not questions:
            raise DataError("expected an object of question id -> {question, answer}")
    except DataError as exc:
        report.skip(where, f"malformed record: {exc}")
        return
    try:
        frames, tried = ffpp.video_frames(policy.root, method, video, compression)
    except DataError as exc:
        report.skip(where, str(exc))
        return
    for k, (qid, qa) in enumerate(questions.items()):
        record = f"{where}/{qid}"
        try:
            question, answers = parse_qa(qa)
        except DataError as exc:
            report.skip(record, f"malformed record: {exc}")
            continue
        if frames is None:
            report.skip(record, f"missing video frames: no folder at {tried[0]} (also tried {', '.join(str(t) for t in tried[1:])})")
            continue
        if k >= len(frames):
            report.skip(record, f"too few frames: question {k} (0-based) needs frame {k}, video {video} has {len(frames)} extracted")
            continue
        problem = policy.problem(frames[k])
        if problem:
            report.skip(record, problem)
            continue
        report.records.append(
            {
                "id": f"{key}/{qid}",
                "image": str(frames[k].resolve()),
                "label": "fake" if method else "real",
                "category": method or ffpp.REAL_CATEGORY,
                "part": question_part(question),
                "video": video,
                "frame_index": k,
                "question": question,
                "reference": answers,
            }
        )


def prepare(annotations: str | Path, images: str | Path, split: str = "test", *, compression: str = ffpp.DEFAULT_COMPRESSION,
            check_images: bool = True, allow_outside_root: bool = False) -> PrepareReport:
    """One record per DD-VQA question of the split, on the FF++ frame the FakeVLM convention assigns
    it; frames that resolve outside ``images`` are skipped unless ``allow_outside_root``."""
    annotations, images = Path(annotations), Path(images)
    if not images.is_dir():
        raise DataError(f"ddvqa: --images {images} is not a folder")
    folder = set_folder(annotations, split)
    report = PrepareReport(
        "ddvqa",
        sources={"annotations": str(folder.resolve()), "images": str(images.resolve()), "split": split, "compression": compression},
    )
    policy = ImagePolicy(images, allow_outside_root, check_images)
    seen: set[str] = set()
    for fname in FILES:
        path = folder / fname / f"{fname}.json"
        data = load_json(path, "ddvqa annotations")
        if not isinstance(data, dict):
            raise DataError(f"ddvqa: {path} must hold a JSON object of video key -> questions, found {type(data).__name__}")
        for key, questions in data.items():
            if key in seen:
                report.skip(f"{fname}.json {key}", "duplicate record: the video appears in an earlier file")
                continue
            seen.add(key)
            _read_video(report, fname, key, questions, policy, compression)
    return report


def add_arguments(parser) -> None:
    parser.add_argument("--annotations", required=True, type=Path, help="DD-VQA's DQ_FF++ folder (holding test_set/ and train_set/)")
    parser.add_argument("--images", required=True, type=Path, help="FF++ root with extracted frames (layout as for `prepare ffpp`)")
    parser.add_argument("--split", default="test", choices=sorted(SPLITS), help="which DD-VQA set [test]")
    parser.add_argument("--compression", default=ffpp.DEFAULT_COMPRESSION, help=f"FF++ compression folder [{ffpp.DEFAULT_COMPRESSION}]")


def run(args) -> list[PrepareReport]:
    return [prepare(args.annotations, args.images, args.split, compression=args.compression,
                    check_images=not args.no_image_check, allow_outside_root=args.allow_outside_root)]


# ------------------------------------------------------------------ the declaration

from fakevlm_tasks import hooks  # noqa: E402 - the preparer above needs no lmms-eval glue
from fakevlm_tasks.hooks import Benchmark, PaperRows, prompted  # noqa: E402

#: The categories of DD-VQA's docs: the FF++ manipulation of the video, or "original".
CATEGORIES = ("Deepfakes", "Face2Face", "FaceShifter", "FaceSwap", "NeuralTextures", ffpp.REAL_CATEGORY)
METRICS = hooks.DETECTION_METRICS + hooks.per_group("acc", hooks.agg_acc, CATEGORIES, "accuracy on this category's images")

process_docs = hooks.prepared_docs("ddvqa")
#: DD-VQA asks about one part of the face ("Do the person's eyes look real/fake?"), so a general
#: model is asked for the part's verdict first, as the annotators answered.
doc_to_text = prompted({
    "fakevlm": "",
    "general": " Say first whether it looks real or fake, then explain the visual evidence.",
    "api": " Say first whether it looks real or fake, then explain the visual evidence. You must choose one of the two; if you are unsure, give your best guess.",
})
process_results = hooks.detection_results(METRICS)


def write_miniature(root: Path) -> list[str]:
    """One fake and one real FF++ video with a DD-VQA question each, and their frames."""
    import json

    from PIL import Image

    question = "Does the image looks real/fake?"
    entries = {"Deepfakes": {"0_001_002": {"0": {"question": question, "answer": ["The image looks fake. The jaw has seams."]}}},
               "Original": {"5_001": {"0": {"question": question, "answer": ["The image looks real. The lighting is natural."]}}}}
    for fname in FILES:  # every annotation file must exist; the others hold no video here
        folder = root / "DQ_FF++" / SPLITS["test"] / fname
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{fname}.json").write_text(json.dumps(entries.get(fname, {})), encoding="utf-8")
    for method, video in (("Deepfakes", "001_002"), (None, "001")):
        base = root / "frames" / ("original_sequences/youtube" if method is None else f"manipulated_sequences/{method}")
        (base / ffpp.DEFAULT_COMPRESSION / "images" / video).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (40 if method else 200, 90, 90)).save(base / ffpp.DEFAULT_COMPRESSION / "images" / video / "0000.png")
    return ["--annotations", str(root / "DQ_FF++"), "--images", str(root / "frames")]


BENCHMARK = Benchmark(
    name="ddvqa",
    title="DD-VQA",
    prepare=run,
    add_arguments=add_arguments,
    prepare_hint="--annotations <DD-VQA DQ_FF++ folder> --images <FF++ frames root>",
    tasks=("ddvqa",),
    headline={"ddvqa": ("acc", "f1", "rouge_l", "css")},
    groups="manipulation",
    paper=(PaperRows("Table 4", {
        model: {k: v for k, v in zip(("acc", "f1", "rouge_l", "css"), vals) if v is not None}
        for model, vals in {
            "InternVL2-8B": (56.9, 53.1, 14.3, 51.1), "InternVL2-40B": (52.5, 57.7, 22.2, 54.5),
            "Qwen2-VL-7B": (45.7, 58.9, 26.6, 56.5), "Qwen2-VL-72B": (59.5, 57.9, 20.5, 56.6),
            "GPT-4o (2024-08-06)": (53.2, 31.7, 13.0, 42.7), "Common-DF-T": (83.7, 87.6, 57.7, None),
            "Common-DF-I": (84.9, 88.4, 58.8, None), "Common-DF-TI": (87.5, 90.1, 60.9, None),
            "FakeVLM": (93.2, 93.1, 70.4, 86.6),
        }.items()
    }),),
    write_miniature=write_miniature,
    metrics={"ddvqa": METRICS},
)
