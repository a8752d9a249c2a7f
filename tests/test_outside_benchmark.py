"""A benchmark from outside the package is prepared, evaluated and shown exactly like a built-in one.

The test writes a benchmark folder in a temp dir, for an invented official format (a CSV
of ``file;truth;why`` rows, truth ``AI`` or ``camera``), puts its parent on
``$FAKEVLM_BENCHMARKS``, and then uses only the real command-line tools: ``fakevlm-data
prepare``, ``lmms-eval --model fakevlm --tasks <it>`` and ``fakevlm-leaderboard``. No file
of the package is edited.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from lmms_runs import offline_env, results_of, run_fakevlm

pytestmark = pytest.mark.slow

BENCHMARK_PY = '''"""Camtrap: camera-trap photos against generated look-alikes (an invented format for this test).

The official file is ``labels.csv``: ``file;truth;why`` per line, truth ``AI`` or ``camera``.
"""

from __future__ import annotations

from pathlib import Path

from fakevlm_tasks import hooks
from fakevlm_tasks.hooks import DETECTION_PROMPTS, Benchmark, PaperRows, prompted
from fakevlm_tasks.hooks import FAKECLUE_QUESTION, DataError, PrepareReport, check_image

TRUTH = {"AI": "fake", "camera": "real"}


def run(args):
    csv = Path(args.labels)
    if not csv.is_file():
        raise DataError(f"camtrap: no labels file at {csv}")
    report = PrepareReport("camtrap", sources={"labels": str(csv)})
    for i, line in enumerate(csv.read_text(encoding="utf-8").splitlines()[1:]):
        name, truth, why = line.split(";")
        if truth not in TRUTH:
            report.skip(f"labels.csv line {i + 2}", f"malformed record: truth {truth!r} is not AI or camera")
            continue
        image = csv.parent / "photos" / name
        problem = check_image(image)
        if problem:
            report.skip(f"labels.csv line {i + 2}", problem)
            continue
        report.records.append({"id": name, "image": str(image), "label": TRUTH[truth], "category": "wildlife",
                               "question": FAKECLUE_QUESTION, "reference": why})
    return [report]


def add_arguments(parser):
    parser.add_argument("--labels", required=True, help="camtrap's labels.csv")


METRICS = hooks.DETECTION_METRICS
process_docs = hooks.prepared_docs("camtrap")
doc_to_text = prompted(DETECTION_PROMPTS)
process_results = hooks.detection_results(METRICS)

BENCHMARK = Benchmark(
    name="camtrap",
    title="CamTrap",
    prepare=run,
    add_arguments=add_arguments,
    prepare_hint="--labels <camtrap>/labels.csv",
    tasks=("camtrap",),
    headline={"camtrap": ("acc", "f1", "rouge_l")},
    paper=(PaperRows("Table 1", {"CamTrapNet": {"acc": 77.0}}),),
)
'''

TASK_YAML = """task: camtrap
include: {template}
process_docs: !function benchmark.process_docs
doc_to_text: !function benchmark.doc_to_text
process_results: !function benchmark.process_results
"""


def write_official_download(root: Path) -> Path:
    (root / "photos").mkdir(parents=True)
    rows = ["file;truth;why"]
    for i, truth in enumerate(["camera", "AI", "AI", "camera", "sloth"]):
        Image.new("RGB", (8, 8), (30 * i, 90, 90)).save(root / "photos" / f"{i}.png")
        rows.append(f"{i}.png;{truth};This is a {'fake' if truth == 'AI' else 'real'} image. Fur {i}.")
    (root / "labels.csv").write_text("\n".join(rows), encoding="utf-8")
    return root / "labels.csv"


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from fakevlm_tasks.data.cli import main; sys.exit(main())", *args],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def outside(tmp_path) -> dict:
    from fakevlm_tasks import TASKS_DIR

    folder = tmp_path / "my_benchmarks" / "camtrap"
    folder.mkdir(parents=True)
    (folder / "benchmark.py").write_text(BENCHMARK_PY, encoding="utf-8")
    (folder / "camtrap.yaml").write_text(TASK_YAML.format(template=TASKS_DIR / "_fakevlm_template_yaml"), encoding="utf-8")
    (folder / "README.md").write_text("# camtrap\nThe `camtrap` task.\n", encoding="utf-8")
    labels = write_official_download(tmp_path / "download")
    env = offline_env(tmp_path / "prepared", FAKEVLM_BENCHMARKS=str(tmp_path / "my_benchmarks"))
    return {"env": env, "labels": labels, "root": tmp_path}


def test_fakevlm_data_lists_prepares_and_reports_the_outside_benchmark(outside):
    env = outside["env"]
    helped = cli("prepare", "--help", env=env)
    assert "camtrap" in helped.stdout
    missing = cli("status", env=env)
    assert "camtrap" in missing.stdout and "not prepared" in missing.stdout
    done = cli("prepare", "camtrap", "--labels", str(outside["labels"]), env=env)
    assert done.returncode == 0, done.stderr
    assert "4 records prepared, 1 skipped" in done.stdout  # the 'sloth' row is named, not dropped
    manifest = json.loads((outside["root"] / "prepared" / "camtrap" / "manifest.json").read_text())
    assert manifest["skipped_records"][0]["reason"].startswith("malformed record: truth 'sloth'")


def test_the_outside_benchmark_runs_through_lmms_eval_and_appears_in_the_leaderboard(outside, fake_answering_llava):
    env = outside["env"]
    assert cli("prepare", "camtrap", "--labels", str(outside["labels"]), env=env).returncode == 0
    out = outside["root"] / "out"
    old = os.environ.get("FAKEVLM_BENCHMARKS")
    os.environ["FAKEVLM_BENCHMARKS"] = env["FAKEVLM_BENCHMARKS"]  # run_fakevlm starts from this process's environment
    try:
        proc = run_fakevlm(fake_answering_llava, "camtrap", out, outside["root"] / "prepared")
    finally:
        if old is None:
            del os.environ["FAKEVLM_BENCHMARKS"]
        else:
            os.environ["FAKEVLM_BENCHMARKS"] = old
    r = results_of(out, proc)["results"]["camtrap"]
    # The rigged model says "fake" to everything: right on the 2 AI images of 4.
    assert r["acc,none"] == pytest.approx(50.0) and r["f1_fake,none"] == pytest.approx(100 * 2 * 2 / (2 * 2 + 2))

    board = outside["root"] / "board"
    lb = subprocess.run([sys.executable, "-c", "import sys; from fakevlm_tasks.report.cli import main; sys.exit(main())",
                         str(out), "--out", str(board), "--with-paper"], env=env, capture_output=True, text=True, timeout=600)
    assert lb.returncode == 0, lb.stderr
    table = (board / "leaderboard.md").read_text()
    assert "CamTrap" in table  # the benchmark's own title as a column
    assert "CamTrapNet [paper]" in table  # its paper rows
    rows = json.loads((board / "leaderboard.json").read_text())
    rows = rows["rows"] if isinstance(rows, dict) else rows
    assert any(row.get("task") == "camtrap" and row.get("metric") == "acc" and row.get("value") == pytest.approx(50.0) for row in rows)
