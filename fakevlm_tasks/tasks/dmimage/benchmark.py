"""DMimage (Corvi et al., ICASSP 2023): a test root with one folder per source, 3 real and 30 generated (33 in all).

The label comes from the folder, as in the authors' scoring script (a folder whose name
contains ``real`` is real). Each fake folder belongs to one of 12 generator families,
which the authors' metrics pool against all real images. Images sit exactly one level
below the root (``<folder>/<file>``).
"""

from __future__ import annotations

from pathlib import Path

from fakevlm_tasks.hooks import FAKECLUE_QUESTION, IMAGE_SUFFIXES, DataError, ImagePolicy, PrepareReport

REAL_FOLDERS = ("real_coco_valid", "real_imagenet_val", "real_ucid")
#: The README's tree writes ``real_imagenet_valid``; the scoring script reads ``real_imagenet_val``.
FOLDER_ALIASES = {"real_imagenet_valid": "real_imagenet_val"}
REAL_FAMILY = "real"

#: Generator family -> its fake folders (the 12 families of the authors' results table).
FAMILIES = {
    "ProGAN": ("progan_lsun",),
    "StyleGAN2": ("stylegan2_ffhq_256x256", "stylegan2_lsundog_256x256", "stylegan2_afhqv2_512x512", "stylegan2_ffhq_1024x1024"),
    "StyleGAN3": (
        "stylegan3_r_ffhqu_256x256",
        "stylegan3_t_ffhqu_256x256",
        "stylegan3_r_afhqv2_512x512",
        "stylegan3_r_ffhqu_1024x1024",
        "stylegan3_t_afhqv2_512x512",
        "stylegan3_t_ffhqu_1024x1024",
    ),
    "BigGAN": ("biggan_256", "biggan_512"),
    "EG3D": ("eg3d",),
    "Taming Transformers": ("taming-transformers_class2image_ImageNet", "taming-transformers_noise2image_FFHQ", "taming-transformers_segm2image_valid"),
    "DALL-E Mini": ("dalle-mini_valid",),
    "DALL-E 2": ("dalle_2",),
    "GLIDE": ("glide_text2img_valid",),
    "Latent Diffusion": (
        "latent-diffusion_class2image_ImageNet",
        "latent-diffusion_noise2image_FFHQ",
        "latent-diffusion_noise2image_LSUNbedrooms",
        "latent-diffusion_noise2image_LSUNchurches",
        "latent-diffusion_text2img_valid",
    ),
    "Stable Diffusion": ("stable_diffusion_256",),
    "ADM": (
        "guided-diffusion_class2image_ImageNet",
        "guided-diffusion_noise2image_LSUNbedrooms",
        "guided-diffusion_noise2image_LSUNcats",
        "guided-diffusion_noise2image_LSUNhorses",
    ),
}
FOLDER_FAMILY = {folder: family for family, folders in FAMILIES.items() for folder in folders} | {f: REAL_FAMILY for f in REAL_FOLDERS}


def classify_folder(name: str) -> tuple[str, str] | None:
    """``(label, family)`` of a source folder, or None when it is not one of DMimage's folders."""
    family = FOLDER_FAMILY.get(FOLDER_ALIASES.get(name, name))
    if family is None:
        return None
    return ("real" if family == REAL_FAMILY else "fake"), family


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise DataError(f"unreadable folder: {folder} ({exc})") from None


def prepare(source: str | Path, *, check_images: bool = True, allow_outside_root: bool = False) -> PrepareReport:
    """One record per image of every known source folder; unknown folders and stray files are skipped
    and named, and so are folders and images that resolve outside ``source`` unless ``allow_outside_root``."""
    source = Path(source)
    if not source.is_dir():
        raise DataError(f"dmimage: --source {source} is not a folder")
    report = PrepareReport("dmimage", sources={"source": str(source.resolve())})
    policy = ImagePolicy(source, allow_outside_root, check_images)
    counts: dict[str, int] = {}
    entries = _entries(source)
    for stray in (p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        report.skip(stray.name, "image outside a source folder: its label cannot be known")
    for folder in (p for p in entries if p.is_dir()):
        kind = classify_folder(folder.name)
        if kind is None:
            # Its files are counted, not walked: a folder may be a link to anywhere (to /, the whole disk).
            try:
                n = f"{sum(1 for p in _entries(folder) if p.is_file())} files"
            except DataError:
                n = "files (unreadable)"
            report.skip(f"{folder.name}/", f"unknown source folder: not one of DMimage's {len(FOLDER_FAMILY)} folders; its {n} are not used")
            continue
        outside = policy.outside(folder)
        if outside:
            report.skip(f"{folder.name}/", outside)
            continue
        try:
            files = _entries(folder)
        except DataError as exc:
            report.skip(f"{folder.name}/", str(exc))
            continue
        label, family = kind
        counts[folder.name] = 0
        for path in files:
            where = f"{folder.name}/{path.name}"
            if path.is_dir():
                report.skip(where + "/", "nested folder: DMimage images lie one level below the root")
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                report.skip(where, f"not an image file: suffix {path.suffix or '(none)'!r}")
                continue
            problem = policy.problem(path)
            if problem:
                report.skip(where, problem)
                continue
            counts[folder.name] += 1
            report.records.append(
                {
                    "id": where,
                    "image": str(path.resolve()),
                    "label": label,
                    "category": family,
                    "folder": folder.name,
                    "question": FAKECLUE_QUESTION,
                }
            )
    present = {FOLDER_ALIASES.get(f, f) for f in counts}
    report.sources["images_per_folder"] = counts
    report.sources["missing_folders"] = sorted(f for f in FOLDER_FAMILY if f not in present)
    return report


def add_arguments(parser) -> None:
    parser.add_argument("--source", required=True, type=Path, help="DMimage test root with one folder per source (real_coco_valid, progan_lsun, ...)")


def run(args) -> list[PrepareReport]:
    report = prepare(args.source, check_images=not args.no_image_check, allow_outside_root=args.allow_outside_root)
    missing = report.sources["missing_folders"]
    if missing:
        print(f"dmimage: {len(missing)} of DMimage's {len(FOLDER_FAMILY)} folders are absent from {args.source}: {', '.join(missing)}")
    return [report]


# ------------------------------------------------------------------ the declaration

from fakevlm_tasks import hooks  # noqa: E402 - the preparer above needs no lmms-eval glue
from fakevlm_tasks.scoring import metrics  # noqa: E402
from fakevlm_tasks.hooks import DETECTION_PROMPTS, Benchmark, Metric, PaperRows, prompted  # noqa: E402
from fakevlm_tasks.scoring.parsing import FAKE, REAL  # noqa: E402


def _one_class(records, label: str, key: str):
    """Acc or F1 on the images of one class; F1 takes that class as positive (Table 3: F1 = 2r / (1 + r))."""
    subset = [r for r in records if r["label"] == label]
    if not subset:
        return None
    m = metrics.detection_metrics([r["label"] for r in subset], [r["verdict"] for r in subset])
    if key == "acc":
        return hooks.pct(m["accuracy"])
    return hooks.pct(m["f1_real"] if label == REAL else m["f1_fake"])


@hooks.reads("label", "verdict")
def agg_real_acc(records):
    return _one_class(records, REAL, "acc")


@hooks.reads("label", "verdict")
def agg_real_f1(records):
    return _one_class(records, REAL, "f1")


@hooks.reads("label", "verdict")
def agg_fake_acc(records):
    return _one_class(records, FAKE, "acc")


@hooks.reads("label", "verdict")
def agg_fake_f1(records):
    return _one_class(records, FAKE, "f1")


@hooks.reads("label", "category", "verdict")
def agg_balanced_acc_avg(records):
    """Corvi et al.'s AVR of balanced accuracy over generator families, each pooled with all reals."""
    return hooks.balanced_acc_avg(records)


@hooks.reads("label", "category", "log_odds", "failed")
def agg_auc_family_avg(records):
    """Corvi et al.'s AVR of AUC over families; None (logged) unless every doc has a verdict score."""
    return hooks.auc_avg(records)


#: Table 3's view, then Corvi et al.'s: per generator family (a metric name spells it "tamingtransformers"),
#: its fakes pooled with every real.
METRICS = (
    Metric("real_acc", agg_real_acc, note="Table 3 Real"),
    Metric("real_f1", agg_real_f1, note="positive class = real: 2r / (1 + r)"),
    Metric("fake_acc", agg_fake_acc, note="Table 3 Fake"),
    Metric("fake_f1", agg_fake_f1, note="positive class = fake: 2r / (1 + r)"),
    *hooks.VERDICT_METRICS,
    Metric("balanced_acc_avg", agg_balanced_acc_avg, note="Corvi et al.'s AVR of balanced accuracy over families"),
    Metric("auc_avg", agg_auc_family_avg, note="Corvi et al.'s AVR of AUC; null unless every doc is scored"),
    hooks.SCORE_COVERAGE,
    *hooks.per_group("bacc", hooks.agg_pooled_balanced_acc, FAMILIES, "this family's fakes pooled with all reals"),
    *hooks.per_group("auc", hooks.agg_pooled_auc, FAMILIES),
)

process_docs = hooks.prepared_docs("dmimage")
doc_to_text = prompted(DETECTION_PROMPTS)
process_results = hooks.detection_results(METRICS)


def write_miniature(root: Path) -> list[str]:
    """Two real and two fake folders of DMimage's test root, two images each."""
    from PIL import Image

    for k, folder in enumerate(("real_coco_valid", "real_ucid", "biggan_256", "dalle_2")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (200 if k < 2 else 40, 30 * i, 90)).save(root / folder / f"{i}.png")
    return ["--source", str(root)]


def _table3(real, fake, overall):
    return dict(zip(("real_acc", "real_f1", "fake_acc", "fake_f1", "acc", "f1"), (*real, *fake, *overall)))


BENCHMARK = Benchmark(
    name="dmimage",
    title="DMimage",
    prepare=run,
    add_arguments=add_arguments,
    prepare_hint="--source <DMimage test root, one folder per source>",
    tasks=("dmimage",),
    headline={"dmimage": ("real_acc", "real_f1", "fake_acc", "fake_f1", "acc", "f1")},
    labels={"real_acc": "real Acc", "real_f1": "real F1", "fake_acc": "fake Acc", "fake_f1": "fake F1"},
    groups="family",
    paper=(PaperRows("Table 3", {
        "CNNSpot": _table3((87.8, 88.4), (28.4, 44.2), (40.6, 43.3)),
        "UnivFD": _table3((89.4, 88.3), (44.9, 61.2), (53.9, 60.7)),
        "Gram-Net": _table3((62.8, 54.1), (78.8, 88.1), (67.4, 79.4)),
        "Fusing": _table3((87.7, 86.1), (15.5, 27.2), (40.4, 36.5)),
        "LNP": _table3((63.1, 67.4), (56.9, 72.5), (58.2, 68.3)),
        "AntifakePrompt": _table3((91.3, 92.5), (89.3, 91.2), (90.6, 91.2)),
        "SIDA": _table3((92.9, 93.1), (90.7, 91.0), (91.8, 92.4)),
        "FakeVLM": _table3((98.2, 99.1), (89.7, 94.6), (94.0, 94.3)),
    }),),
    write_miniature=write_miniature,
    metrics={"dmimage": METRICS},
)
