"""The wheel that ``pip install fakevlm-eval`` (or a git URL) builds carries every file the
package needs: the task YAMLs and benchmark folders, the site's assets, the demo's data and
the training configs, not just the Python modules an editable install finds in the tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


#: Source folder -> the import name it is installed under (pyproject.toml's package-dir).
INSTALLED_AS = {"fakevlm_tasks": "fakevlm_tasks", "fakevlm_model": "fakevlm_model",
                "fakevlm_toys": "fakevlm_toys", "training": "fakevlm_training"}
#: Tracked files that document the source tree and are not needed at run time.
NOT_SHIPPED = {"training/README.md"}


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files are tracked")
    out = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", *INSTALLED_AS], check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line and line not in NOT_SHIPPED]


def test_the_wheel_ships_every_tracked_file_of_the_packages(tmp_path):
    pytest.importorskip("setuptools")
    tracked = tracked_files()
    # A copy, so that the build's build/ and egg-info never land in the checkout.
    source = tmp_path / "src"
    for rel in [*tracked, "pyproject.toml", "README.md", "LICENSE"]:
        if (REPO_ROOT / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / rel, source / rel)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "wheel"), str(source)], check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "wheel").glob("fakevlm_eval-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for rel in tracked:
        top, _, rest = rel.partition("/")
        expected.add(f"{INSTALLED_AS[top]}/{rest}")
    missing = sorted(expected - shipped)
    assert not missing, f"{len(missing)} tracked files are not in the wheel, e.g. {missing[:10]}"
    assert any(n.startswith("fakevlm_tasks/tasks/fakeclue/") and n.endswith(".yaml") for n in shipped)
    entry_points = next(n for n in shipped if n.endswith(".dist-info/entry_points.txt"))
    assert "fakevlm_model.plugin:manifests" in zipfile.ZipFile(wheel).read(entry_points).decode()
