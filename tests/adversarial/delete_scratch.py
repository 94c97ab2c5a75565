"""Broken: deletes the grader's temporary folder (and the working folder) under its feet."""

import os
import shutil

here = os.path.dirname(os.path.abspath(__file__))
shutil.rmtree(os.path.dirname(here), ignore_errors=True)


async def hello(name: str = "world") -> str:
    return f"Hello, {name}!"


def main() -> str:
    import asyncio

    return asyncio.run(hello())
