"""The grader as a grader of record: hostile and broken submissions (tests/adversarial/)
never earn a score they did not, never outlive the check, never flood the report, never
hang, and --json is always one valid Gradescope object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, grader

ADVERSARIAL = ROOT / "tests" / "adversarial"
MAX_STDOUT = 200_000  # bytes of --json for one chapter, whatever the file prints or raises

# file: (chapter, a snippet the report must contain, real seconds the run may take)
CASES: dict[str, tuple[str, str, float]] = {
    "skip_from_getattr": ("00", "unittest.case.SkipTest", 30),
    "skip_on_import": ("00", "SkipTest", 30),
    "importorskip": ("00", "Your file imported pytest", 30),
    "wrap_plugin_emit": ("00", "Your file imported grader.engine.plugin", 30),
    "patch_through_sys_modules": ("00", "integrity note", 30),
    "forge_results_channel": ("00", "could not be trusted", 30),
    "read_the_solution": ("00", "solutions/ex00_start.py: that is not yours to read", 30),
    "import_the_solution": ("00", "Your file imported solutions", 30),
    "rewrite_the_grader": ("00", "for writing: exercises never write", 30),
    "clock_backwards": ("02", "moved the event loop's clock backwards", 30),
    "clock_replaced": ("02", "Your code replaced loop.time", 30),
    "event_loop_policy": ("02", "fetch_both() took 2.00 s", 30),
    "builtins_swap": ("00", "Your file imported builtins", 30),
    "frame_walk": ("00", "read a frame (tb_frame)", 30),
    "task_stack_walk": ("00", "walks the stack frames of tasks", 30),
    "settrace_cheat": ("00", "used sys.settrace", 30),
    "kill_the_grader": ("00", "sent a signal (os.kill)", 30),
    "delete_scratch": ("00", "changed files (shutil.rmtree)", 30),
    "subprocess_spawn": ("00", "started a process (subprocess.Popen)", 30),
    "detached_spawn": ("00", "integrity note", 30),
    "process_pool_sleepers": ("00", "4/4 checks passed", 45),
    "memory_hog": ("00", "memory", 60),
    "deep_recursion": ("00", "deep_recursion.py, line", 60),
    "flood_raw_output": ("00", "checks passed", 60),
    "huge_line_and_message": ("00", "more characters not shown", 60),
    "slow_import": ("00", "slow_import.py took 9.", 45),
    "stops_the_loop": ("00", "stops_the_loop.py, line 7: asyncio.get_running_loop().stop()", 30),
    "terminal_escapes": ("00", "All checks pass. Well done!", 30),
    # Found by a hostile review: each once gave full marks, unflagged.
    "frames_to_the_plugin": ("00", "used sys._getframe", 30),
    "swap_a_function_code": ("00", "read compiled code (__code__)", 30),
    "refused_actions_in_a_thread": ("00", "started a process (subprocess.Popen)", 30),
    "clock_through_vars": ("02", "fetch_both() took 2.00 s", 30),
    "loop_callback_signal": ("00", "sent a signal (os.kill)", 30),
    "forbidden_imports_in_a_thread": ("00", "imports pkgutil, which reaches modules", 30),
    "huge_report": ("16", "checks passed", 90),
}
# Files that are correct code whose only fault is what they leave behind or print: a full
# score is right for them, as long as nothing is left behind.
HARMLESS_WHEN_CONTAINED = {"process_pool_sleepers", "flood_raw_output"}
# Processes some files start: none may be alive once the grader has answered.
LEFT_BEHIND = {
    "refused_actions_in_a_thread": "hostile-left",
    "detached_spawn": "grader-adversarial-detached",
    "process_pool_sleepers": "grader-adversarial-sleeper",
    "subprocess_spawn": "sleep 1000",
}


def processes_matching(token: str) -> list[str]:
    done = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines() if token in line and "ps -eo" not in line]


def test_every_adversarial_file_is_a_case() -> None:
    assert {p.stem for p in ADVERSARIAL.glob("*.py")} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_adversarial_submission(name: str) -> None:
    chapter, says, budget = CASES[name]
    started = time.monotonic()
    graded = grader("check", chapter, "--file", str(ADVERSARIAL / f"{name}.py"), "--json")
    took = time.monotonic() - started

    assert len(graded.stdout) < MAX_STDOUT, f"{len(graded.stdout):,} bytes of report"
    results = graded.json  # one valid JSON object, nothing else on stdout
    assert graded.code in (0, 1), graded.stderr
    assert took < budget, f"took {took:.1f} s"
    everything = json.dumps(results)
    assert says.lower() in everything.lower(), f"{says!r} not in the report:\n{everything[:3000]}"
    full = results["score"] == sum(t["max_score"] for t in results["tests"])
    flagged = "integrity note" in results["output"].lower() and all(
        "integrity note" in t["output"].lower() for t in results["tests"]
    )
    if name not in HARMLESS_WHEN_CONTAINED:
        assert not full or flagged, f"full marks, unflagged:\n{everything[:3000]}"
    # Nothing that steers a terminal survives, in JSON or on a terminal.
    assert "\x1b" not in everything and "\\u001b" not in everything
    time.sleep(0.2)
    if name in LEFT_BEHIND:
        assert not processes_matching(LEFT_BEHIND[name]), "processes outlived the check"


def test_terminal_report_is_clean_of_escape_codes() -> None:
    graded = grader("check", "00", "--file", str(ADVERSARIAL / "terminal_escapes.py"))
    assert graded.code == 1
    assert "\x1b" not in graded.stdout and "\u202e" not in graded.stdout
    assert "0/4 checks passed" in graded.stdout


def test_a_file_beside_the_submission_is_never_imported(tmp_path: Path) -> None:
    """A json.py uploaded next to the submission cannot take over the grader's child."""
    (tmp_path / "json.py").write_text("raise SystemExit('HIJACKED')\n")
    (tmp_path / "asyncio.py").write_text("print('HIJACKED')\n")
    submission = tmp_path / "ex00_start.py"
    submission.write_text((ROOT / "solutions" / "ex00_start.py").read_text())
    graded = grader("check", "00", "--file", str(submission), "--json")
    assert graded.code == 0, graded.stdout
    assert "HIJACKED" not in graded.stdout + graded.stderr


def test_a_correct_solution_that_is_flagged_keeps_its_score_with_a_note(tmp_path: Path) -> None:
    submission = tmp_path / "ex00_start.py"
    submission.write_text(
        (ROOT / "solutions" / "ex00_start.py").read_text()
        + "\n\nimport sys\n\nLOADED = sorted(sys.modules)[:3]\n"
    )
    graded = grader("check", "00", "--file", str(submission), "--json")
    assert graded.code == 0
    results = graded.json
    assert results["score"] == 4
    assert "sys.modules fetches already imported modules" in results["output"]
    assert all("Integrity note" in t["output"] for t in results["tests"])


def test_a_folder_as_file_is_a_usage_error_with_valid_json(tmp_path: Path) -> None:
    graded = grader("check", "00", "--file", str(tmp_path), "--json")
    assert graded.code == 2
    assert "is a folder" in graded.json["output"] and graded.json["score"] == 0
    assert "is a folder" in graded.stderr


@pytest.mark.parametrize(
    "args",
    [["check", "99", "--json"], ["check", "01", "--json", "--timeout", "abc"]],
)
def test_usage_errors_still_print_json(args: list[str]) -> None:
    graded = grader(*args)
    assert graded.code == 2
    assert graded.json["score"] == 0 and graded.json["tests"] == []


def test_a_hang_in_a_file_with_a_non_ascii_path_names_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "café ünïcode"
    folder.mkdir()
    submission = folder / "ex00_start.py"
    submission.write_text(
        "async def hello(name: str = 'world') -> str:\n"
        "    while True:\n"
        "        pass\n\n\n"
        "def main() -> str:\n"
        "    raise NotImplementedError\n"
    )
    graded = grader("check", "00", "--file", str(submission), "--timeout", "2")
    assert graded.code == 1
    assert "ex00_start.py, line 2: while True:" in graded.stdout


def test_the_child_dies_with_the_grader(tmp_path: Path) -> None:
    submission = tmp_path / "ex00_start.py"
    submission.write_text(
        "async def hello(name: str = 'world') -> str:\n"
        "    while True:  # grader-adversarial-orphan\n"
        "        pass\n\n\n"
        "def main() -> str:\n"
        "    raise NotImplementedError\n"
    )
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "grader", "check", "00", "--file", str(submission)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.0)  # the child is now spinning in the learner's loop
    children = [
        pid
        for pid in (int(line.split()[0]) for line in processes_matching("grader.engine.child"))
        if _parent(pid) == supervisor.pid
    ]
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait()
    deadline = time.monotonic() + 5
    alive = children
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in children if _alive(pid)]
    assert children, "no child was found to begin with"
    assert not alive, "the child outlived the grader"


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and ") Z" in stat.read_text())


def test_check_all_with_a_slow_import_finishes_in_time(tmp_path: Path) -> None:
    for name in ("course.toml",):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "exercises").mkdir()
    for stub in (ROOT / "exercises").glob("ex*.py"):
        (tmp_path / "exercises" / stub.name).write_text(_pristine(stub))
    first = sorted((tmp_path / "exercises").glob("ex00_*.py"))[0]
    first.write_text("import time\n\ntime.sleep(10)\n" + first.read_text())
    started = time.monotonic()
    graded = grader("check", "all", "--json", env={"COURSE_ROOT": str(tmp_path)}, timeout=300)
    took = time.monotonic() - started
    assert graded.code == 1
    assert took < 120, f"check all took {took:.0f} s"
    assert "did not finish within 10 s" in graded.json["output"] or "took 1" in graded.stdout


def _pristine(stub: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"HEAD:exercises/{stub.name}"],
        capture_output=True,
        text=True,
    )
    return done.stdout if done.returncode == 0 else stub.read_text()


def test_a_corrupt_state_file_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / "course.toml").write_text((ROOT / "course.toml").read_text())
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "ex00_start.py").write_text(
        _pristine(ROOT / "exercises" / "ex00_start.py")
    )
    state = tmp_path / ".grader" / "state.json"
    state.parent.mkdir()
    env = {"COURSE_ROOT": str(tmp_path)}
    for command in (["list"], ["hint", "00"], ["check", "00"]):
        state.write_text('{"results": {"00": "not a result"}, "hints": [')
        graded = grader(*command, env=env)
        assert graded.code in (0, 1), graded.stderr
        assert "Traceback" not in graded.stderr and "was not readable" in graded.stderr
    assert list(state.parent.glob("state.json.broken-*"))


def test_the_results_channel_accepts_only_signed_events_in_order() -> None:
    from grader.engine.channel import ChannelError, Reader, make_writer, new_key
    from grader.engine.launcher import Protocol

    key = new_key()
    read_end, write_end = os.pipe()
    write = make_writer(write_end, key)
    write("collected", checks=[{"id": "test_a"}, {"id": "test_b"}])
    write("load", ok=True)
    write("start", id="test_a")
    os.close(write_end)
    data = os.read(read_end, 65536)
    os.close(read_end)
    protocol = Protocol(["test_a", "test_b"])
    for event in Reader(key).feed(data):
        protocol.accept(event)
    lines = data.split(b"\n")
    for forged in (
        b"garbage\n",
        b"0" * 64 + b" 1 {}\n",  # a wrong signature
        lines[1] + b"\n" + lines[0] + b"\n",  # signed, but out of order
        lines[0] + b"\n" + lines[0] + b"\n",  # a replay
    ):
        try:
            list(Reader(key).feed(forged))
        except ChannelError:
            continue
        raise AssertionError(f"accepted {forged!r}")
    for events in (
        [{"event": "collected", "checks": [{"id": "test_b"}, {"id": "test_a"}]}],
        [{"event": "collected", "checks": [{"id": "test_a"}, {"id": "test_b"}]},
         {"event": "load", "ok": True}, {"event": "start", "id": "test_zzz"}],
        [{"event": "collected", "checks": [{"id": "test_a"}, {"id": "test_b"}]},
         {"event": "load", "ok": True}, {"event": "result", "id": "test_a"}],
    ):  # fmt: skip
        protocol = Protocol(["test_a", "test_b"])
        try:
            for event in events:
                protocol.accept(event)
        except ChannelError:
            continue
        raise AssertionError(f"accepted {events}")


def test_verbose_shows_the_learners_frames_not_the_frameworks() -> None:
    graded = grader("check", "00", "--file", str(ADVERSARIAL / "stops_the_loop.py"), "--verbose")
    assert "Traceback (most recent call last)" in graded.stdout
    assert "stops_the_loop.py" in graded.stdout
    for machinery in ("_pytest", "pluggy", "grader/engine"):
        assert machinery not in graded.stdout, machinery


def test_an_internal_error_is_one_line_exit_3_and_json(tmp_path: Path) -> None:
    manifest = (ROOT / "course.toml").read_text().replace('slug = "start"', 'slug = "gone"', 1)
    (tmp_path / "course.toml").write_text(manifest)
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "ex00_gone.py").write_text("")
    graded = grader("check", "00", "--json", env={"COURSE_ROOT": str(tmp_path)})
    assert graded.code == 3
    assert graded.stderr.count("\n") == 1 and "internal error" in graded.stderr
    assert graded.json["score"] == 0 and "internal error" in graded.json["output"]


def test_a_terminal_shows_which_check_runs(tmp_path: Path) -> None:
    import pty

    parent, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "check", "01", "--solutions"],
        cwd=ROOT,
        stdout=child,
        stderr=child,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=60)
    os.close(parent)
    text = seen.decode("utf-8", "replace")
    assert "check 1/8" in text and "All checks pass" in text


def test_a_file_too_deeply_nested_to_parse_fails_its_chapter_only(tmp_path: Path) -> None:
    """ast.parse gives up (RecursionError, MemoryError) on some files: the scan must not
    crash the grader, and a submission's other chapters are still graded."""
    deep = tmp_path / "ex01_coroutines.py"
    deep.write_text("x = " + "+".join("1" * 300_000) + "\n")
    (tmp_path / "ex00_start.py").write_text((ROOT / "solutions" / "ex00_start.py").read_text())
    graded = grader("check", "00,01", "--submission", str(tmp_path), "--json")
    assert graded.code == 1, graded.stderr
    by_chapter = {t["name"][:2] for t in graded.json["tests"] if t["status"] == "passed"}
    assert by_chapter == {"00"}
    assert graded.json["score"] == 4


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_one_runs_scratch_folder_is_closed_to_the_others() -> None:
    """Parallel runs (a class report) have sandbox users of their own: the user of one run
    reads its own copy of the learner's file, another run's user cannot even list it."""
    import tempfile

    from grader.course import load_course
    from grader.engine.runner import prepare_scratch

    chapter = load_course(ROOT).chapter("00")
    with tempfile.TemporaryDirectory(prefix="grader-") as folder:  # as the runner makes it
        copy, _, _ = prepare_scratch(Path(folder), chapter, b"SECRET = 1\n", 61990)
        mine, theirs = read_as(copy, 61990), read_as(copy, 61991)
    assert mine.stdout == "SECRET = 1\n", mine.stderr
    assert theirs.returncode != 0 and "Permission denied" in theirs.stderr


def read_as(path: Path, uid: int) -> subprocess.CompletedProcess[str]:
    def drop() -> None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)

    return subprocess.run(
        ["cat", str(path)], capture_output=True, text=True, preexec_fn=drop, check=False
    )


def test_asyncio_describing_a_failed_callback_is_not_the_learners_frame_read(
    tmp_path: Path,
) -> None:
    """When a loop callback raises, asyncio describes it (and the task among its arguments,
    with the line the task waits at, read from its frame) for the loop's exception handler.
    That read is asyncio's, handing out text: the learner's file is not refused for it."""
    submission = tmp_path / "ex00_start.py"
    solution = (ROOT / "solutions" / "ex00_start.py").read_text()
    submission.write_text(
        solution.replace(
            '    return f"Hello, {name}!"',
            "    asyncio.get_running_loop().call_soon(fails, asyncio.current_task())\n"
            "    await asyncio.sleep(0)\n"
            '    return f"Hello, {name}!"\n\n\n'
            "def fails(task: asyncio.Task[str]) -> None:\n"
            '    raise RuntimeError("a callback that fails")',
        )
    )
    graded = grader("check", "00", "--file", str(submission), "--json")
    assert "read a frame" not in graded.stdout
    assert graded.code == 0, graded.stdout
