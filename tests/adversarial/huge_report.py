"""Flood: the largest report a file can get, per check: ten distinct refusals with long
paths (each becomes a note), a long exception, long output. The first import stays clean."""

import os

if os.environ.get("SEEN"):
    for i in range(12):
        try:
            open(f"/tmp/{i}" + "\u2588" * 1990, "w")
        except BaseException:
            pass
    print(("\u2588" * 399 + "\n") * 20)
    raise ValueError(("\u2588" * 399 + "\n") * 40)
os.environ["SEEN"] = "1"
