"""Checks for chapter 00: hello() and main()."""

import asyncio

from grader.lab import Learner, check, expect_equal, fail, show, within
from grader.lab.threads import call_without_loop


@check("hello() greets the world", task=1)
async def test_hello_default(learner: Learner) -> None:
    hello = learner.coroutine_function("hello")
    result = await within(5, hello(), "hello()")
    expect_equal(
        result,
        "Hello, world!",
        call="await hello()",
        hint='Return an f-string built from `name`; its default is "world".',
    )


@check("hello(name) greets by name", task=1)
async def test_hello_name(learner: Learner) -> None:
    hello = learner.coroutine_function("hello")
    for name in ("Ada", "Grace Hopper", ""):
        result = await within(5, hello(name), f"hello({name!r})")
        expect_equal(
            result,
            f"Hello, {name}!",
            call=f"await hello({name!r})",
            hint="Use the `name` argument instead of a fixed string.",
        )


@check("main() runs hello() from plain code", task=2)
def test_main_returns_greeting(learner: Learner) -> None:
    main = learner.plain_function("main")
    result = main()
    expect_equal(
        result,
        "Hello, world!",
        call="main()",
        hint="main must hand back the greeting that hello() produced.",
    )


@check("main() really awaits hello() on a fresh event loop", task=2)
def test_main_uses_hello(learner: Learner) -> None:
    main = learner.plain_function("main")
    calls: list[bool] = []

    async def spy_hello(name: str = "world") -> str:
        calls.append(asyncio.get_running_loop().is_running())
        return "spied greeting"

    learner.patch("hello", spy_hello)
    returned = call_without_loop(main)
    if not calls:
        fail(
            "main() never ran hello() on an event loop",
            expected="main() awaits hello() through asyncio.run(hello())",
            got=f"hello was not awaited; main() returned {show(returned)}",
            hint="Call `hello()` inside main, and hand the coroutine to `asyncio.run`.",
        )
    expect_equal(
        returned,
        "spied greeting",
        call="main() (with hello replaced)",
        hint="Return the value hello() gave you, not a string of your own.",
    )
