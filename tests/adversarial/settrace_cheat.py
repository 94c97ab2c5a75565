"""Cheat: a tracer that sees (and could change) every line the checks run."""

import sys
import threading


def tracer(frame, event, arg):
    return tracer


threading.settrace(tracer)
try:
    sys.settrace(tracer)
except BaseException:  # noqa: BLE001
    pass


async def hello(name: str = "world") -> str:
    raise NotImplementedError


def main() -> str:
    raise NotImplementedError
