"""After each check: did the learner's code rebind anything it did not define?

Before the learner's file is first imported, the child records what every watched module
and every class defined in it holds. After each check the same places are compared: a
function of the grader, pytest or asyncio replaced, a builtin swapped, a tracer left
installed. Each change fails the check with what was changed, and the original is put back
so the next check runs on an untouched grader.

The comparison is one C-level dict comparison per namespace (values are compared by
identity first, so an unchanged namespace costs next to nothing); only a namespace that
differs is looked at name by name. Private module globals that libraries legitimately
change (asyncio's current policy, a cache) are accepted and become the new reference.
"""

from __future__ import annotations

import operator
import sys
import threading
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Any

# Modules whose every name is compared; in the others only public names are (private
# module globals such as asyncio's current policy legitimately change while checks run).
WATCHED_ALL = ("grader", "builtins")
# What a verdict is made of: pytest's machinery, the loop and its clock, the test client and
# the clients the checks read real servers with, logging (checks read the learner's logs),
# json and time. (The standard library's other modules are not what checks decide with.)
WATCHED_PUBLIC = (
    "_pytest", "pytest", "pluggy", "looptime", "blockbuster", "asyncio", "json", "time",
    "traceback", "logging", "threading", "concurrent", "quart", "werkzeug", "httpx",
    "httpcore", "asyncpg", "aiomcache", "websockets", "prometheus_client",
)  # fmt: skip
# Set by the interpreter itself; not a learner's doing.
IGNORED = {("builtins", "_"), ("builtins", "__build_class__")}
MISSING = object()
IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: no attribute of it can be set at all


@dataclass(frozen=True)
class Change:
    owner: str
    name: str

    def __str__(self) -> str:
        return f"{self.owner}.{self.name}"


def _watched(name: str) -> int:
    """0: not watched, 1: public names, 2: every name."""
    top = name.partition(".")[0]
    if top in WATCHED_ALL:
        return 2
    return 1 if top in WATCHED_PUBLIC else 0


def _same(current: Any, saved: dict[str, Any]) -> bool:
    try:
        return bool(current == saved)
    except Exception:  # noqa: BLE001  (a value with a strange __eq__: look name by name)
        return False


class Snapshot:
    def __init__(self, exempt: set[str]) -> None:
        self.modules: list[tuple[str, dict[str, Any], dict[str, Any], int]] = []
        self.classes: list[tuple[type, str, dict[str, Any]]] = []
        seen: set[int] = set()
        for name, module in list(sys.modules.items()):
            level = _watched(name)
            if not level or name in exempt or not isinstance(module, ModuleType):
                continue
            namespace = vars(module)
            self.modules.append((name, namespace, dict(namespace), level))
            for value in list(namespace.values()):
                if (
                    isinstance(value, type)
                    and getattr(value, "__module__", None) == name
                    and id(value) not in seen
                    and not value.__flags__ & IMMUTABLE_TYPE
                ):
                    seen.add(id(value))
                    self.classes.append((value, f"{name}.{value.__qualname__}", dict(vars(value))))
        self.hooks = self._hooks()
        # Live views and their copies side by side: one list comparison, in C, per check.
        self.live: list[Any] = [m[1] for m in self.modules] + [vars(c[0]) for c in self.classes]
        self.saved: list[dict[str, Any]] = [m[2] for m in self.modules] + [
            c[2] for c in self.classes
        ]

    @staticmethod
    def _hooks() -> dict[str, Any]:
        return {
            "sys.gettrace()": sys.gettrace(),
            "sys.getprofile()": sys.getprofile(),
            "threading.settrace": getattr(threading, "_trace_hook", None),
            "threading.setprofile": getattr(threading, "_profile_hook", None),
        }

    def verify_and_restore(self) -> list[Change]:
        changes = self._hook_changes()
        try:
            if self.live == self.saved:
                return changes
            differ = [
                i for i, same in enumerate(map(operator.eq, self.live, self.saved)) if not same
            ]
        except Exception:  # noqa: BLE001  (a value with a strange __eq__: look one by one)
            pairs = zip(self.live, self.saved, strict=True)
            differ = [i for i, (a, b) in enumerate(pairs) if not _same(a, b)]
        for index in differ:
            if index < len(self.modules):
                name, namespace, saved, level = self.modules[index]
                changes += self._module_changes(name, namespace, saved, level)
            else:
                cls, label, saved = self.classes[index - len(self.modules)]
                changes += self._class_changes(cls, label, vars(cls), saved)
        return changes

    @staticmethod
    def _module_changes(
        name: str, namespace: dict[str, Any], saved: dict[str, Any], level: int
    ) -> list[Change]:
        changes: list[Change] = []
        for key in set(saved) | set(namespace):
            before, now = saved.get(key, MISSING), namespace.get(key, MISSING)
            if before is now:
                continue
            private = key.startswith("__") if level == 2 else key.startswith("_")
            lazy = before is MISSING and (
                isinstance(now, ModuleType)  # a submodule imported since
                # the package filled in a name of its own (a lazy __getattr__)
                or str(getattr(now, "__module__", "")).startswith(name.partition(".")[0])
            )
            if private or lazy or (name, key) in IGNORED:
                # Accepted: it becomes the reference for the next check.
                if now is MISSING:
                    saved.pop(key, None)
                else:
                    saved[key] = now
                continue
            changes.append(Change(name, key))
            if before is MISSING:
                namespace.pop(key, None)
            else:
                namespace[key] = before
        return changes

    @staticmethod
    def _class_changes(
        cls: type, label: str, current: MappingProxyType[str, Any], saved: dict[str, Any]
    ) -> list[Change]:
        changes: list[Change] = []
        for key in set(saved) | set(current):
            before, now = saved.get(key, MISSING), current.get(key, MISSING)
            if before is now:
                continue
            if before is MISSING and key.startswith("__") and key.endswith("__"):
                saved[key] = now  # the interpreter's own caches (__slotnames__...)
                continue
            changes.append(Change(label, key))
            try:
                if before is MISSING:
                    type.__delattr__(cls, key)
                else:
                    type.__setattr__(cls, key, before)
            except (TypeError, AttributeError):
                pass  # a built-in type's slot: it cannot have been changed from Python either
        return changes

    def _hook_changes(self) -> list[Change]:
        changes = [
            Change(label.partition(".")[0], label.partition(".")[2])
            for label, value in self._hooks().items()
            if value is not self.hooks[label]
        ]
        if changes:
            sys.settrace(self.hooks["sys.gettrace()"])
            sys.setprofile(self.hooks["sys.getprofile()"])
            if hasattr(threading, "_trace_hook"):
                threading._trace_hook = self.hooks["threading.settrace"]
                threading._profile_hook = self.hooks["threading.setprofile"]
        return changes
