"""Mutants of solutions/ex00: hello and main."""

from __future__ import annotations

from . import Mutant

MUTANTS = [
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
]
