"""Binder: the image repo2docker would build, step by step, without Docker.

`jupyter-repo2docker --no-build --debug` prints the Dockerfile that Binder builds from the
repository (it needs no Docker daemon). The test reads it and replays the steps that
concern the course, in the order and as the user the image uses: the Python of the
runtime, the apt packages, then, as the unprivileged user that owns the repository copy,
`pip install` from the repository root, postBuild, and a session through the start
script. A change repo2docker rejects, or one that works only as root, fails here first.

Unprivileged user: when the tests run as root (as CI does), the replay runs as `nobody`,
in a folder of its own under /tmp, with an interpreter `nobody` can run (the system's
python3.X when it is the runtime's version: a pyenv Python under /root may not be).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import ROOT, worktree_copy

from grader.pristine import is_stub

BINDER = ROOT / "binder"
BINDER_USER = ("jovyan", 1000)  # the user mybinder.org builds its images for


def test_runtime_is_a_supported_python() -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-3\.(\d+)", runtime)
    assert match and 11 <= int(match[1]) <= 14, runtime


@dataclass
class Image:
    """What the Dockerfile says about the course's part of the image."""

    python: str  # "3.11"
    apt_packages: list[str]
    # (user, instruction, argument) for every step after the repository is copied in.
    assemble: list[tuple[str, str, str]] = field(default_factory=list)


def instructions(dockerfile: str) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, argument) pairs, continuation lines joined, comments dropped."""
    logical = ""
    for line in dockerfile.splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        word, _, argument = logical.strip().partition(" ")
        yield word.upper(), argument.strip()
        logical = ""


def read_image(dockerfile: str, log: str) -> Image:
    version = re.search(r"python=(\d+\.\d+)", log)
    assert version, f"repo2docker did not say which Python it uses:\n{log}"
    image = Image(python=version[1], apt_packages=[])
    user, copied = "root", False
    for word, argument in instructions(dockerfile):
        if word == "USER":
            user = argument
        elif word == "RUN" and not copied:
            # The repository's apt.txt, installed as repo2docker writes it (the base image's
            # own packages use `apt-get -qq install`).
            for found in re.findall(
                r"apt-get install --yes --no-install-recommends (.+?) &&", argument
            ):
                image.apt_packages += found.split()
        elif word == "COPY" and re.search(r"\ssrc/\s", f" {argument} "):
            copied = True
        elif copied:
            image.assemble.append((user, word, argument))
    assert copied, "the Dockerfile never copies the repository in"
    return image


@pytest.fixture(scope="module")
def repo2docker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """jupyter-repo2docker in a throwaway environment (it is not a course dependency)."""
    venv = tmp_path_factory.mktemp("repo2docker")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "jupyter-repo2docker"],
        check=True,
        timeout=600,
    )
    return venv / "bin" / "jupyter-repo2docker"


@dataclass
class Account:
    name: str
    uid: int
    gid: int

    def command(self, *argv: str) -> list[str]:
        if os.geteuid() == self.uid:
            return list(argv)
        return [
            "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", *argv
        ]  # fmt: skip


def unprivileged() -> Account:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return Account(me.pw_name, me.pw_uid, me.pw_gid)
    if shutil.which("setpriv") is None:
        pytest.fail("running as root needs setpriv (util-linux) to replay Binder as a user")
    nobody = pwd.getpwnam("nobody")
    return Account(nobody.pw_name, nobody.pw_uid, nobody.pw_gid)


def runtime_python(version: str, account: Account) -> str:
    candidates = [
        f"/usr/bin/python{version}",
        f"/usr/local/bin/python{version}",
        shutil.which(f"python{version}") or "",
        *sorted(str(p) for p in Path("/").glob(f"root/.pyenv/versions/{version}.*/bin/python")),
    ]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            account.command(candidate, "-c", "import ensurepip, venv"),
            capture_output=True,
            cwd="/",
        )
        if probe.returncode == 0:
            return candidate
    pytest.fail(f"no Python {version} that {account.name} can run (install python{version}-venv)")


def apt_installed(package: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return shutil.which(package) is not None
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return "install ok installed" in done.stdout


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m[1] or m[2], ""), value)


@pytest.mark.slow
def test_binder_image_steps_install_the_course_and_run_the_grader(repo2docker: Path) -> None:
    account = unprivileged()
    work = Path(tempfile.mkdtemp(prefix="binder-", dir="/tmp"))
    try:
        home = worktree_copy(work / "home")  # in the image, REPO_DIR is the user's HOME
        made = subprocess.run(
            [
                str(repo2docker), "--no-build", "--debug",
                f"--user-name={BINDER_USER[0]}", f"--user-id={BINDER_USER[1]}", str(home),
            ],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr[-3000:]
        image = read_image(made.stdout, made.stderr)
        assert f"--chown={BINDER_USER[1]}:{BINDER_USER[1]} src/" in made.stdout, (
            "the repository should belong to the notebook user in the image"
        )

        # apt packages: what the image would install must be there (CI installs them).
        assert image.apt_packages, "binder/apt.txt should install memcached"
        missing = [p for p in image.apt_packages if not apt_installed(p)]
        assert not missing, f"apt packages of the Binder image not installed here: {missing}"

        # The runtime: the image's Python, as the user.
        python = runtime_python(image.python, account)
        prefix = work / "env"  # the image's NB_PYTHON_PREFIX / KERNEL_PYTHON_PREFIX
        (work / "tmp").mkdir()
        subprocess.run(["chmod", "755", str(work)], check=True)
        subprocess.run(["chown", "-R", f"{account.uid}:{account.gid}", str(work)], check=True)
        env = {
            "HOME": str(home),
            "USER": account.name,
            "NB_USER": account.name,
            "REPO_DIR": str(home),
            "NB_PYTHON_PREFIX": str(prefix),
            "KERNEL_PYTHON_PREFIX": str(prefix),
            "PATH": os.pathsep.join(
                [f"{prefix}/bin", f"{home}/.local/bin", "/usr/local/bin", "/usr/bin", "/bin"]
            ),
            "TMPDIR": str(work / "tmp"),
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
        }

        def run(*argv: str) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(
                account.command(*argv), cwd=home, env=env, capture_output=True, text=True,
                timeout=1500,
            )  # fmt: skip
            assert done.returncode == 0, f"{argv}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            return done

        run(python, "-m", "venv", str(prefix))
        # The assemble steps, in order, as the user the Dockerfile names.
        for user, word, argument in image.assemble:
            if word == "RUN":
                assert user == "${NB_USER}", f"the image runs this as {user}: {argument}"
                run("bash", "-c", argument)
            elif word == "ENV":
                for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', argument):
                    env[key] = expand(value.strip('"'), env)
        assert (home / "grader").is_dir()
        # The install carries the original stubs, for `grader reset` (hatch_build.py).
        stubs = {p.name for p in (prefix / "share/async-quart-course/stubs").glob("ex*.py")}
        exercises = (home / "exercises").glob("ex*.py")
        assert stubs == {p.name for p in exercises if is_stub(p.read_text())}
        config = (home / ".jupyter" / "jupyter_server_config.py").read_text()
        assert (
            "notebooks/00_start.ipynb" in config and (home / "notebooks/00_start.ipynb").is_file()
        )

        # A session: the entrypoint runs the start script before the command.
        memcached_before = listening(11211)
        session = run(env["R2D_ENTRYPOINT"], "grader", "check", "00", "--solutions")
        assert "4/4 checks passed" in session.stdout
        if "memcached" in image.apt_packages:
            assert listening(11211), "binder/start should have started memcached"
            pidfile = work / "tmp" / "course-memcached.pid"
            if not memcached_before and pidfile.is_file():
                os.kill(int(pidfile.read_text().strip()), 15)
    finally:
        shutil.rmtree(work, ignore_errors=True)
