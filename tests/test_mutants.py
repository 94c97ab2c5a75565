"""The checks can fail, clause by clause: mutants of the reference solutions.

Each mutant is one plausible learner mistake, made from a reference solution by exact
string replacements. The grader runs on it as on a learner's file, and the checks that
must catch the mistake fail, each with a plain explanation (no raw traceback). Every check
function is named by at least one mutant: no check can only be failed by the stub's
NotImplementedError.

A mutant marked `xfail(strict=True)` is a known gap in the checks: it documents what they
should catch and starts failing (XPASS) once they do, so the mark can go.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT, grader

from grader.course import Chapter, load_course

CHAPTERS = ("00", "01", "02")


@dataclass(frozen=True)
class Mutant:
    """`edits`: (old, new) replacements of the solution's text, each old found exactly once.
    `fails`: check function -> a snippet its output must contain ("" for any). In a snippet,
    `{line}` is the mutant's line where the first edit's new text starts."""

    chapter: str
    name: str
    edits: tuple[tuple[str, str], ...]
    fails: dict[str, str]
    gap: str = ""  # why the checks do not catch this yet: the mutant is a strict xfail


# Blocks of the solutions that several mutants rewrite.
SEQUENTIAL_BODY = "    return [await fetch_data(delay) for delay in delays]\n"
RUN_SYNC_BODY = "    return asyncio.run(fetch_data(delay))\n"
FETCH_BOTH_BODY = (
    "    async with asyncio.TaskGroup() as tg:\n"
    "        first = tg.create_task(fetch_data_1())\n"
    "        second = tg.create_task(fetch_data_2())\n"
    '    return {"data1": first.result(), "data2": second.result()}\n'
)
GATHER_ALL_BODY = (
    "    async with asyncio.TaskGroup() as tg:\n"
    "        tasks = [tg.create_task(_await(factory)) for factory in factories]\n"
    "    return [task.result() for task in tasks]\n"
)
LIMIT_CHECK = '        raise ValueError(f"limit must be at least 1, got {limit}")\n'
LIMITED_RUN = (
    "    return await gather_all([lambda f=factory: limited(f) for factory in factories])\n"
)
WAIT_FIRST = "done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)\n"
FIRST_CLEANUP = (
    f"    try:\n        {WAIT_FIRST}    finally:\n"
    "        # Runs on success, on failure and when our caller cancels us: no task outlives us.\n"
    "        for task in tasks:\n"
    "            task.cancel()\n"
    "        await asyncio.gather(*tasks, return_exceptions=True)\n"
)
INTERLEAVE_TASKS = (
    "    async with asyncio.TaskGroup() as tg:\n"
    '        tg.create_task(worker("A"))\n'
    '        tg.create_task(worker("B"))\n'
)
INTERLEAVE_EXTEND = (INTERLEAVE_TASKS, '    log.extend(["A0", "B0", "A1", "B1", "A2", "B2"])\n')

MUTANTS = [
    # --- chapter 00: hello and main -----------------------------------------------------
    Mutant(
        "00",
        "hello_ignores_name",
        (('return f"Hello, {name}!"', 'return "Hello, world!"'),),
        {"test_hello_name": "got:      'Hello, world!'"},
    ),
    Mutant(
        "00",
        "hello_wrong_greeting",
        (('f"Hello, {name}!"', 'f"Hi, {name}!"'),),
        {
            "test_hello_default": "'Hi, world!'",
            "test_hello_name": "'Hi, Ada!'",
            "test_main_returns_greeting": "'Hi, world!'",
        },
    ),
    Mutant(
        "00",
        "hello_plain_def",
        (("async def hello(", "def hello("),),
        {
            "test_hello_default": "hello must be a coroutine function",
            "test_hello_name": "hello must be a coroutine function",
            "test_main_returns_greeting": "a coroutine was expected",
        },
    ),
    Mutant(
        "00",
        "main_returns_coroutine",
        (("return asyncio.run(hello())", "return hello()"),),
        {
            "test_main_returns_greeting": "never awaited",
            "test_main_uses_hello": "main() never ran hello() on an event loop",
        },
    ),
    Mutant(
        "00",
        "main_hardcodes_greeting",
        (("return asyncio.run(hello())", 'return "Hello, world!"'),),
        {"test_main_uses_hello": "main() never ran hello() on an event loop"},
    ),
    Mutant(
        "00",
        "main_discards_result",
        (("return asyncio.run(hello())", 'asyncio.run(hello())\n    return "Hello, world!"'),),
        {"test_main_uses_hello": "got:      'Hello, world!'"},
    ),
    Mutant(
        "00",
        "main_async_def",
        (
            ("def main() -> str:", "async def main() -> str:"),
            ("return asyncio.run(hello())", "return await hello()"),
        ),
        {
            "test_main_returns_greeting": "main must be a plain function",
            "test_main_uses_hello": "main must be a plain function",
        },
    ),
    # --- chapter 01: fetch_data, fetch_sequential, run_sync -----------------------------
    Mutant(
        "01",
        "fetch_data_time_sleep",
        (
            ("await asyncio.sleep(delay)", "time.sleep(delay)"),
            ("import asyncio\n", "import asyncio\nimport time\n"),
        ),
        {
            "test_fetch_data_default": "ex01_coroutines.py, line {line}: time.sleep(delay)",
            "test_fetch_data_delay": "A blocking call (time.sleep) froze the event loop",
            "test_fetch_data_does_not_block": "A blocking call (time.sleep)",
            "test_sequential_timing": "A blocking call (time.sleep)",
        },
    ),
    Mutant(
        "01",
        "fetch_data_fixed_2s",
        (("await asyncio.sleep(delay)", "await asyncio.sleep(2)"),),
        {
            "test_fetch_data_delay": "fetch_data(0.5) took 2.00 s",
            "test_sequential_timing": "took 6.00 s",
        },
    ),
    Mutant(
        "01",
        "fetch_data_wrong_text",
        (('\n    return "Data fetched!"', '\n    return "Data fetched"'),),
        {
            "test_fetch_data_default": "'Data fetched'",
            "test_fetch_data_delay": "'Data fetched'",
            "test_sequential_timing": "'Data fetched'",
            "test_run_sync_result": "'Data fetched'",
        },
    ),
    Mutant(
        "01",
        "sequential_with_gather",
        (
            (
                SEQUENTIAL_BODY,
                "    return list(await asyncio.gather(*(fetch_data(d) for d in delays)))\n",
            ),
        ),
        {"test_sequential_order": "overlap", "test_sequential_timing": "took 2.00 s"},
    ),
    Mutant(
        "01",
        "sequential_reversed",
        (("for delay in delays]", "for delay in reversed(delays)]"),),
        {"test_sequential_order": "called with [0.2, 0.1, 0.3]"},
    ),
    Mutant(
        "01",
        "sequential_missing_await",
        (("[await fetch_data(delay)", "[fetch_data(delay)"),),
        {"test_sequential_order": "never awaited", "test_sequential_timing": "never awaited"},
    ),
    Mutant(
        "01",
        "sequential_return_in_loop",
        (
            (
                SEQUENTIAL_BODY,
                "    results = []\n"
                "    for delay in delays:\n"
                "        results.append(await fetch_data(delay))\n"
                "        return results\n",
            ),
        ),
        {
            "test_sequential_order": "called with [0.3]",
            "test_sequential_timing": "",
            "test_sequential_empty": "got:      None",
        },
    ),
    Mutant(
        "01",
        "run_sync_get_event_loop",
        (
            (
                RUN_SYNC_BODY,
                "    return asyncio.get_event_loop().run_until_complete(fetch_data(delay))\n",
            ),
        ),
        # Python 3.11 raises RuntimeError (no current event loop) in a fresh thread; where
        # it hands back a loop instead, the loop is reused and never closed.
        {"test_run_sync_new_loop": ""},
    ),
    Mutant(
        "01",
        "run_sync_loop_not_closed",
        (
            (
                RUN_SYNC_BODY,
                "    loop = asyncio.new_event_loop()\n"
                "    return loop.run_until_complete(fetch_data(delay))\n",
            ),
        ),
        {"test_run_sync_new_loop": "run_sync left its event loop open"},
    ),
    Mutant(
        "01",
        "run_sync_shared_loop",
        (
            (RUN_SYNC_BODY, "    return LOOP.run_until_complete(fetch_data(delay))\n"),
            ("\n\ndef run_sync(", "\n\nLOOP = asyncio.new_event_loop()\n\n\ndef run_sync("),
        ),
        {"test_run_sync_new_loop": "run_sync reused the same event loop"},
    ),
    Mutant(
        "01",
        "run_sync_copies_body",
        (
            (
                RUN_SYNC_BODY,
                "    async def body() -> str:\n"
                "        await asyncio.sleep(delay)\n"
                '        return "Data fetched!"\n'
                "\n"
                "    return asyncio.run(body())\n",
            ),
        ),
        {"test_run_sync_new_loop": "fetch_data called with nothing"},
    ),
    Mutant(
        "01",
        "run_sync_forgets_return",
        ((RUN_SYNC_BODY, "    asyncio.run(fetch_data(delay))\n"),),
        {"test_run_sync_result": "got:      None", "test_run_sync_new_loop": "[None, None]"},
    ),
    # --- chapter 02: tasks, gather, limits, races, taking turns -------------------------
    Mutant(
        "02",
        "fetch_data_2_copy_paste",
        (('\n    return "Data 2 fetched!"', '\n    return "Data 1 fetched!"'),),
        {
            "test_fetch_data_1_and_2": "await fetch_data_2() returned the wrong value",
            "test_fetch_both_concurrent": "",
        },
    ),
    Mutant(
        "02",
        "fetch_both_sequential",
        (
            (
                FETCH_BOTH_BODY,
                '    return {"data1": await fetch_data_1(), "data2": await fetch_data_2()}\n',
            ),
        ),
        {"test_fetch_both_concurrent": "took 2.00 s", "test_fetch_both_uses_fetchers": "2.00 s"},
    ),
    Mutant(
        "02",
        "fetch_both_hardcoded",
        (
            (
                '{"data1": first.result(), "data2": second.result()}',
                '{"data1": "Data 1 fetched!", "data2": "Data 2 fetched!"}',
            ),
        ),
        {"test_fetch_both_uses_fetchers": "do not write the strings yourself"},
    ),
    Mutant(
        "02",
        "gather_all_sequential",
        ((GATHER_ALL_BODY, "    return [await factory() for factory in factories]\n"),),
        {"test_gather_all_order": "took 9.50 s", "test_gather_all_failure": ""},
    ),
    Mutant(
        "02",
        "gather_all_plain_gather",
        (
            (
                GATHER_ALL_BODY,
                "    return list(await asyncio.gather(*(factory() for factory in factories)))\n",
            ),
        ),
        {
            "test_gather_all_failure": "returned while other jobs were still running",
            "test_gather_limited_failure": "returned while other jobs were still running",
        },
    ),
    Mutant(
        "02",
        "gather_all_return_exceptions",
        (
            (
                GATHER_ALL_BODY,
                "    awaitables = [factory() for factory in factories]\n"
                "    return list(await asyncio.gather(*awaitables, return_exceptions=True))\n",
            ),
        ),
        {"test_gather_all_failure": "returned although a job failed"},
    ),
    Mutant(
        "02",
        "gather_all_create_task_only",
        (("tg.create_task(_await(factory))", "tg.create_task(factory())"),),
        {"test_gather_all_awaitables": "TypeError: a coroutine was expected"},
    ),
    Mutant(
        "02",
        "gather_all_completion_order",
        (
            (
                GATHER_ALL_BODY,
                "    results = []\n"
                "\n"
                "    async def collect(factory: Factory) -> None:\n"
                "        results.append(await factory())\n"
                "\n"
                "    async with asyncio.TaskGroup() as tg:\n"
                "        for factory in factories:\n"
                "            tg.create_task(collect(factory))\n"
                "    return results\n",
            ),
        ),
        {"test_gather_all_order": "not the order they finish"},
    ),
    Mutant(
        "02",
        "gather_all_asyncio_wait",
        (
            (
                GATHER_ALL_BODY,
                "    tasks = [asyncio.ensure_future(factory()) for factory in factories]\n"
                "    await asyncio.wait(tasks)\n"
                "    return [task.result() for task in tasks]\n",
            ),
        ),
        {
            "test_gather_all_empty": "Set of Tasks/Futures is empty",
            "test_gather_all_failure": "took 3.00 s",
        },
    ),
    Mutant(
        "02",
        "gather_limited_no_limit",
        (
            (
                "        async with semaphore:\n            return await factory()\n",
                "        return await factory()\n",
            ),
        ),
        {"test_gather_limited_timing": "took 1.00 s", "test_gather_limited_peak": "had 10 jobs"},
    ),
    Mutant(
        "02",
        "gather_limited_semaphore_per_job",
        (
            ("    semaphore = asyncio.Semaphore(limit)\n", ""),
            ("async with semaphore:", "async with asyncio.Semaphore(limit):"),
        ),
        {"test_gather_limited_timing": "took 1.00 s", "test_gather_limited_peak": "had 10 jobs"},
    ),
    Mutant(
        "02",
        "gather_limited_no_validation",
        ((f"    if limit < 1:\n{LIMIT_CHECK}", ""),),
        {"test_gather_limited_bad_limit": "gather_limited(jobs, 0) had not finished after 10 s"},
    ),
    Mutant(
        "02",
        "gather_limited_clamps_limit",
        ((LIMIT_CHECK, "        limit = 1\n"),),
        {"test_gather_limited_bad_limit": "did not raise ValueError"},
    ),
    Mutant(
        "02",
        "gather_limited_awaits_each",
        ((LIMITED_RUN, "    return [await limited(factory) for factory in factories]\n"),),
        {
            "test_gather_limited_timing": "took 10.00 s",
            "test_gather_limited_peak": "had 1 jobs in flight",
            "test_gather_limited_large_limit": "took 4.00 s",
        },
    ),
    Mutant(
        "02",
        "gather_limited_plain_gather",
        (
            (
                LIMITED_RUN,
                "    return list(await asyncio.gather(*(limited(f) for f in factories)))\n",
            ),
        ),
        {"test_gather_limited_failure": "returned while other jobs were still running"},
    ),
    Mutant(
        "02",
        "gather_limited_chunks",
        (
            (
                LIMITED_RUN,
                "    results = []\n"
                "    for start in range(0, len(factories), limit):\n"
                "        results += await gather_all(factories[start : start + limit])\n"
                "    return results\n",
            ),
        ),
        # Batch after batch, each waiting for its slowest job: 7 jobs of
        # [0.5, 1.5, 1, 2, 0.5, 1, 0.25] s with limit 4 take 3 s instead of 2 s.
        {"test_gather_limited_peak": "expected: 2.00 s"},
    ),
    Mutant(
        "02",
        "first_completed_no_cancel",
        ((FIRST_CLEANUP, f"    {WAIT_FIRST}"),),
        {"test_first_completed_cleanup": "still running: job 0 (running), job 2 (running)"},
    ),
    Mutant(
        "02",
        "first_completed_no_wait_after_cancel",
        (("        await asyncio.gather(*tasks, return_exceptions=True)\n", ""),),
        {"test_first_completed_cleanup": "still running: job 0 (running), job 2 (running)"},
    ),
    Mutant(
        "02",
        "first_completed_all_completed",
        ((", return_when=asyncio.FIRST_COMPLETED", ""),),
        {
            "test_first_completed_result": "got:      'result 0'",
            "test_first_completed_cleanup": "let the slower jobs run to the end",
        },
    ),
    Mutant(
        "02",
        "interleave_hardcoded",
        (INTERLEAVE_EXTEND,),
        {"test_interleave_tasks": "interleave wrote the entries itself"},
    ),
    Mutant(
        "02",
        "interleave_one_task",
        (
            ('log.append(f"{prefix}{i}")', 'log.append(f"A{i}")\n            log.append(f"B{i}")'),
            ('        tg.create_task(worker("B"))\n', ""),
        ),
        {"test_interleave_tasks": "not written by two tasks of their own"},
    ),
    Mutant(
        "02",
        "interleave_no_yield",
        (("            await asyncio.sleep(0)\n", ""),),
        {"test_interleave": "['A0', 'A1', 'A2', 'B0', 'B1', 'B2']"},
    ),
    Mutant(
        "02",
        "interleave_fire_and_forget",
        (
            (
                INTERLEAVE_TASKS,
                '    asyncio.create_task(worker("A"))\n    asyncio.create_task(worker("B"))\n',
            ),
        ),
        {"test_interleave": "got:      []", "test_interleave_tasks": ""},
    ),
    Mutant(
        "02",
        "interleave_yields_instead_of_waiting",
        (
            (
                INTERLEAVE_TASKS,
                '    asyncio.create_task(worker("A"))\n'
                '    asyncio.create_task(worker("B"))\n'
                "    for _ in range(3):\n"
                "        await asyncio.sleep(0)\n",
            ),
        ),
        # The log comes out right, but both tasks still have a step to run.
        {"test_interleave_tasks": "interleave returned while its tasks were still running"},
    ),
]


@cache
def chapter(chapter_id: str) -> Chapter:
    return load_course(ROOT).chapter(chapter_id)


@cache
def display_names(chapter_id: str) -> dict[str, str]:
    """Check function -> its display name, read from `@check("name", task=N)` without
    importing the checks."""
    path = chapter(chapter_id).checks
    names: dict[str, str] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not node.name.startswith("test_"):
            continue
        for decorator in node.decorator_list:
            if (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Name)
                and decorator.func.id == "check"
            ):
                names[node.name] = ast.literal_eval(decorator.args[0])
        assert node.name in names, f"{path.name}: {node.name} has no @check(...)"
    return names


def make_mutant(mutant: Mutant) -> str:
    text = chapter(mutant.chapter).solution.read_text(encoding="utf-8")
    for old, _ in mutant.edits:
        count = text.count(old)
        assert count == 1, f"{old!r} is {count} times in the solution: update the mutant"
    for old, new in mutant.edits:
        text = text.replace(old, new)
    return text


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def param(mutant: Mutant) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=mutant.gap)] if mutant.gap else []
    return pytest.param(mutant, id=f"{mutant.chapter}-{mutant.name}", marks=marks)


@pytest.mark.parametrize("mutant", [param(m) for m in MUTANTS])
def test_mutant_fails_its_checks(mutant: Mutant, tmp_path: Path) -> None:
    names = display_names(mutant.chapter)
    assert set(mutant.fails) <= set(names), f"unknown checks: {set(mutant.fails) - set(names)}"
    text = make_mutant(mutant)
    path = tmp_path / f"{chapter(mutant.chapter).module_name}.py"
    path.write_text(text, encoding="utf-8")

    graded = grader("check", mutant.chapter, "--file", str(path), "--json")

    assert graded.code == 1, graded.stdout + graded.stderr
    results = {t["name"].split(" · ", 1)[1]: t for t in graded.json["tests"]}
    for function, snippet in mutant.fails.items():
        result = results[names[function]]
        output = result["output"]
        assert result["status"] == "failed", f"{function} passed this mutant:\n{text}"
        expected = snippet.replace("{line}", str(line_of(text, mutant.edits[0][1])))
        assert expected in output, f"{expected!r} not in {function}'s output:\n{output}"
    for result in graded.json["tests"]:
        if result["status"] == "failed":
            assert result["output"].strip(), f"{result['name']} failed without saying why"
            assert "Traceback" not in result["output"], result["output"]


def test_every_mutant_has_its_own_name() -> None:
    assert len({(m.chapter, m.name) for m in MUTANTS}) == len(MUTANTS)


def test_every_check_has_a_mutant() -> None:
    named = {(m.chapter, f) for m in MUTANTS if not m.gap for f in m.fails}
    every = {(c, f) for c in CHAPTERS for f in display_names(c)}
    assert sorted(every - named) == [], "checks that no mutant fails"
