"""Cheat: a detached program that outlives the check and rewrites results.json later,
started through multiprocessing's low-level helper (which the audit hook does not see)."""

import multiprocessing.util as util

util.spawnv_passfds(
    b"/bin/sh",
    [
        "/bin/sh",
        "-c",
        "sleep 30 # grader-adversarial-detached; echo '{\"score\": 99}' > results.json",
    ],
    [],
)


async def hello(name: str = "world") -> str:
    raise NotImplementedError


def main() -> str:
    raise NotImplementedError
