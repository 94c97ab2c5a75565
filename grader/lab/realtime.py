"""Real sockets under virtual time: `async with real_time():` for the block's duration.

The grader's loop (looptime) moves its clock to the next timer as soon as nothing is ready
to run. That is what makes `asyncio.sleep(2)` free, and it is wrong while a real server
(PostgreSQL, memcached) is working on a reply: nothing is ready yet, so the clock jumps to
the next timer, and a correct app with `asyncio.timeout(0.5)` around its cache call, or
asyncpg's own connect timeout, sees a timeout that never happened. Under load, a reply
takes long enough for that to happen at random.

Inside `real_time()` the loop's clock follows the real one instead: looptime never jumps
while work it cannot see is in flight (a future of `run_in_executor`), and moves its clock
in small steps as real time passes (never faster; it stands still while I/O arrives). The
block holds such a future, a thread waiting for the block to end, so timers fire when their
real time has come: a 0.5 s timeout fires after at least 0.5 s of real time, a reply that
comes in 5 ms is read after 5 ms. The clock still only moves forwards and `loop.time()`
stays the loop's own, so Stopwatch and `within` keep working (in real seconds, then).

On any other loop (a notebook's) the block runs as it is.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import looptime


def virtual(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the loop's clock is looptime's, compacting time right now."""
    return isinstance(loop, looptime.LoopTimeEventLoop) and bool(loop.looptime_on)


@asynccontextmanager
async def real_time() -> AsyncIterator[None]:
    """The block runs with the loop's clock following real time (see the module's doc)."""
    loop = asyncio.get_running_loop()
    if not virtual(loop):
        yield
        return
    ended = threading.Event()
    # Its own thread, not the loop's default executor: the learner's code may use that one.
    holder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grader-real-time")
    waiting = loop.run_in_executor(holder, ended.wait)
    try:
        yield
    finally:
        ended.set()
        await asyncio.shield(waiting)
        holder.shutdown(wait=False)
