"""scripts/start as a learner meets it: JupyterLab opens on the course folder, where
exercises/ can be browsed, and `grader` works in a terminal opened inside JupyterLab.

The real server runs (on a free local port, no browser, a token of our own), offline: the
environment is installed already, so starting must not need the network. A terminal is
opened through JupyterLab's REST API and driven over its WebSocket, as the browser does.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT
from websockets.sync.client import connect

from grader.course import load_course

OFFLINE = {
    "PIP_INDEX_URL": "http://127.0.0.1:9/",
    "PIP_NO_INDEX": "1",
    "PIP_CONFIG_FILE": os.devnull,
    "PIP_FIND_LINKS": "",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`bash scripts/start` running; yields (base URL, token); stopped afterwards."""
    port, token = free_port(), secrets.token_hex(16)
    # A PATH as a desktop session or a fresh login has it: the course's tools are not on it.
    plain_path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != Path(sys.executable).parent
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTEST_"))},
        **OFFLINE,
        "PATH": plain_path,
        "VENV": sys.prefix,  # the environment running these tests, installed by scripts/install
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "SHELL": "/bin/bash",
    }
    env.pop("VIRTUAL_ENV", None)
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(
        [
            "bash",
            str(ROOT / "scripts" / "start"),
            "--no-browser",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail("scripts/start ended:\n" + (tmp_path / "lab.log").read_text())
            try:
                if httpx.get(f"{base}/api/status", params={"token": token}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("JupyterLab did not answer:\n" + (tmp_path / "lab.log").read_text())
            time.sleep(0.2)
        yield base, token
    finally:
        stop(server)
        log.close()


def stop(server: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, None)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    server.wait()


def terminal_run(base: str, token: str, command: str, marker: str) -> str:
    """Type `command` in a new JupyterLab terminal; what it printed up to `marker`."""
    made = httpx.post(f"{base}/api/terminals", params={"token": token})
    assert made.status_code == 200, made.text
    name = made.json()["name"]
    ws_url = base.replace("http", "ws", 1) + f"/terminals/websocket/{name}?token={token}"
    seen = ""
    try:
        with connect(ws_url, open_timeout=30) as terminal:
            terminal.send(json.dumps(["stdin", command + "\r"]))
            deadline = time.monotonic() + 60
            while marker not in seen and time.monotonic() < deadline:
                kind, *data = json.loads(terminal.recv(timeout=60))
                if kind == "stdout":
                    seen += data[0]
    finally:
        httpx.delete(f"{base}/api/terminals/{name}", params={"token": token})
    assert marker in seen, seen
    return seen


@pytest.mark.slow
def test_start_opens_the_course_folder_and_its_terminals_find_grader(
    lab: tuple[str, str],
) -> None:
    base, token = lab
    course = load_course(ROOT)
    root = httpx.get(f"{base}/api/contents", params={"token": token, "content": 1}).json()
    assert {"course.toml", "exercises", "notebooks"} <= {item["name"] for item in root["content"]}
    exercises = httpx.get(f"{base}/api/contents/exercises", params={"token": token})
    assert exercises.status_code == 200, exercises.text
    names = {item["name"] for item in exercises.json()["content"]}
    assert {c.exercise.name for c in course.chapters} <= names
    # The notebook's "Your exercise" link (../exercises/...) resolves from notebooks/.
    notebook = httpx.get(
        f"{base}/api/contents/notebooks/00_start.ipynb", params={"token": token, "content": 0}
    )
    assert notebook.status_code == 200

    seen = terminal_run(
        base,
        token,
        "command -v grader; grader --help | head -n 1; echo done-$((40 + 2))",
        "done-42",
    )
    assert str(Path(sys.prefix, "bin", "grader")) in seen, seen
    assert "usage: grader" in seen, seen
