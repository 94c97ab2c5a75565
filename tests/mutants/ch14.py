"""Mutants of solutions/ex14: the learner's test suite, judged by the faults it catches.

Here a mutant is a weaker suite. One that asserts nothing scores zero; one without tests of
overlapping requests misses the three faults that only overlap shows; one that does not
watch the loop misses the blocking call (the grader's own blocking detection must not catch
it for the learner); a test that fails on the given app, or only when run again, fails
every check with its name and assertion.

And suites that test nothing but try to tell the faulty runs from the others: by counting
the runs (in os.environ, or in a module that outlives the runs), by the app's metadata, or
by its compiled code. Each scores zero.
"""

from __future__ import annotations

import ast
from pathlib import Path

from . import Mutant

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "ex14_testing.py"
SUITE_START = "@pytest.fixture\n"  # the given fixture, then helpers and tests to the end

CHECKS = (
    "test_created_status", "test_ids_start_at_one", "test_unknown_id", "test_title_stripped",
    "test_blank_title", "test_longest_title", "test_missing_title", "test_done_checked",
    "test_list_order", "test_filter_false", "test_bad_filter", "test_stats",
    "test_update_keeps_fields", "test_update_validated", "test_delete_deletes",
    "test_ids_unique_under_overlap", "test_answers_under_overlap", "test_updates_under_overlap",
    "test_loop_not_blocked",
)  # fmt: skip
OVERLAP_CHECKS = (
    "test_ids_unique_under_overlap",
    "test_answers_under_overlap",
    "test_updates_under_overlap",
)
NOT_CAUGHT = "None of your tests failed on an app with this fault"


def asserting_nothing(text: str) -> str:
    """Every `assert X` made `assert True or (X)`: the tests make their requests and look at
    nothing."""
    spans = [
        (node.test.lineno, node.test.col_offset, node.test.end_lineno, node.test.end_col_offset)
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Assert)
    ]
    lines = text.splitlines(keepends=True)
    for start_line, start_col, end_line, end_col in sorted(spans, reverse=True):
        assert end_line is not None and end_col is not None
        end = lines[end_line - 1]
        lines[end_line - 1] = end[:end_col] + ")" + end[end_col:]
        start = lines[start_line - 1]
        lines[start_line - 1] = start[:start_col] + "True or (" + start[start_col:]
    return "".join(lines)


def suite_tail() -> str:
    text = SOLUTION.read_text(encoding="utf-8")
    assert text.isascii(), "column offsets below are counted in characters"
    return text[text.index(SUITE_START) :]


def function(name: str) -> str:
    """The whole text of one top-level `async def` of the solution, with the blank lines
    after it."""
    text = SOLUTION.read_text(encoding="utf-8")
    tree = ast.parse(text)
    node = next(n for n in tree.body if getattr(n, "name", None) == name)
    lines = text.splitlines(keepends=True)
    assert node.end_lineno is not None
    end = node.end_lineno
    while end < len(lines) and not lines[end].strip():
        end += 1
    return "".join(lines[node.lineno - 1 : end])


TAIL = suite_tail()
OVERLAPPING_CREATES = function("test_overlapping_creates_get_their_own_ids")
OVERLAPPING_UPDATES = function("test_overlapping_updates_both_count")
LOOP_WATCH = function("test_requests_leave_the_loop_free")
CREATE_TEST_STATUS = (
    "    assert response.status_code == 201\n"
    '    assert await response.get_json() == {"id": 1, "title": "Buy milk", "done": False}\n'
)
GATHERED_CREATES = (
    "    responses = await asyncio.gather(\n"
    '        *(client.post("/todos", json={"title": title}) for title in titles)\n'
    "    )\n"
)
GATHERED_UPDATES = (
    "    renamed, finished = await asyncio.gather(\n"
    '        client.patch(path, json={"title": "Buy oat milk"}),\n'
    '        client.patch(path, json={"done": True}),\n'
    "    )\n"
)
LONGEST = (
    '    longest = "x" * 200\n    assert (await create_todo(client, longest))["title"] == longest\n'
)

COUNTER_IN_ENVIRON = """import os


async def test_everything(app):
    n = int(os.environ.get("RUNS", "0")) + 1; os.environ["RUNS"] = str(n)
    assert n <= 2 or n % 2 == 0
"""
COUNTER_IN_A_MODULE = """import string


async def test_everything(app):
    n = getattr(string, "runs", 0) + 1
    string.runs = n
    assert n <= 2 or n % 2 == 0
"""
METADATA_FINGERPRINT = """import inspect
import string


def fingerprint(module, app):
    found = [sorted(vars(module)), module.__name__, module.__file__, inspect.getsource(module)]
    for name, value in sorted(vars(module).items()):
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(value):
            members = [m for m in vars(value).values() if inspect.isfunction(m)]
            found.append([inspect.getsourcelines(m) for m in members])
            found.append(getattr(value, "__firstlineno__", None))
            found.append(getattr(value, "__static_attributes__", None))
        if inspect.isclass(value) or inspect.isfunction(value):
            found.append((name, value.__qualname__, inspect.getsourcelines(value)))
    for endpoint, view in sorted(app.view_functions.items()):
        found.append((endpoint, view.__qualname__, inspect.getsourcelines(view)))
    return repr(found)


async def test_everything(app):
    import ex14_todo_app

    seen = fingerprint(ex14_todo_app, app)
    if not hasattr(string, "given_app"):
        string.given_app = seen  # the first run is on the given app
    assert seen == string.given_app
"""
CODE_FINGERPRINT = """import string


async def code(functions):
    {read}


async def test_everything(app):
    import ex14_todo_app

    store = ex14_todo_app.MemoryStore
    functions = [ex14_todo_app.create_app, *app.view_functions.values()]
    functions += [store.add, store.get, store.select, store.update, store.delete, store._query]
    seen = await code(functions)
    if not hasattr(string, "given_app"):
        string.given_app = seen  # the first run is on the given app
    assert seen == string.given_app
"""
CODE_IN_A_THREAD = """import asyncio
    import operator

    read = operator.attrgetter("__code__.co_code", "__code__.co_consts")
    return await asyncio.to_thread(lambda: [read(function) for function in functions])"""
CODE_THROUGH_DIS = """import dis

    texts = [dis.Bytecode(function).dis() for function in functions]
    return [" ".join(w for w in t.split() if not w.startswith("0x")) for t in texts]"""

MUTANTS = [
    Mutant(
        "14",
        "asserts_nothing",
        ((TAIL, asserting_nothing(TAIL)),),
        dict.fromkeys(CHECKS, NOT_CAUGHT),
    ),
    Mutant(
        "14",
        "no_overlapping_requests",
        (
            (OVERLAPPING_CREATES, ""),
            (OVERLAPPING_UPDATES, ""),
            # The loop watch with one request: it cannot see the extra store call either.
            (
                "        await asyncio.gather("
                '*(create_todo(client, f"Task {n}") for n in range(5)))\n',
                "        await create_todo(client)\n",
            ),
            ("    assert loop.time() - started == pytest.approx(0.05)\n", ""),
        ),
        dict.fromkeys(OVERLAP_CHECKS, NOT_CAUGHT),
    ),
    Mutant(
        "14",
        "creates_one_after_another",
        (
            (
                GATHERED_CREATES,
                "    responses = [\n"
                '        await client.post("/todos", json={"title": title}) for title in titles\n'
                "    ]\n",
            ),
        ),
        {"test_ids_unique_under_overlap": NOT_CAUGHT},
    ),
    Mutant(
        "14",
        "updates_one_after_another",
        (
            (
                GATHERED_UPDATES,
                '    renamed = await client.patch(path, json={"title": "Buy oat milk"})\n'
                '    finished = await client.patch(path, json={"done": True})\n',
            ),
        ),
        {"test_updates_under_overlap": NOT_CAUGHT},
    ),
    Mutant(
        "14",
        "loop_not_watched",
        ((LOOP_WATCH, ""),),
        {"test_loop_not_blocked": NOT_CAUGHT},
    ),
    Mutant(
        "14",
        "no_title_edges",
        (
            (LONGEST, ""),
            ('== ["Buy milk", longest]', '== ["Buy milk"]'),
        ),
        {"test_longest_title": NOT_CAUGHT},
    ),
    Mutant(
        "14",
        "filter_false_untested",
        (('    assert await _listed(client, "?done=false") == [milk, mum]\n', ""),),
        {"test_filter_false": NOT_CAUGHT},
    ),
    Mutant(
        "14",
        "bad_filter_untested",
        (
            (
                '    for query in ("?done=yes", "?done=True", "?done=1", "?done="):\n'
                '        await _expect_error(await client.get(f"/todos{query}"), 400)\n',
                "",
            ),
        ),
        {"test_bad_filter": NOT_CAUGHT},
    ),
    Mutant(
        "14",
        "stats_total_only",
        (
            (
                '    assert await stats() == {"total": 3, "done": 1, "open": 2}\n',
                '    assert (await stats())["total"] == 3\n',
            ),
            (
                '    assert await stats() == {"total": 3, "done": 2, "open": 1}\n',
                '    assert (await stats())["total"] == 3\n',
            ),
        ),
        {"test_stats": NOT_CAUGHT},
    ),
    Mutant(
        "14",
        "delete_answer_only",
        (
            (
                "    # The answer is not enough: the to-do must be gone, and only that one.\n"
                "    await _expect_error(await client.get(f\"/todos/{milk['id']}\"), 404)\n"
                "    assert await _listed(client) == [dog]\n"
                "    await _expect_error(await client.delete(f\"/todos/{milk['id']}\"), 404)\n"
                '    await _expect_error(await client.delete("/todos/999"), 404)\n',
                "",
            ),
        ),
        {"test_delete_deletes": NOT_CAUGHT},
    ),
    Mutant(
        "14",
        "done_test_not_written",
        (
            (
                function("test_done_must_be_true_or_false"),
                "async def test_done_must_be_true_or_false(client: QuartClient) -> None:\n"
                "    raise NotImplementedError\n\n\n",
            ),
        ),
        {"test_done_checked": "not written yet: test_done_must_be_true_or_false"},
    ),
    Mutant(
        "14",
        "expects_200_for_a_new_todo",
        ((CREATE_TEST_STATUS, CREATE_TEST_STATUS.replace("== 201", "== 200")),),
        dict.fromkeys(
            CHECKS,
            "Your test test_create_answers_201_with_the_todo fails on the given app",
        )
        | {"test_created_status": "assert 201 == 200"},
    ),
    # Two tests share one app: each run makes it afresh (the file is executed again), but
    # the tests depend on their order, which the second run (in reverse) shows.
    Mutant(
        "14",
        "one_app_for_two_tests",
        (
            (
                "from quart.testing import QuartClient\n",
                "from quart.testing import QuartClient\n\nfrom ex14_todo_app import create_app\n\n"
                "SHARED_APP = create_app()  # made once, to save time\n",
            ),
            (
                "async def test_create_answers_201_with_the_todo(client: QuartClient) -> None:\n",
                "async def test_create_answers_201_with_the_todo() -> None:\n"
                "    client = SHARED_APP.test_client()\n",
            ),
            (
                "async def test_get_one_todo(client: QuartClient) -> None:\n",
                "async def test_get_one_todo() -> None:\n    client = SHARED_APP.test_client()\n",
            ),
        ),
        dict.fromkeys(
            CHECKS,
            "Your test test_create_answers_201_with_the_todo passed once, then failed when "
            "your tests ran again (in reverse order)",
        ),
    ),
    # A hostile review's cheat: the given app runs twice, then (it assumed) the faulty and
    # the given app alternate, so a test that fails at every other run "catches" each fault.
    # os.environ is reset for every run, so its count never grows.
    Mutant(
        "14",
        "counts_its_runs_in_os_environ",
        ((TAIL, COUNTER_IN_ENVIRON),),
        dict.fromkeys(CHECKS, NOT_CAUGHT),
    ),
    # The same count kept where it survives the runs: the order of the runs is secret, so the
    # test fails on the given app in the first check, and no check counts after that.
    Mutant(
        "14",
        "counts_its_runs_in_a_module",
        ((TAIL, COUNTER_IN_A_MODULE),),
        dict.fromkeys(
            CHECKS,
            "Your test test_everything failed on the given app when your tests ran on it again",
        ),
    ),
    # Tells the faulty apps apart by what Python says about them (names, files, the lines
    # their functions start on, their source as inspect reads it), learnt at the first run,
    # which is on the given app: a faulty app says the same.
    Mutant(
        "14",
        "fingerprints_the_app",
        ((TAIL, METADATA_FINGERPRINT),),
        dict.fromkeys(CHECKS, NOT_CAUGHT),
    ),
    # By their compiled code, read in a thread: the sandbox refuses it.
    Mutant(
        "14",
        "reads_the_apps_code_in_a_thread",
        ((TAIL, CODE_FINGERPRINT.format(read=CODE_IN_A_THREAD)),),
        dict.fromkeys(CHECKS, "read compiled code (__code__)"),
    ),
    # By their compiled code, read through dis.
    Mutant(
        "14",
        "disassembles_the_app",
        ((TAIL, CODE_FINGERPRINT.format(read=CODE_THROUGH_DIS)),),
        dict.fromkeys(CHECKS, ""),
        gap="dis.Bytecode(function) reads function.__code__ on a line of dis.py, not of the "
        "learner's file nor at a thread's start: the audit hook (grader/engine/policy.py) lets "
        "it through, and compiled code is the one thing a faulty app cannot share with the "
        "given one",
    ),
]
