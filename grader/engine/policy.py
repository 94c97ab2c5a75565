"""What a learner's code may not do, enforced inside the child by a CPython audit hook
(PEP 578: once added, it cannot be removed) and by the learner module's own `__import__`.

A refused action raises SandboxRefusal where it happens and is recorded, so the check fails
with the reason even if the learner's code catches the exception. Blame follows the stack
from the action outwards, as the blocking-call detector does: the learner's file reached
before any trusted package (the grader, pytest, the web stack, concurrent.futures for
process pools) means the learner's code did it; a trusted package first means it did it on
its own account. The standard library is neutral: it acts for whoever called it.

The hook sees direct actions. What it cannot see (a module fetched from sys.modules, a
frame's globals, attributes set on a library's classes) is flagged by grader.engine.scan
and caught after the fact by grader.engine.integrity.
"""

from __future__ import annotations

import builtins
import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

FORBIDDEN_IMPORTS = frozenset(
    {
        "grader", "pytest", "_pytest", "pluggy", "looptime", "faulthandler", "ctypes",
        "_ctypes", "gc", "builtins", "importlib", "solutions", "tests", "blockbuster",
        "resource", "pty", "_posixsubprocess",
    }
)  # fmt: skip
SPAWN = frozenset(
    {
        "os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn",
        "subprocess.Popen", "pty.spawn", "os.startfile",
    }
)  # fmt: skip
FILE_CHANGES = frozenset(
    {
        "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
        "os.symlink", "os.truncate", "os.utime", "os.chflags", "os.lchflags", "os.mkfifo",
        "os.mknod", "shutil.rmtree", "shutil.copyfile", "shutil.copymode", "shutil.copystat",
        "shutil.copytree", "shutil.move", "shutil.chown", "os.setxattr", "os.removexattr",
    }
)  # fmt: skip
SIGNALS = frozenset({"os.kill", "os.killpg", "signal.pthread_kill", "os.pidfd_open"})
# Frames lead everywhere (f_back walks up to the grader's own frames, which no event
# reports): code of the learner's may never get one, directly or through the standard
# library (inspect.stack, traceback.walk_stack, task.get_stack), in any thread. Blame walks
# out as for processes, and only these modules may take frames on the learner's behalf,
# because they never hand them back: logging (the caller's line), warnings (the caller's
# module), the factories that name the caller's module, and traceback's formatters.
FRAME_EVENTS = frozenset({"sys._getframe", "sys._current_frames", "sys._current_exceptions"})
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"})
INTROSPECTORS = ("logging", "warnings", "collections", "enum", "typing", "dataclasses")
TRACEBACK_FORMATTERS = frozenset(
    {
        "format_exc", "print_exc", "format_exception", "print_exception", "format_tb",
        "print_tb", "extract_tb", "format_exception_only", "print_last", "format_list",
        "__init__", "format", "print", "from_exception", "_load_lines", "extract",
        "_extract_from_extended_frame_gen", "format_stack_entry", "_format_syntax_error",
    }
)  # fmt: skip
# Standard-library functions that read frames for their own purposes and hand none out:
# asyncio's repr of a task or coroutine (the line it waits at, as text: the loop makes one
# when a callback fails), get_event_loop on 3.12-3.13 (the stacklevel of its deprecation
# warning), and the creation tracebacks of handles, futures and tasks in debug mode (text).
STDLIB_FRAME_USERS = frozenset(
    {
        ("asyncio", "coroutines.py", "_format_coroutine"),
        ("asyncio", "events.py", "get_event_loop"),
        ("asyncio", "events.py", "__init__"),
        ("asyncio", "futures.py", "__init__"),
        ("asyncio", "format_helpers.py", "extract_stack"),
    }
)
# Looked at for the line that makes the call (the standard library uses them legitimately
# on a learner's behalf: dataclasses compile code, inspect reads code flags), and refused
# too when that line is a thread's or a loop callback's bare start (a C function handed to
# an executor or to call_soon, which would otherwise have no line of the learner's at all).
DIRECT = frozenset(
    {
        "sys.settrace", "sys.setprofile", "sys.addaudithook", "exec", "compile", "code.__new__",
        "function.__new__", "resource.setrlimit", "resource.prlimit",
        "sys.monitoring.register_callback", "cpython._PySys_ClearAuditHooks",
        "object.__getattr__", "object.__setattr__",
    }
)  # fmt: skip
# Attribute reads and writes the direct rule refuses (others, such as a decorator setting
# __name__ or __module__, are what functools.wraps and dataclasses do).
CODE_READS = frozenset({"__code__", "gi_code", "cr_code", "ag_code"})
CODE_WRITES = frozenset({"__code__", "__defaults__", "__kwdefaults__", "__globals__"})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class SandboxRefusal(BaseException):  # noqa: N818  (not an Exception: `except Exception` in
    """Raised where a learner's code does what no exercise needs."""  # learner code misses it)


@dataclass
class Policy:
    learner_files: frozenset[str]
    trusted_dirs: tuple[str, ...]  # packages whose actions are their own
    spawn_dirs: tuple[str, ...]  # may start processes for the learner (concurrent.futures)
    hidden_dirs: tuple[str, ...]  # never read by the learner (solutions/, /proc, the tests)
    allowed_imports: frozenset[str] = frozenset()
    # May open files for writing on the learner's behalf: process pools set up their pipes
    # and semaphores (spawn, forkserver) through multiprocessing.
    pool_dirs: tuple[str, ...] = ()
    refusals: list[str] = field(default_factory=list)

    @property
    def forbidden_imports(self) -> frozenset[str]:
        return FORBIDDEN_IMPORTS - self.allowed_imports

    def as_dict(self) -> dict[str, Any]:
        return {
            "learner_files": sorted(self.learner_files),
            "trusted_dirs": list(self.trusted_dirs),
            "spawn_dirs": list(self.spawn_dirs),
            "hidden_dirs": list(self.hidden_dirs),
            "allowed_imports": sorted(self.allowed_imports),
            "pool_dirs": list(self.pool_dirs),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        return cls(
            frozenset(data["learner_files"]),
            tuple(data["trusted_dirs"]),
            tuple(data["spawn_dirs"]),
            tuple(data["hidden_dirs"]),
            frozenset(data.get("allowed_imports", ())),
            tuple(data.get("pool_dirs", ())),
        )


def package_dirs(names: Iterable[str]) -> tuple[str, ...]:
    """Folders of installed packages, found without importing them."""
    import importlib.util

    found: list[str] = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            found.extend(str(p) + os.sep for p in spec.submodule_search_locations)
        elif spec.origin:
            found.append(spec.origin)
    return tuple(found)


def install(policy: Policy) -> None:
    """Add the audit hook for `policy` to this process. Idempotent per process."""
    refuse = _refuser(policy)
    sys.addaudithook(_make_hook(policy, refuse))


def guard_module_imports(namespace: dict[str, Any], policy: Policy) -> None:
    """Give the learner's module an `__import__` that refuses the grader's own machinery,
    even modules already imported (which the audit hook's "import" event does not see)."""
    original = builtins.__import__
    forbidden = policy.forbidden_imports
    refuse = _refuser(policy)

    def guarded_import(
        name: str,
        globals: Any = None,  # noqa: A002  (the signature of __import__)
        locals: Any = None,  # noqa: A002
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        if level == 0 and name.partition(".")[0] in forbidden:
            refuse(f"imported {name}", "import")
        return original(name, globals, locals, fromlist, level)

    learner_builtins = dict(vars(builtins))
    learner_builtins["__import__"] = guarded_import
    namespace["__builtins__"] = learner_builtins


def _refuser(policy: Policy) -> Callable[[str, str], None]:
    def refuse(what: str, kind: str) -> None:
        reason = f"your file {what}: {WHY[kind]}"
        if reason not in policy.refusals:
            policy.refusals.append(reason)
        raise SandboxRefusal(reason)

    return refuse


WHY = {
    "import": "exercises never need it, and the grader does not allow it",
    "spawn": "exercises never start other programs (process pools go through concurrent.futures)",
    "write": "exercises never write, move or delete files",
    "read": "that is not yours to read",
    "signal": "exercises never send signals to processes",
    "introspect": "exercises never inspect the interpreter's frames, code or hooks",
}


def _stdlib_dirs(names: tuple[str, ...]) -> tuple[str, ...]:
    return package_dirs(names)


# Where a stack starts that runs work someone else handed over: a thread's start, an
# executor's work item, an event-loop callback. Reaching one of these with no decision yet
# means the work came from somewhere the stack no longer shows: the learner's, by default.
BOUNDARIES = (
    ("threading.py", frozenset({"run", "_bootstrap_inner", "_bootstrap"})),
    ("thread.py", frozenset({"run", "_worker"})),  # concurrent.futures.thread
    ("events.py", frozenset({"_run"})),  # asyncio.events.Handle
)


def _boundary(frame: FrameType) -> bool:
    name = frame.f_code.co_filename
    return any(
        name.endswith(f"{os.sep}{file}") and frame.f_code.co_name in functions
        for file, functions in BOUNDARIES
    )


def _make_hook(policy: Policy, refuse: Callable[[str, str], None]) -> Callable[[str, Any], None]:
    learner = policy.learner_files
    trusted = policy.trusted_dirs
    spawners = policy.spawn_dirs
    pools = policy.pool_dirs
    hidden = policy.hidden_dirs
    forbidden = policy.forbidden_imports
    introspectors = _stdlib_dirs(INTROSPECTORS)
    traceback_file = os.path.join(os.path.dirname(os.__file__), "traceback.py")
    stdlib = os.path.dirname(os.__file__)
    text_only = frozenset(
        (os.path.join(stdlib, package, file), function)
        for package, file, function in STDLIB_FRAME_USERS
    )
    watched = SPAWN | FILE_CHANGES | SIGNALS | DIRECT | FRAME_EVENTS | {"import", "open"}
    busy = threading.local()
    getframe = sys._getframe

    def blamed(frame: FrameType | None, extra_trusted: tuple[str, ...] = ()) -> bool:
        while frame is not None:
            name = frame.f_code.co_filename
            if name in learner:
                return True
            if name.startswith(trusted) or (extra_trusted and name.startswith(extra_trusted)):
                return False
            if _boundary(frame):
                return True
            frame = frame.f_back
        return False

    def takes_frames(frame: FrameType | None) -> bool:
        """Whether code of the learner's asked, through any stack, for a frame."""
        while frame is not None:
            name = frame.f_code.co_filename
            if name in learner:
                return True
            if name.startswith(trusted) or name.startswith(introspectors):
                return False
            if (name, frame.f_code.co_name) in text_only:
                return False
            if name == traceback_file and frame.f_code.co_name in TRACEBACK_FORMATTERS:
                outer = frame.f_back
                while outer is not None and outer.f_code.co_filename == traceback_file:
                    if outer.f_code.co_name not in TRACEBACK_FORMATTERS:
                        break
                    outer = outer.f_back
                else:
                    return False  # formatting an exception hands out text, not frames
            if _boundary(frame):
                return True
            frame = frame.f_back
        return False

    def direct(frame: FrameType) -> bool:
        return frame.f_code.co_filename in learner or _boundary(frame)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in watched or getattr(busy, "on", False):
            return
        busy.on = True
        try:
            caller = getframe(1)
            if event in FRAME_EVENTS:
                if takes_frames(caller):
                    refuse(f"used {event}", "introspect")
            elif event == "object.__getattr__":
                attribute = str(args[1]) if len(args) > 1 else ""
                if attribute in FRAME_ATTRIBUTES:
                    if takes_frames(caller):
                        refuse(f"read a frame ({attribute})", "introspect")
                elif attribute in CODE_READS and direct(caller):
                    refuse(f"read compiled code ({attribute})", "introspect")
            elif event == "object.__setattr__":
                attribute = str(args[1]) if len(args) > 1 else ""
                if attribute in CODE_WRITES and direct(caller):
                    refuse(f"replaced a function's {attribute}", "introspect")
            elif event in DIRECT:
                if direct(caller):
                    refuse(f"used {event}", "introspect")
            elif event == "import":
                top = str(args[0]).partition(".")[0]
                if top in forbidden and blamed(caller):
                    refuse(f"imported {args[0]}", "import")
            elif event == "open":
                _check_open(args, caller)
            elif event in SPAWN:
                if blamed(caller, spawners):
                    refuse(f"started a process ({event})", "spawn")
            elif event in FILE_CHANGES:
                if blamed(caller):
                    refuse(f"changed files ({event})", "write")
            elif event in SIGNALS:
                if blamed(caller):
                    refuse(f"sent a signal ({event})", "signal")
        finally:
            busy.on = False

    def _check_open(args: tuple[Any, ...], caller: FrameType) -> None:
        path, mode, flags = (list(args) + [None, None, None])[:3]
        writing = bool(
            (isinstance(mode, str) and any(c in mode for c in "wax+"))
            or (isinstance(flags, int) and flags & WRITE_FLAGS)
        )
        target = os.fsdecode(path) if isinstance(path, str | bytes) else None
        if writing:
            if blamed(caller, pools):
                refuse(f"opened {target or 'a file descriptor'} for writing", "write")
            return
        if not target or not blamed(caller):
            return
        full = os.path.realpath(os.path.join(os.getcwd(), target))
        if any(full == d.rstrip(os.sep) or full.startswith(d) for d in hidden):
            refuse(f"read {target}", "read")

    return hook
