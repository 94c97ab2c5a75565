"""`grader check NN --share URL --name NAME`: send the result (never the code, never what
it printed) to a teacher's live dashboard (`grader serve`).

Sharing is a courtesy, never a condition: whatever goes wrong (no server, a refusal, a slow
network) costs at most a few seconds and one line on stderr, and never changes the check's
own result or exit status.
"""

from __future__ import annotations

import sys
from typing import Any

from .results import ChapterResult

SHARE_SECONDS = 3.0
MAX_NAME = 40


def payload(name: str, results: list[ChapterResult]) -> dict[str, Any]:
    """Names, chapters, check names and scores: nothing else leaves the learner's machine."""
    return {
        "name": name,
        "results": [
            {
                "chapter": result.chapter,
                "score": result.score,
                "max_score": result.max_score,
                "checks": [
                    {"name": c.name, "task": c.task, "points": c.points, "passed": c.passed}
                    for c in result.checks
                ],
            }
            for result in results
        ],
    }


def share(url: str, name: str, results: list[ChapterResult]) -> bool:
    """Post the results to `url` (a share URL printed by `grader serve`). True when the
    dashboard took them; otherwise one line on stderr says why."""
    import httpx

    if not name.strip() or len(name) > MAX_NAME:
        print(f"grader: not shared: --name must be 1 to {MAX_NAME} characters", file=sys.stderr)
        return False
    if not results:
        print("grader: nothing shared: no chapter here is started yet", file=sys.stderr)
        return False
    try:
        response = httpx.post(
            url,
            json=payload(name.strip(), results),
            timeout=httpx.Timeout(SHARE_SECONDS),
            trust_env=False,
            follow_redirects=False,
        )
    except Exception as error:  # noqa: BLE001  (sharing never breaks a check)
        reason = type(error).__name__
        print(f"grader: not shared: the dashboard at {url} did not answer ({reason})",
              file=sys.stderr)  # fmt: skip
        return False
    if response.status_code >= 300:
        try:
            said = str(response.json().get("error", ""))[:200]
        except Exception:  # noqa: BLE001
            said = ""
        print(
            f"grader: not shared: the dashboard answered {response.status_code}"
            + (f" ({said})" if said else ""),
            file=sys.stderr,
        )
        return False
    chapters = ", ".join(r.chapter for r in results)
    print(f"grader: shared with your teacher's dashboard as {name.strip()} (chapter "
          f"{chapters})", file=sys.stderr)  # fmt: skip
    return True
