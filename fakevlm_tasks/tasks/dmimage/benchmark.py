"""DMimage (Corvi et al., ICASSP 2023): a test root with one folder per source, 3 real and 30 generated (33 in all).

The label comes from the folder, as in the authors' scoring script (a folder whose name
contains ``real`` is real). Each fake folder belongs to one of 12 generator families,
which the authors' metrics pool against all real images. Images sit exactly one level
below the root (``<folder>/<file>``).
"""

from __future__ import annotations

from pathlib import Path

from .common import FAKECLUE_QUESTION, DataError, PrepareReport, check_image
from .ffpp import IMAGE_SUFFIXES

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


def prepare(source: str | Path, *, check_images: bool = True) -> PrepareReport:
    """One record per image of every known source folder; unknown folders and stray files are skipped and named."""
    source = Path(source)
    if not source.is_dir():
        raise DataError(f"dmimage: --source {source} is not a folder")
    report = PrepareReport("dmimage", sources={"source": str(source.resolve())})
    counts: dict[str, int] = {}
    for stray in sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        report.skip(stray.name, "image outside a source folder: its label cannot be known")
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        kind = classify_folder(folder.name)
        if kind is None:
            n = sum(1 for p in folder.rglob("*") if p.is_file())
            report.skip(f"{folder.name}/", f"unknown source folder: not one of DMimage's {len(FOLDER_FAMILY)} folders; its {n} files are not used")
            continue
        label, family = kind
        counts[folder.name] = 0
        for path in sorted(folder.iterdir()):
            where = f"{folder.name}/{path.name}"
            if path.is_dir():
                report.skip(where + "/", "nested folder: DMimage images lie one level below the root")
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                report.skip(where, f"not an image file: suffix {path.suffix or '(none)'!r}")
                continue
            problem = check_image(path) if check_images else None
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
    report = prepare(args.source, check_images=not args.no_image_check)
    missing = report.sources["missing_folders"]
    if missing:
        print(f"dmimage: {len(missing)} of DMimage's {len(FOLDER_FAMILY)} folders are absent from {args.source}: {', '.join(missing)}")
    return [report]
