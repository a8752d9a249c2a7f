"""FaceForensics++ (c23): frames extracted from the official split's original and manipulated videos.

The user downloads the c23 videos (EULA-gated) and extracts frames into one folder per
video, as the FF++ repository's helper does::

    <root>/original_sequences/youtube/c23/images/953/0000.png ...
    <root>/manipulated_sequences/Deepfakes/c23/images/953_974/0000.png ...

(``frames/`` is accepted in place of ``images/``, and ``original_sequences/c23/`` as the
helper writes it.) A split pair ``[a, b]`` gives the originals ``a`` and ``b`` and, for
every method, the fakes ``a_b`` and ``b_a``. Each video contributes ``--frames-per-video``
frames, evenly spaced from its first frame. The frame-finding helpers are shared with
the DD-VQA preparer, whose images are FF++ frames too.
"""

from __future__ import annotations

import re
from pathlib import Path

from fakevlm_tasks.hooks import FAKECLUE_QUESTION, IMAGE_SUFFIXES, DataError, ImagePolicy, PrepareReport, load_json

#: The four manipulations of FakeVLM's Table 5, in its column order.
METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
#: Every manipulation of the c23 release (FaceShifter was added in 2020; not in Table 5).
ALL_METHODS = METHODS + ("FaceShifter",)
REAL_CATEGORY = "original"
DEFAULT_FRAMES_PER_VIDEO = 32
DEFAULT_COMPRESSION = "c23"
SPLITS_DIR = Path(__file__).resolve().parent / "splits"
FRAME_FOLDERS = ("images", "frames")
_VIDEO_ID = re.compile(r"^\d{3}$")


def split_file(split: str | Path) -> Path:
    """``train`` / ``val`` / ``test`` name a shipped official split file; anything else is a path."""
    if str(split) in ("train", "val", "test"):
        return SPLITS_DIR / f"{split}.json"
    return Path(split)


def load_split(split: str | Path) -> list[tuple[str, str]]:
    """The ``[a, b]`` pairs of an FF++ split file; an error names the file and the bad entry."""
    path = split_file(split)
    data = load_json(path, "ffpp split")
    if not isinstance(data, list):
        raise DataError(f"ffpp: split file {path} must hold a JSON list of [id, id] pairs, found {type(data).__name__}")
    pairs = []
    for i, pair in enumerate(data):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) and _VIDEO_ID.match(v) for v in pair)):
            raise DataError(f"ffpp: split file {path}, entry {i}: {pair!r} is not a pair of 3-digit video ids")
        pairs.append((pair[0], pair[1]))
    return pairs


def video_folder_candidates(root: Path, method: str | None, video: str, compression: str = DEFAULT_COMPRESSION) -> list[Path]:
    """Where the frames of one video may be: ``method=None`` means the original (real) video."""
    if method is None:
        bases = [root / "original_sequences" / "youtube" / compression, root / "original_sequences" / compression]
    else:
        bases = [root / "manipulated_sequences" / method / compression]
    return [base / folder / video for base in bases for folder in FRAME_FOLDERS]


def _frame_order(path: Path):
    # Extracted frames are numbered ("0000.png" or "160.png"): sort by number, not by text.
    return (0, int(path.stem), path.name) if path.stem.isdigit() else (1, 0, path.name)


def video_frames(root: Path, method: str | None, video: str, compression: str = DEFAULT_COMPRESSION) -> tuple[list[Path] | None, list[Path]]:
    """``(frames in order, folders tried)``; frames is None when no folder exists for the video.
    A folder that cannot be listed raises DataError naming it."""
    tried = video_folder_candidates(root, method, video, compression)
    for folder in tried:
        if folder.is_dir():
            try:
                frames = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
            except OSError as exc:
                raise DataError(f"unreadable frame folder: {folder} ({exc})") from None
            return sorted(frames, key=_frame_order), tried
    return None, tried


def evenly_spaced(frames: list, n: int) -> list:
    """``n`` items spread evenly from the first one; all of them when ``n`` is 0 or at least ``len(frames)``."""
    if n <= 0 or n >= len(frames):
        return list(frames)
    return [frames[(i * len(frames)) // n] for i in range(n)]


def split_videos(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """``(real video names, fake video names)`` of a split, in the split file's order."""
    real, fake = [], []
    for a, b in pairs:
        real += [a, b]
        fake += [f"{a}_{b}", f"{b}_{a}"]
    return real, fake


def parse_methods(text: str) -> tuple[str, ...]:
    methods = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown or not methods:
        raise DataError(f"ffpp: unknown method(s) {unknown or text!r}; choose from {', '.join(ALL_METHODS)}")
    return methods


def prepare(
    source: str | Path,
    split: str | Path = "test",
    *,
    methods: tuple[str, ...] = METHODS,
    frames_per_video: int = DEFAULT_FRAMES_PER_VIDEO,
    compression: str = DEFAULT_COMPRESSION,
    check_images: bool = True,
    allow_outside_root: bool = False,
) -> PrepareReport:
    """One record per sampled frame of every original and manipulated video of the split; frames
    that resolve outside ``source`` are skipped unless ``allow_outside_root``."""
    source = Path(source)
    if not source.is_dir():
        raise DataError(f"ffpp: --source {source} is not a folder")
    if frames_per_video < 0:
        raise DataError(f"ffpp: --frames-per-video must be 0 (all frames) or more, got {frames_per_video}")
    pairs = load_split(split)
    real, fake = split_videos(pairs)
    report = PrepareReport(
        "ffpp",
        sources={
            "source": str(source.resolve()),
            "split": str(split_file(split).resolve()),
            "methods": list(methods),
            "frames_per_video": frames_per_video,
            "compression": compression,
        },
    )
    policy = ImagePolicy(source, allow_outside_root, check_images)
    short_videos: dict[str, int] = {}
    videos = [(None, v) for v in real] + [(m, v) for m in methods for v in fake]
    for method, video in videos:
        category = method or REAL_CATEGORY
        where = f"{category}/{video}"
        try:
            frames, tried = video_frames(source, method, video, compression)
        except DataError as exc:
            report.skip(where, str(exc))
            continue
        if frames is None:
            report.skip(where, f"missing video frames: no folder at {tried[0]} (also tried {', '.join(str(t) for t in tried[1:])})")
            continue
        if not frames:
            report.skip(where, f"no frames: {tried[0].parent} has no image files for this video")
            continue
        if len(frames) < frames_per_video:
            short_videos[where] = len(frames)
        for frame in evenly_spaced(frames, frames_per_video):
            problem = policy.problem(frame)
            if problem:
                report.skip(f"{where}/{frame.name}", problem)
                continue
            report.records.append(
                {
                    "id": f"{where}/{frame.name}",
                    "image": str(frame.resolve()),
                    "label": "fake" if method else "real",
                    "category": category,
                    "video": video,
                    "question": FAKECLUE_QUESTION,
                }
            )
    report.sources["videos_with_fewer_frames"] = short_videos
    return report


def add_arguments(parser) -> None:
    parser.add_argument("--source", required=True, type=Path, help="FF++ root holding original_sequences/ and manipulated_sequences/ with extracted frames")
    parser.add_argument("--split", default="test", help="train, val, test (the official files shipped with this package) or a split JSON path [test]")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated manipulations [{','.join(METHODS)}; FaceShifter also accepted]")
    parser.add_argument("--frames-per-video", default=DEFAULT_FRAMES_PER_VIDEO, type=int, help=f"frames per video, evenly spaced from the first; 0 = every extracted frame [{DEFAULT_FRAMES_PER_VIDEO}]")
    parser.add_argument("--compression", default=DEFAULT_COMPRESSION, help=f"compression folder [{DEFAULT_COMPRESSION}]")


def run(args) -> list[PrepareReport]:
    report = prepare(
        args.source,
        args.split,
        methods=parse_methods(args.methods),
        frames_per_video=args.frames_per_video,
        compression=args.compression,
        check_images=not args.no_image_check,
        allow_outside_root=args.allow_outside_root,
    )
    if report.sources["videos_with_fewer_frames"]:
        print(f"ffpp: {len(report.sources['videos_with_fewer_frames'])} videos have fewer than {args.frames_per_video} frames; all their frames are used (listed in manifest.json)")
    return [report]


# ------------------------------------------------------------------ the declaration

from fakevlm_tasks import hooks  # noqa: E402 - the preparer above needs no lmms-eval glue
from fakevlm_tasks.hooks import DETECTION_PROMPTS, Benchmark, Metric, PaperRows, prompted  # noqa: E402

#: The two continuations of the ``ffpp`` task, scored after the question (target delimiter " ").
VERDICT_CHOICES = ("This is a real", "This is a fake")


def doc_to_choice(doc):
    return list(VERDICT_CHOICES)


@hooks.reads("id", "cluster", "label", "category", "log_odds", "failed")
def agg_auc_avg(records):
    """Table 5's "Average": the mean of the per-manipulation AUCs (frame level), each pooled with all reals."""
    return hooks.auc_avg(records, METHODS)


@hooks.reads("id", "cluster", "label", "category", "log_odds", "failed")
def agg_auc_video_avg(records):
    """The same average with each video scored by the mean log-odds of its frames."""
    return hooks.auc_video_avg(records, METHODS)


AUC_AVG = Metric("auc_avg", agg_auc_avg, note="Table 5's Average: mean of the per-manipulation AUCs")
AUC_VIDEO_AVG = Metric("auc_video_avg", agg_auc_video_avg)
AUC_PER_METHOD = hooks.per_group("auc", hooks.agg_pooled_auc, METHODS, "frame-level AUC, real frames vs this manipulation's")
METRICS = (
    AUC_AVG,
    AUC_VIDEO_AVG.noted("the same, each video scored by its frames' mean log-odds"),
    Metric("acc", hooks.agg_acc, note="the likelier continuation taken as the verdict"),
    Metric("f1", hooks.agg_f1, note="positive class = real"),
    Metric("failed_rate", hooks.agg_failed_rate, False, "frames the adapter could not score"),
    hooks.SCORE_COVERAGE,
) + AUC_PER_METHOD
GEN_METRICS = hooks.VERDICT_METRICS + (
    AUC_AVG.noted("null (logged) unless every doc has a verdict score"), AUC_VIDEO_AVG, hooks.SCORE_COVERAGE,
) + AUC_PER_METHOD

process_docs = hooks.prepared_docs("ffpp")
doc_to_text = prompted(DETECTION_PROMPTS)
process_results = hooks.loglikelihood_results(METRICS)
gen_process_results = hooks.detection_results(GEN_METRICS)


def write_miniature(root: Path) -> list[str]:
    """One test pair of FF++ videos (two originals, their four manipulations), two frames each."""
    import json

    from PIL import Image

    for method, videos in ((None, ("001", "002")), *((m, ("001_002", "002_001")) for m in METHODS)):
        for v, video in enumerate(videos):
            base = root / "original_sequences" / "youtube" if method is None else root / "manipulated_sequences" / method
            folder = base / DEFAULT_COMPRESSION / "images" / video
            folder.mkdir(parents=True, exist_ok=True)
            for f in range(2):
                Image.new("RGB", (8, 8), (200 - 150 * (method is not None), 40 * v + f, 90)).save(folder / f"{f:04d}.png")
    (root / "split.json").write_text(json.dumps([["001", "002"]]), encoding="ascii")
    return ["--source", str(root), "--split", str(root / "split.json"), "--frames-per-video", "2"]


BENCHMARK = Benchmark(
    name="ffpp",
    title="FF++",
    prepare=run,
    add_arguments=add_arguments,
    prepare_hint="--source <FF++ root with extracted frames>",
    tasks=("ffpp", "ffpp_gen"),
    headline={"ffpp": ("auc_avg",), "ffpp_gen": ("acc", "auc_avg")},  # the per-manipulation AUCs have a table of their own
    labels={"ffpp_gen": "FF++ (explained)", **{f"auc_{m.lower()}": f"AUC {m}" for m in METHODS}},
    groups="manipulation",
    ranking={"ffpp": "auc_avg", "ffpp_gen": "auc_avg"},
    paper=(PaperRows("Table 5", {
        model: dict(zip(("auc_deepfakes", "auc_face2face", "auc_faceswap", "auc_neuraltextures", "auc_avg"), vals))
        for model, vals in {
            "FWA": (92.1, 90.0, 88.4, 81.2, 87.7), "Face X-ray": (97.9, 98.7, 98.7, 92.9, 95.9),
            "SRM": (97.3, 97.0, 97.4, 93.0, 95.8), "CDFA": (99.9, 86.9, 93.3, 80.7, 90.2),
            "FakeVLM": (97.2, 96.0, 96.8, 95.0, 96.3),
        }.items()
    }),),
    write_miniature=write_miniature,
    metrics={"ffpp": METRICS, "ffpp_gen": GEN_METRICS},
)
