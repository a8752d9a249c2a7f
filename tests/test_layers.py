"""The layering contract of pyproject.toml ([tool.importlinter]) holds, and it catches an upward import.

docs/architecture.md names the layers: entry points (data, report) > the hooks facade > glue > services > scoring.
The contract is checked by import-linter over the installed packages; the second test copies ``fakevlm_tasks`` to a
temporary folder, adds one import that points up a layer, and checks that the same contracts then fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

REPO_ROOT = Path(__file__).resolve().parents[1]
# lint-imports' own entry point, run in a fresh interpreter (grimp reads the packages it finds on sys.path).
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.argv[0] = 'lint-imports'; lint_imports_command()"


def _lint(config: Path, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LINT, str(config), "--no-cache", "--no-logo"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_layers():
    run = _lint(REPO_ROOT / "pyproject.toml", REPO_ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "BROKEN" not in run.stdout and "KEPT" in run.stdout


def _contracts_for_fakevlm_tasks_alone() -> str:
    """pyproject's contracts, restricted to the fakevlm_tasks package (the copy holds only that package)."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    lines = ["[importlinter]", "root_package = fakevlm_tasks", "include_external_packages = true", ""]
    for i, contract in enumerate(config["contracts"]):
        if not any(str(v).startswith("fakevlm_tasks") for v in contract.get("layers", []) + contract.get("source_modules", [])
                   + contract.get("ancestors", [])):
            continue
        lines.append(f"[importlinter:contract:{i}]")
        for key, value in contract.items():
            if isinstance(value, list):
                value = [v for v in value if key != "ancestors" or v.startswith("fakevlm_tasks")]
                lines.append(f"{key} =\n" + "\n".join(f"    {v}" for v in value))
            else:
                lines.append(f"{key} = {value}")
        lines.append("")
    return "\n".join(lines)


@pytest.mark.parametrize("where, upward", [
    ("scoring/metrics.py", "from fakevlm_tasks.report import leaderboard"),
    ("glue/prompts.py", "from fakevlm_tasks.report import site"),
    ("services/judge.py", "from fakevlm_tasks.glue import records"),
    ("scoring/stats.py", "import lmms_eval"),
])
def test_an_injected_upward_import_breaks_the_contract(tmp_path, where, upward):
    shutil.copytree(REPO_ROOT / "fakevlm_tasks", tmp_path / "fakevlm_tasks",
                    # tasks/ stays: its LOKI package is a layer of the contract
                    ignore=shutil.ignore_patterns("__pycache__", "*.yaml", "*.jsonl", "*.js", "*.css", "*.html"))
    config = tmp_path / ".importlinter"
    config.write_text(_contracts_for_fakevlm_tasks_alone(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    clean = _lint(config, tmp_path, env)
    assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-2000:]
    target = tmp_path / "fakevlm_tasks" / where
    target.write_text(target.read_text(encoding="utf-8") + f"\n{upward}  # injected by the test\n", encoding="utf-8")
    broken = _lint(config, tmp_path, env)
    assert broken.returncode != 0 and "BROKEN" in broken.stdout, broken.stdout[-3000:]
