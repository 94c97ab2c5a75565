"""Cheat: fetch forbidden modules by name from a worker thread (pkgutil.resolve_name: an
import already done makes no import event, so this one is flagged, not refused)."""

import concurrent.futures
import pkgutil

got = {}
with concurrent.futures.ThreadPoolExecutor(1) as pool:
    for name in ("ctypes", "gc", "faulthandler", "grader.engine.plugin", "solutions.ex00_start"):
        try:
            got[name] = pool.submit(pkgutil.resolve_name, name).result().__name__
        except BaseException as error:
            got[name] = repr(error)[:80]
print(got)
hello = got.get("solutions.ex00_start") and pkgutil.resolve_name("solutions.ex00_start").hello


def main() -> str:
    raise NotImplementedError
