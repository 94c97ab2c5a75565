"""Starts one child in the sandbox and watches it until it ends.

The child gets an empty scratch folder as its working directory, a minimal environment, the
resource limits, its own process group (and, under root, a user of its own), and three
pipes: its configuration on stdin, signed events on one descriptor, stack dumps on
another; its raw output goes to a fourth, kept only in part. The supervisor reads them all
without ever blocking, enforces the wall-clock limits (starting up, importing the learner's
file, each check, the whole chapter) and, when the child ends, kills whatever it left.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import processes
from .channel import ChannelError, Reader, new_key
from .limits import ResourceLimits

STARTUP_SECONDS = 60.0  # Python and pytest starting on a busy machine; no learner code yet
GRACE_SECONDS = 3.0  # between two checks, and for the child to exit at the end
STACK_WAIT_SECONDS = 1.0
OUTPUT_KEEP = 8_000  # bytes of the child's raw output kept at the start, and at the end


@dataclass(frozen=True)
class PhaseLimits:
    load: float
    check: float
    deadline: float  # time.monotonic() by which the whole chapter must be done


@dataclass
class ChildRun:
    events: list[dict[str, Any]] = field(default_factory=list)
    timed_out: str | None = None  # "startup", "load", "deadline" or the id of a check
    stack: str = ""  # faulthandler's dump, taken just before a timed-out child is killed
    exit_code: int | None = None
    channel_error: str | None = None
    output_head: bytes = b""
    output_tail: bytes = b""

    @property
    def output(self) -> str:
        text = self.output_head.decode("utf-8", "replace")
        if self.output_tail:
            text += "\n...\n" + self.output_tail.decode("utf-8", "replace")
        return text


class _Finished(Exception):
    """The last event the protocol allows has arrived."""


class Protocol:
    """The only order of events a child may send: collected (exactly the targets), load,
    then start and result for each target in turn. Anything else is a tampered channel."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets
        self.position = 0
        self.state = "collected"

    def accept(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind != self.state:
            raise ChannelError(f"a {kind!r} event where {self.state!r} was due")
        if kind == "collected":
            ids = [c.get("id") for c in event.get("checks", ()) if isinstance(c, dict)]
            if ids != self.targets:
                raise ChannelError("the list of checks is not the one the grader asked for")
            self.state = "load"
        elif kind == "load":
            self.state = "start" if event.get("ok") is True else "done"
        elif kind in ("start", "result"):
            expected = self.targets[self.position] if self.position < len(self.targets) else None
            if event.get("id") != expected:
                raise ChannelError(f"a {kind} event for {event.get('id')!r}, not {expected!r}")
            if kind == "start":
                self.state = "result"
            else:
                self.position += 1
                self.state = "start" if self.position < len(self.targets) else "done"


def run_child(
    config: dict[str, Any],
    *,
    targets: list[str],
    work: Path,
    env: dict[str, str],
    uid: int | None,
    resources: ResourceLimits,
    limits: PhaseLimits,
    keep: set[int],
    on_event: Callable[[dict[str, Any]], None] | None = None,
    fork: bool = False,
) -> ChildRun:
    """`fork`: the child is forked from this process (a warm worker that has imported
    everything already) instead of started as a new interpreter."""
    run = ChildRun()
    key = new_key()
    events_r, events_w = os.pipe()
    stacks_r, stacks_w = os.pipe()
    output_r, output_w = os.pipe()
    config_r, config_w = os.pipe()
    user: dict[str, Any] = {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}
    try:
        if fork:
            process: Any = ForkedChild(config_r, output_w, (events_w, stacks_w), work, env, uid)
        else:
            process = subprocess.Popen(  # noqa: S603  (our own interpreter, fixed arguments)
                [sys.executable, "-I", "-B", "-m", "grader.engine.child"],
                stdin=config_r,
                stdout=output_w,
                stderr=output_w,
                pass_fds=(events_w, stacks_w),
                cwd=str(work),
                env=env,
                start_new_session=True,
                umask=0o077,
                **user,
            )
    finally:
        for fd in (events_w, stacks_w, output_w, config_r):
            os.close(fd)
    try:
        payload = {
            **config,
            "key": key.hex(),
            "events_fd": events_w,
            "stacks_fd": stacks_w,
            "parent": os.getpid(),
            "resources": resources.as_dict(),
            "own_user": uid is not None,
        }
        with contextlib.suppress(BrokenPipeError):
            os.write(config_w, (json.dumps(payload) + "\n").encode())
        os.close(config_w)
        _supervise(process, run, Reader(key), Protocol(targets), events_r, stacks_r, output_r,
                   limits, on_event)  # fmt: skip
    finally:
        _kill(process)
        run.exit_code = process.returncode
        processes.sweep(keep)
        if uid is not None:
            processes.kill_user(uid)
        for fd in (events_r, stacks_r, output_r):
            with contextlib.suppress(OSError):
                os.close(fd)
    return run


def _supervise(
    process: subprocess.Popen[bytes],
    run: ChildRun,
    reader: Reader,
    protocol: Protocol,
    events_fd: int,
    stacks_fd: int,
    output_fd: int,
    limits: PhaseLimits,
    on_event: Callable[[dict[str, Any]], None] | None,
) -> None:
    selector = selectors.DefaultSelector()
    for fd in (events_fd, stacks_fd, output_fd):
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    stacks = bytearray()
    phase, started, current = "startup", time.monotonic(), None

    def pump(timeout: float) -> None:
        nonlocal phase, started, current
        for selected, _ in selector.select(timeout):
            fd = selected.fd
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(fd)
                continue
            if fd == output_fd:
                _keep_output(run, data)
            elif fd == stacks_fd:
                stacks.extend(data)
                del stacks[: max(len(stacks) - 65536, 0)]
            else:
                for event in reader.feed(data):
                    protocol.accept(event)
                    run.events.append(event)
                    kind = event["event"]
                    phase, started = (
                        {
                            "collected": "load",
                            "load": "between",
                            "start": "check",
                            "result": "between",
                        }[kind],
                        time.monotonic(),
                    )
                    current = event.get("id") if kind == "start" else None
                    if on_event is not None:
                        on_event(event)
                    if protocol.state == "done":
                        raise _Finished

    try:
        while True:
            if process.poll() is not None:
                for _ in range(100):  # what the child wrote just before it ended
                    if not selector.get_map() or not selector.select(0):
                        break
                    pump(0)
                if "most recent call first" in stacks.decode("utf-8", "replace"):
                    run.stack = stacks.decode("utf-8", "replace")  # it crashed: where
                return
            limit = {"startup": STARTUP_SECONDS, "load": limits.load, "check": limits.check}.get(
                phase, GRACE_SECONDS + limits.check
            )
            now = time.monotonic()
            left = min(started + limit, limits.deadline) - now
            if left <= 0:
                if now >= limits.deadline:
                    run.timed_out = "deadline"
                else:
                    run.timed_out = {"load": "load", "check": current}.get(phase, phase)
                if phase in ("load", "check"):
                    stacks.clear()
                    run.stack = _dump_stack(process, stacks_fd, stacks)
                return
            pump(min(left, 0.25))
    except _Finished:
        pass  # every verdict is in: what the child does from here on does not matter
    except ChannelError as error:
        run.channel_error = str(error)
    finally:
        selector.close()


def _keep_output(run: ChildRun, data: bytes) -> None:
    room = OUTPUT_KEEP - len(run.output_head)
    if room > 0:
        run.output_head += data[:room]
        data = data[room:]
    if data:
        run.output_tail = (run.output_tail + data)[-OUTPUT_KEEP:]


def _dump_stack(process: subprocess.Popen[bytes], fd: int, stacks: bytearray) -> str:
    try:
        process.send_signal(signal.SIGUSR1)
    except ProcessLookupError:
        return ""
    deadline = time.monotonic() + STACK_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.02)
        with contextlib.suppress(BlockingIOError, OSError):
            while chunk := os.read(fd, 65536):
                stacks.extend(chunk)
        text = stacks.decode("utf-8", "replace")
        if "most recent call first" in text and text.endswith("\n") and process.poll() is None:
            # All threads are dumped one after another: wait for the dump to go quiet.
            time.sleep(0.05)
            with contextlib.suppress(BlockingIOError, OSError):
                while chunk := os.read(fd, 65536):
                    stacks.extend(chunk)
            return stacks.decode("utf-8", "replace")
    return stacks.decode("utf-8", "replace")


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()


class ForkedChild:
    """A child forked from a warm worker, with the same sandbox as a started one (its own
    session, user, working folder, environment and descriptors), behind the part of
    subprocess.Popen's interface the supervisor uses."""

    def __init__(
        self,
        stdin: int,
        output: int,
        keep_fds: tuple[int, ...],
        work: Path,
        env: dict[str, str],
        uid: int | None,
    ) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the forked child never returns from here
            code = 70
            try:
                os.setsid()
                for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGPIPE):
                    signal.signal(signum, signal.SIG_DFL)
                os.dup2(stdin, 0)
                os.dup2(output, 1)
                os.dup2(output, 2)
                highest = max(keep_fds)
                os.closerange(3, min(keep_fds))
                for fd in range(min(keep_fds) + 1, highest):
                    if fd not in keep_fds:
                        with contextlib.suppress(OSError):
                            os.close(fd)
                os.closerange(highest + 1, 65536)
                if uid is not None:
                    os.setgroups([])
                    os.setgid(uid)
                    os.setuid(uid)
                os.umask(0o077)
                os.chdir(work)
                os.environ.clear()
                os.environ.update(env)
                from .child import main

                code = main()
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -signal.SIGKILL
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        while self.poll() is None:
            time.sleep(0.005)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
