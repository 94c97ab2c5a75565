"""After each check: did the learner's code rebind anything it did not define?

Before the learner's file is first imported, the child records what every watched module
and every class defined in it holds (by identity). After each check the same places are
compared: a function of the grader, pytest or asyncio replaced, a builtin swapped, a tracer
left installed. Each change fails the check with what was changed, and the original is put
back so the next check runs on an untouched grader.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

# Modules whose every name is compared; in the others only public names are (private
# module globals such as asyncio's current policy legitimately change while checks run).
WATCHED_ALL = ("grader", "builtins")
WATCHED_PUBLIC = (
    "_pytest", "pytest", "pluggy", "looptime", "blockbuster", "asyncio", "json", "time",
    "inspect", "traceback", "logging", "functools", "contextvars", "threading", "quart",
    "werkzeug", "hypercorn", "httpx", "concurrent", "math", "random", "re", "operator",
    "collections", "types", "os", "signal", "socket", "selectors", "unittest",
)  # fmt: skip
# Set lazily by the libraries themselves; not a learner's doing.
IGNORED = {("builtins", "_"), ("builtins", "__build_class__")}
MISSING = object()


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


class Snapshot:
    def __init__(self, exempt: set[str]) -> None:
        self.exempt = exempt  # the learner's own modules
        self.modules: dict[str, tuple[ModuleType, dict[str, Any]]] = {}
        self.classes: dict[int, tuple[type, str, dict[str, Any]]] = {}
        for name, module in list(sys.modules.items()):
            level = _watched(name)
            if not level or name in exempt or not isinstance(module, ModuleType):
                continue
            namespace = vars(module)
            self.modules[name] = (module, self._select(namespace, level))
            for value in list(namespace.values()):
                if isinstance(value, type) and getattr(value, "__module__", None) == name:
                    self.classes.setdefault(
                        id(value), (value, f"{name}.{value.__qualname__}", dict(vars(value)))
                    )
        self.hooks = self._hooks()

    @staticmethod
    def _select(namespace: dict[str, Any], level: int) -> dict[str, Any]:
        if level == 2:
            return dict(namespace)
        return {k: v for k, v in namespace.items() if not k.startswith("_")}

    @staticmethod
    def _hooks() -> dict[str, Any]:
        return {
            "sys.gettrace()": sys.gettrace(),
            "sys.getprofile()": sys.getprofile(),
            "threading.settrace": getattr(threading, "_trace_hook", None),
            "threading.setprofile": getattr(threading, "_profile_hook", None),
        }

    def verify_and_restore(self) -> list[Change]:
        changes: list[Change] = []
        for name, (module, saved) in self.modules.items():
            namespace = vars(module)
            level = _watched(name)
            for key, value in saved.items():
                if namespace.get(key, MISSING) is not value and (name, key) not in IGNORED:
                    changes.append(Change(name, key))
                    namespace[key] = value
            for key in list(namespace):
                if key in saved or (level == 1 and key.startswith("_")):
                    continue
                added = namespace[key]
                if isinstance(added, ModuleType) or (name, key) in IGNORED:
                    continue  # a submodule imported since: set by the import system
                if str(getattr(added, "__module__", "")).startswith(name.partition(".")[0]):
                    continue  # the package filled in a name of its own (a lazy __getattr__)
                if level == 2 and key.startswith("__"):
                    continue
                changes.append(Change(name, key))
                del namespace[key]
        for cls, label, saved in self.classes.values():
            current = vars(cls)
            for key, value in saved.items():
                if current.get(key, MISSING) is not value:
                    changes.append(Change(label, key))
                    _set_class_attribute(cls, key, value)
            for key in [k for k in current if k not in saved]:
                changes.append(Change(label, key))
                _del_class_attribute(cls, key)
        for label, value in self._hooks().items():
            if value is not self.hooks[label]:
                changes.append(Change(label.partition(".")[0], label.partition(".")[2]))
        if sys.gettrace() is not self.hooks["sys.gettrace()"]:
            sys.settrace(self.hooks["sys.gettrace()"])
        if sys.getprofile() is not self.hooks["sys.getprofile()"]:
            sys.setprofile(self.hooks["sys.getprofile()"])
        if hasattr(threading, "_trace_hook"):
            threading._trace_hook = self.hooks["threading.settrace"]
            threading._profile_hook = self.hooks["threading.setprofile"]
        return changes


def _set_class_attribute(cls: type, key: str, value: Any) -> None:
    try:
        type.__setattr__(cls, key, value)
    except (TypeError, AttributeError):
        pass  # a built-in type's slot: it cannot have been changed from Python either


def _del_class_attribute(cls: type, key: str) -> None:
    try:
        type.__delattr__(cls, key)
    except (TypeError, AttributeError):
        pass
