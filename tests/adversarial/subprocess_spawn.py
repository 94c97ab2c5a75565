"""Cheat: start programs the usual ways."""

import os
import subprocess

try:
    subprocess.Popen(["sleep", "1000"])
except BaseException as error:  # noqa: BLE001  (the cheat hides the refusal)
    print("refused:", error)
try:
    os.system("sleep 1000 &")
except BaseException:  # noqa: BLE001
    pass


async def hello(name: str = "world") -> str:
    return f"Hello, {name}!"


def main() -> str:
    import asyncio

    return asyncio.run(hello())
