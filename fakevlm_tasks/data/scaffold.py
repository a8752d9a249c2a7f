"""``fakevlm-data new NAME``: a benchmark folder to start from (benchmark.py, task YAML, README).

The scaffold works as it is for a simple official format (a JSON list of
``{"image": relative path, "label": "real" | "fake", "category": ...}``), so that a
contributor can prepare and evaluate it at once, then change the preparer to the real
format. Its README's checklist starts unticked.
"""

from __future__ import annotations

import re
from pathlib import Path

from fakevlm_tasks import TASKS_DIR
from fakevlm_tasks.glue import metric_lists

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

BENCHMARK_PY = '''"""{name}: <one line on the source: paper, where the official files are>.

The official format this preparer reads: <describe it>. Change ``prepare`` to read the
real files; everything else here declares the benchmark for fakevlm-eval.
"""

from __future__ import annotations

import json
from pathlib import Path

from fakevlm_tasks import hooks
from fakevlm_tasks.hooks import DETECTION_PROMPTS, Benchmark, prompted
from fakevlm_tasks.hooks import FAKECLUE_QUESTION, DataError, ImagePolicy, PrepareReport, load_json

LABELS = ("real", "fake")


def prepare(annotations: Path, images: Path, *, check_images: bool = True, allow_outside_root: bool = False) -> PrepareReport:
    """One prepared record per annotation; every record left out is named with its reason."""
    policy = ImagePolicy(Path(images), allow_outside_root, check_images)  # inside --images, wholly decodable
    data = load_json(annotations, "{name} annotations")
    if not isinstance(data, list):
        raise DataError(f"{name}: {{annotations}} must hold a JSON list")
    report = PrepareReport("{name}", sources={{"annotations": str(Path(annotations).resolve())}})
    for i, rec in enumerate(data):
        if not isinstance(rec, dict) or rec.get("label") not in LABELS or "image" not in rec:
            report.skip(f"#{{i}}", "malformed record: needs image and label real|fake")
            continue
        try:
            image = policy.path(rec["image"])
        except DataError as exc:
            report.skip(f"#{{i}}", f"malformed record: {{exc}}")
            continue
        problem = policy.problem(image)
        if problem:
            report.skip(f"#{{i}} ({{rec['image']}})", problem)
            continue
        report.records.append({{
            "id": str(rec["image"]), "image": str(image), "label": rec["label"],
            "category": str(rec.get("category") or "unknown"), "question": FAKECLUE_QUESTION,
            "reference": rec.get("explanation"),
        }})
    return report


def add_arguments(parser) -> None:
    parser.add_argument("--annotations", required=True, type=Path, help="the annotation JSON")
    parser.add_argument("--images", required=True, type=Path, help="the folder the image paths are relative to")


def run(args) -> list[PrepareReport]:
    return [prepare(args.annotations, args.images, check_images=not args.no_image_check,
                    allow_outside_root=args.allow_outside_root)]


METRICS = hooks.DETECTION_METRICS
process_docs = hooks.prepared_docs("{name}")
doc_to_text = prompted(DETECTION_PROMPTS)
process_results = hooks.detection_results(METRICS)


def write_miniature(root: Path) -> list[str]:
    """A two-image copy of the official format, for the generic tests."""
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i, label in enumerate(LABELS):
        Image.new("RGB", (8, 8), (200 if label == "real" else 40, 90, 90)).save(root / "images" / f"{{i}}.png")
        records.append({{"image": f"{{i}}.png", "label": label}})
    (root / "annotations.json").write_text(json.dumps(records), encoding="utf-8")
    return ["--annotations", str(root / "annotations.json"), "--images", str(root / "images")]


BENCHMARK = Benchmark(
    name="{name}",
    title="{name}",
    prepare=run,
    add_arguments=add_arguments,
    prepare_hint="--annotations <annotation JSON> --images <image folder>",
    tasks=("{name}",),
    headline={{"{name}": ("acc", "f1")}},
    write_miniature=write_miniature,
    metrics={{"{name}": METRICS}},  # {name}.yaml's metric_list: `python -m fakevlm_tasks.glue.metric_lists` after a change
)
'''

TASK_YAML = """# {name}: <what the task measures>.
task: {name}
include: {template}
process_docs: !function benchmark.process_docs
doc_to_text: !function benchmark.doc_to_text
process_results: !function benchmark.process_results
"""

README = """# {name}

<One paragraph: what the benchmark is and what its task measures.>

| | |
|---|---|
| Source | <paper, official download, licence> |
| Prepare | `fakevlm-data prepare {name} --annotations <annotation JSON> --images <image folder>` |
| Tasks | `{name}` |
| Code | `benchmark.py` here (preparer, hooks, declaration) |

## Protocol
<Prompt, how the answer is read, metrics and their conventions, what the source leaves open.>

## Citation
```
<BibTeX>
```

## Checklist
- [ ] Is the task an existing benchmark in the literature?
- [ ] Has the preparer been run on the real official files, with every skipped record explained?
- [ ] Has the task been checked against the reference implementation's scoring?
- [ ] Are the paper's numbers, if any, in `BENCHMARK.paper` with their table?

## Changelog
- 0.1: first version.
"""


def scaffold(name: str, where: str | Path = ".") -> Path:
    """Create ``where/name/`` with a working ``benchmark.py``, ``name.yaml`` and README; never overwrites."""
    if not _NAME.match(name):
        raise ValueError(f"benchmark name {name!r}: use lower case letters, digits and _ (it is also the task name)")
    folder = Path(where).expanduser().resolve() / name
    if folder.exists():
        raise FileExistsError(f"{folder} exists already; choose another name or folder")
    folder.mkdir(parents=True)
    (folder / "benchmark.py").write_text(BENCHMARK_PY.format(name=name), encoding="utf-8")
    template = TASKS_DIR / "_fakevlm_template_yaml"
    metric_list = metric_lists.block(metric_lists.DETECTION_METRICS, None, "benchmark.py")  # its METRICS
    (folder / f"{name}.yaml").write_text(TASK_YAML.format(name=name, template=template) + metric_list, encoding="utf-8")
    (folder / "README.md").write_text(README.format(name=name), encoding="utf-8")
    return folder
