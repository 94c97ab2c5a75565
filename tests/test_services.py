"""The real servers of chapters 09 and 10 (grader/lab/services.py): started on free ports,
pointed elsewhere by DATABASE_URL and MEMCACHED, a database of its own per block, never left
running by a grader that is killed, and real sockets that coexist with virtual time
(grader/lab/realtime.py). A learner's code reaches PostgreSQL as an ordinary role only:
what a superuser could do from a submission (run programs as the server's user, read the
solutions, change the cluster) PostgreSQL refuses, and nothing a server started outlives it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ROOT, grader, pristine_course

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
        dsn = env["DATABASE_URL"]
        assert dsn.startswith("postgresql://") and "127.0.0.1" in dsn

        async def scenario() -> tuple[str, str, bool]:
            async with services.fresh_database(dsn) as first:
                async with services.fresh_database(dsn) as second:
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


# --- what a learner's code may do with PostgreSQL -------------------------------------------

SOLUTION_09 = ROOT / "solutions" / "ex09_database.py"
POOL_LINE = "            await connection.execute(CREATE_TABLE)\n"
URL_LINE = '        url = dsn or os.environ["DATABASE_URL"]\n'
SLEEPER = "987.654"  # `sleep 987.654`: a process no one else starts
# name: (what the submission adds after POOL_LINE, or in place of URL_LINE; what it is told)
ATTACKS: dict[str, tuple[str, str]] = {
    "copy_to_program": (
        f"            await connection.execute(\"COPY (SELECT 1) TO PROGRAM 'setsid sleep "
        f"{SLEEPER}'\")\n",
        "permission denied to COPY to or from an external program",
    ),
    "pg_read_file": (
        '            print(await connection.fetchval("SELECT pg_read_file($1)", '
        f'"{SOLUTION_09}"))\n',
        "permission denied for function pg_read_file",
    ),
    "alter_system": (
        '            await connection.execute("ALTER SYSTEM SET max_connections = 3")\n',
        'permission denied to set parameter "max_connections"',
    ),
    "superuser_login": (
        '        url = (dsn or os.environ["DATABASE_URL"]).replace("learner@", "postgres@")\n',
        'password authentication failed for user "postgres"',
    ),
}
EXPLAINED = {
    "copy_to_program": "the server refuses it the server's files, its programs, its settings",
    "pg_read_file": "the server refuses it the server's files, its programs, its settings",
    "alter_system": "the server refuses it the server's files, its programs, its settings",
    "superuser_login": "it names the user your app may connect as, and no other user gets in",
}


def sleepers(marker: str) -> list[str]:
    done = subprocess.run(["ps", "-eo", "pid,user,args"], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines() if line.endswith(f" sleep {marker}")]


@pytest.fixture
def own_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the course's own server, not one from the environment."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("DATABASE_URL points the course at a server of someone else's")
    monkeypatch.delenv("DATABASE_URL", raising=False)


@pytest.mark.usefixtures("own_postgres")
def test_learner_code_gets_an_ordinary_role_and_never_the_superuser() -> None:
    import asyncpg

    with services.for_chapter(["postgres"], load_course(ROOT)) as env:
        dsn = env["DATABASE_URL"]
        parts = urlsplit(dsn)
        password = services.superuser_password(services.cluster_home(ROOT))
        for value in env.values():
            assert password not in value and f"{services.ADMIN_ROLE}@" not in value

        async def scenario() -> tuple[dict[str, bool], list[str], list[str]]:
            learner = await asyncpg.connect(dsn)
            try:
                role = await learner.fetchrow(
                    "SELECT rolsuper, rolcreaterole, rolreplication, rolbypassrls "
                    "FROM pg_roles WHERE rolname = current_user"
                )
                member_of = await learner.fetch(
                    "SELECT pg_get_userbyid(roleid) FROM pg_auth_members "
                    "WHERE member = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
                )
            finally:
                await learner.close()
            refused = []
            for user in (services.ADMIN_ROLE, f"{services.ADMIN_ROLE}:a-guess", "nobody"):
                try:
                    other = await asyncpg.connect(dsn.replace(f"{parts.username}@", f"{user}@"))
                except asyncpg.InvalidPasswordError:
                    refused.append(user)
                else:
                    await other.close()
            return dict(role), [row[0] for row in member_of], refused

        role, member_of, refused = asyncio.run(scenario())
    assert parts.username == services.LEARNER_ROLE and parts.password is None
    assert not any(role.values()), role
    assert member_of == []  # not pg_read_server_files, pg_execute_server_program, ...
    assert refused == [services.ADMIN_ROLE, f"{services.ADMIN_ROLE}:a-guess", "nobody"]


@pytest.mark.usefixtures("own_postgres")
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_postgresql_refuses_what_a_superuser_could_do(tmp_path: Path, attack: str) -> None:
    """The review's submissions: COPY ... TO PROGRAM (a program run as the server's user,
    that outlived the grader), pg_read_file on the solutions, ALTER SYSTEM on the cluster,
    and a login as the superuser. Each is refused by PostgreSQL; the check fails and says
    why, at the learner's line; no program runs, nothing is read."""
    line, refusal = ATTACKS[attack]
    source = SOLUTION_09.read_text()
    assert POOL_LINE in source and URL_LINE in source
    if attack == "superuser_login":
        source = source.replace(URL_LINE, line)
    else:
        source = source.replace(POOL_LINE, POOL_LINE + line)
    submission = tmp_path / "ex09_database.py"
    submission.write_text(source)
    tmp_path.chmod(0o755)
    auto_conf = services.cluster_home(ROOT) / "cluster" / "postgresql.auto.conf"
    settings_before = auto_conf.read_text() if auto_conf.is_file() else ""

    graded = grader("check", "09", "--file", str(submission), "--json")

    assert graded.code == 1, graded.stderr
    results = graded.json
    everything = json.dumps(results)
    first = next(t for t in results["tests"] if "pool is opened when serving" in t["name"])
    assert first["status"] == "failed"
    assert refusal in first["output"], first["output"]
    assert EXPLAINED[attack] in first["output"], first["output"]
    assert "ex09_database.py, line" in first["output"]  # the learner's line
    assert results["score"] <= 1  # only the check that reads the source, not the database
    assert "One pool for the app's life" not in everything  # a comment of the solution's
    assert not sleepers(SLEEPER), "a program started through PostgreSQL is still running"
    if auto_conf.is_file():
        assert auto_conf.read_text() == settings_before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a child subreaper is Linux's")
@pytest.mark.usefixtures("own_postgres")
def test_nothing_a_server_started_outlives_it() -> None:
    """The grader's sweep after each child spares the servers and all below them. A program
    a server started and left behind (here, the superuser's own COPY ... TO PROGRAM, in its
    own session: the server's shutdown does not reach it) comes back to the grader when the
    server stops, and for_chapter kills it then."""
    marker = "987.321"
    script = textwrap.dedent(
        f"""
        import contextlib, json, os, subprocess, sys, time
        from pathlib import Path

        from grader.course import load_course
        from grader.engine import processes
        from grader.lab import services

        processes.become_subreaper()  # as the grader is (grader/engine/runner.py)
        started = []
        real_server = services.postgres_server

        @contextlib.contextmanager
        def spy(root=None):
            with real_server(root) as server:
                started.append(server)
                yield server

        services.postgres_server = spy

        def sleepers():
            found = []
            for pid in processes.descendants(os.getpid()):
                with contextlib.suppress(OSError):
                    command = Path(f"/proc/{{pid}}/cmdline").read_bytes().split(b"\\0")
                    if command[:2] == [b"sleep", b"{marker}"]:
                        found.append(pid)
            return found

        def alive(pid):
            try:
                stat = Path(f"/proc/{{pid}}/stat").read_text()
            except OSError:
                return False
            return stat.rsplit(")", 1)[1].split()[0] != "Z"

        with services.for_chapter(["postgres"], load_course(Path(sys.argv[1]))):
            url, password = services._without_password(services.admin_dsn(started[0]))
            sql = "COPY (SELECT 1) TO PROGRAM 'setsid sleep {marker}'"
            subprocess.Popen(
                [str(services.postgres_binaries() / "psql"), "-X", "-q", "-d", url, "-c", sql],
                env={{**os.environ, "PGPASSWORD": password}},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 30
            while not sleepers() and time.monotonic() < deadline:
                time.sleep(0.02)
            during = sleepers()
        after = [pid for pid in during if alive(pid)]
        for pid in after:
            os.kill(pid, 9)  # not to leave it to the machine; the test fails anyway
        print(json.dumps({{"during": during, "after": after}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["during"], "the server never started the program"
    assert seen["after"] == [], "a program the server started outlived it"
    assert not sleepers(marker)


def test_a_cluster_where_every_role_was_trusted_is_made_again() -> None:
    """Clusters made before the learner's role let any role in without a password, the
    superuser too: a course that has one gets a new one on its next run."""
    base = Path(tempfile.mkdtemp(prefix="course-cluster-"))
    try:
        base.chmod(0o755)  # the server's user (nobody, under root) must reach it
        home = base / "postgres"
        template = services.ensure_cluster(home)
        first = services.superuser_password(home)
        # As an earlier course left it: no password file, every role trusted.
        (home / services.PASSWORD_FILE).unlink()
        (template / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        assert services.ensure_cluster(home) == template
        assert services.superuser_password(home) != first
        assert (template / "pg_hba.conf").read_text() == services.POSTGRES_HBA
        assert sorted(p.name for p in home.iterdir()) == sorted(["cluster", services.PASSWORD_FILE])
    finally:
        shutil.rmtree(base, ignore_errors=True)
