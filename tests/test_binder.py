"""Binder: install from the binder/ files into a fresh virtual environment the way
repo2docker does, then start a session through binder/start and run the grader."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

BINDER = ROOT / "binder"


def test_runtime_is_a_supported_python() -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-3\.(\d+)", runtime)
    assert match and 11 <= int(match[1]) <= 14, runtime


def test_apt_installs_memcached() -> None:
    packages = [
        line
        for line in (BINDER / "apt.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert packages == ["memcached"]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_repo2docker_style_install_runs_the_grader(tmp_path: Path) -> None:
    # repo2docker copies the repository, then installs from binder/ with the repo as cwd.
    repo = tmp_path / "repo"
    shutil.copytree(
        ROOT,
        repo,
        ignore=shutil.ignore_patterns(
            ".venv*",
            ".grader",
            "__pycache__",
            ".pytest_cache",
            ".ruff_cache",
            ".mypy_cache",
            ".git",
        ),
    )
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "VIRTUAL_ENV": str(venv),
        "NO_COLOR": "1",
    }
    env.pop("COURSE_ROOT", None)

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            command, cwd=repo, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{command}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        return done

    run("python", "-m", "pip", "install", "--quiet", "-r", "binder/requirements.txt")
    built = run("bash", "binder/postBuild")
    assert "its grader works" in built.stdout
    config = (home / ".jupyter" / "jupyter_server_config.py").read_text()
    assert (
        "notebooks/00_start.ipynb" in config and (repo / "notebooks" / "00_start.ipynb").is_file()
    )

    memcached_before = listening(11211)
    session = run("binder/start", "grader", "check", "00", "--solutions")
    assert "4/4 checks passed" in session.stdout
    if shutil.which("memcached"):
        assert listening(11211), "binder/start should have started memcached"
        pidfile = Path(os.environ.get("TMPDIR", "/tmp")) / "course-memcached.pid"
        if not memcached_before and pidfile.is_file():
            os.kill(int(pidfile.read_text().strip()), 15)
