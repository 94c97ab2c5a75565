"""`grader autograder`: the Gradescope bundle holds no solutions, and its run_autograder
writes one valid results.json, after every process of the learner's is gone."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from conftest import ROOT, grader

ADVERSARIAL = ROOT / "tests" / "adversarial"


def build(tmp_path: Path, *chapters: str) -> Path:
    out = tmp_path / "bundle" / "autograder.zip"
    graded = grader("autograder", *chapters, "--out", str(out))
    assert graded.code == 0, graded.stdout + graded.stderr
    return out


def test_the_bundle_has_the_grader_and_no_solutions(tmp_path: Path) -> None:
    out = build(tmp_path, "00", "05")
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in bundle.infolist()}
        run_script = bundle.read("run_autograder").decode()
    assert {"setup.sh", "run_autograder", "course/course.toml", "course/pyproject.toml"} <= set(
        names
    )
    assert "course/grader/engine/child.py" in names
    assert not [n for n in names if "solutions" in n or "exercises/" in n or "tests/" in n]
    assert not [n for n in names if "__pycache__" in n]
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert 'CHAPTERS="00,05"' in run_script
    workflow = (out.parent / "classroom.yml").read_text()
    assert "grader check 05 --submission submission" in workflow
    assert "runners: chapter-00,chapter-05" in workflow


def test_the_bundle_installs_as_setup_sh_would(tmp_path: Path) -> None:
    """setup.sh installs course/ with pip: it must build (no file it needs left out)."""
    bundle = build(tmp_path, "00")
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path / "unpacked")
    done = subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "--no-build-isolation", "--wheel-dir", str(tmp_path / "wheel"),
            str(tmp_path / "unpacked" / "course"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as built:
        names = built.namelist()
    assert "grader/engine/child.py" in names
    assert not [n for n in names if n.startswith("solutions/")]


def run_autograder(tmp_path: Path, bundle: Path, files: dict[str, str]) -> dict[str, object]:
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(unpacked)
    script = unpacked / "run_autograder"
    script.chmod(0o755)
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    done = subprocess.run(
        ["bash", str(script)],
        env={
            **os.environ,
            "AUTOGRADER_ROOT": str(root),
            "GRADER": str(Path(sys.executable).parent / "grader"),
            "COURSE_ROOT": str(unpacked / "course"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())  # type: ignore[no-any-return]


def test_run_autograder_grades_a_submission(tmp_path: Path) -> None:
    bundle = build(tmp_path, "00", "01")
    results = run_autograder(
        tmp_path, bundle, {"ex00_start.py": (ROOT / "solutions" / "ex00_start.py").read_text()}
    )
    tests = results["tests"]
    assert isinstance(tests, list)
    by_chapter = {t["name"][:2] for t in tests if t["status"] == "passed"}
    assert by_chapter == {"00"}
    assert "No file ex01_coroutines.py was found" in str(results["output"])


def test_run_autograder_results_cannot_be_rewritten_later(tmp_path: Path) -> None:
    bundle = build(tmp_path, "00")
    hostile = (ADVERSARIAL / "detached_spawn.py").read_text() + (
        ADVERSARIAL / "forge_results_channel.py"
    ).read_text().split('"""', 2)[2]
    results = run_autograder(tmp_path, bundle, {"ex00_start.py": hostile})
    first = (tmp_path / "autograder" / "results" / "results.json").read_text()
    assert results["score"] == 0
    time.sleep(2)
    assert (tmp_path / "autograder" / "results" / "results.json").read_text() == first
