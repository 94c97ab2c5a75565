"""Everything the audit hook refuses, done from a worker thread (no frame of this file on the
stack, so the hook blames nobody): start a program, write a file, read /proc and solutions/."""

import concurrent.futures
import pathlib
import subprocess

report = []
with concurrent.futures.ThreadPoolExecutor(1) as pool:
    for name, call, args in [
        ("spawn", subprocess.Popen, (["setsid", "sh", "-c", "sleep 777 # hostile-left"],)),
        ("write", pathlib.Path("/tmp/hostile-was-here").write_text, ("x",)),
        ("proc", pathlib.Path("/proc/self/status").read_text, ()),
        ("solution", pathlib.Path("../../solutions/ex00_start.py").read_text, ()),
    ]:
        try:
            pool.submit(call, *args).result()
            report.append(f"{name}: done")
        except BaseException as error:
            report.append(f"{name}: {type(error).__name__} {error}")
print(report)


async def hello(name: str = "world") -> str:
    raise NotImplementedError


def main() -> str:
    raise NotImplementedError
