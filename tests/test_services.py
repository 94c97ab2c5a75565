"""The real servers of chapters 09 and 10 (grader/lab/services.py): started on free ports,
pointed elsewhere by DATABASE_URL and MEMCACHED, a database of its own per block, never left
running by a grader that is killed, and real sockets that coexist with virtual time
(grader/lab/realtime.py)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, pristine_course

from grader.course import load_course
from grader.engine.processes import descendants
from grader.lab import services
from grader.lab.clock import new_virtual_loop
from grader.lab.realtime import real_time

needs_memcached = pytest.mark.skipif(
    shutil.which("memcached") is None, reason="memcached is not installed"
)


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped by whoever adopted it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize(("chapter", "server"), [("09", "postgres"), ("10", "memcached")])
def test_a_killed_grader_leaves_no_server_running(
    tmp_path: Path, chapter: str, server: str
) -> None:
    if server == "memcached" and not shutil.which("memcached"):
        pytest.skip("memcached is not installed")
    course = pristine_course(tmp_path / "course", solved=True)
    grader = subprocess.Popen(
        [sys.executable, "-m", "grader", "check", chapter],
        cwd=course,
        env={**os.environ, "COURSE_ROOT": str(course)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        servers: set[int] = set()
        deadline = time.monotonic() + 90
        while not servers and time.monotonic() < deadline and grader.poll() is None:
            servers = {p for p in descendants(grader.pid) if command_name(p) == server}
            time.sleep(0.02)
        assert servers, f"no {server} was started by `grader check {chapter}`"
        grader.send_signal(signal.SIGKILL)
        grader.wait()
        deadline = time.monotonic() + 15
        while any(alive(p) for p in servers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in servers if alive(p)], f"{server} outlived the killed grader"
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.wait()
    if server == "postgres":
        # The run's copy of the cluster, left behind, goes with the next run.
        left = list(Path("/dev/shm").glob(f"{services.RUN_PREFIX}{grader.pid}-*"))
        with services.postgres_server(course):
            pass
        assert not [p for p in left if p.exists()]


def test_postgres_gives_each_block_a_database_of_its_own(tmp_path: Path) -> None:
    import asyncpg  # type: ignore[import-untyped]

    course = pristine_course(tmp_path, solved=True)
    with services.for_chapter(["postgres"], load_course(course)) as env:
        admin = env["DATABASE_URL"]
        assert admin.startswith("postgresql://") and "127.0.0.1" in admin

        async def scenario() -> tuple[str, str, bool]:
            async with services.fresh_database(admin) as first:
                async with services.fresh_database(admin) as second:
                    one = await asyncpg.connect(first)
                    await one.execute("CREATE TABLE t (x int)")
                    await one.close()
                    two = await asyncpg.connect(second)
                    seen = await two.fetchval("SELECT to_regclass('t') IS NOT NULL")
                    await two.close()
            return first, second, seen

        first, second, seen = asyncio.run(scenario())
    assert first != second and not seen
    assert (services.cluster_home(course) / "cluster" / "PG_VERSION").is_file()


def test_environment_points_at_existing_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@db.example:6543/app")
    monkeypatch.setenv("MEMCACHED", "cache.example:11311")
    course = load_course(ROOT)
    with services.for_chapter(["postgres", "memcached"], course) as env:
        assert env["DATABASE_URL"] == "postgresql://someone@db.example:6543/app"
        assert env["MEMCACHED"] == "cache.example:11311"
    assert not (tmp_path / ".grader").exists()


def test_missing_memcached_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMCACHED", raising=False)
    monkeypatch.setattr(services.shutil, "which", lambda name: None)
    monkeypatch.setattr(services.os, "access", lambda path, mode: False)
    with services.for_chapter(["memcached"], load_course(ROOT)) as env:
        assert "MEMCACHED" not in env
        problem = env["MEMCACHED_PROBLEM"]
    assert "apt-get install memcached" in problem and "brew install memcached" in problem


@needs_memcached
def test_real_time_blocks_see_no_false_timeouts() -> None:
    """A 0.2 s timeout around real memcached calls: on the virtual loop, the clock would jump
    to the timeout while a reply is in flight; inside real_time() it cannot."""
    import aiomcache

    async def calls(host: str, port: int) -> tuple[int, float]:
        client = aiomcache.Client(host, port)
        timeouts = 0
        async with real_time():
            loop = asyncio.get_running_loop()
            started, real = loop.time(), time.perf_counter()
            for _ in range(300):
                try:
                    async with asyncio.timeout(0.2):
                        await client.set(b"k", b"v")
                        await client.get(b"k")
                except TimeoutError:
                    timeouts += 1
                    await client.close()
            await asyncio.sleep(0.1)
            drift = (loop.time() - started) - (time.perf_counter() - real)
        await client.close()
        return timeouts, drift

    with services.memcached_server(private=True) as server:
        loop = new_virtual_loop()
        try:
            timeouts, drift = loop.run_until_complete(calls(*server.address))
        finally:
            loop.close()
    assert timeouts == 0
    assert drift <= 0.05, "inside real_time() the loop's clock never runs ahead of real time"
