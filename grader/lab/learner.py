"""The learner's module as the checks see it: loaded from a path, looked up by name."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .feedback import fail


class Learner:
    """The loaded exercise module; `relpath` is how the learner sees its path."""

    def __init__(self, module: types.ModuleType, path: Path, relpath: str) -> None:
        self.module = module
        self.path = path
        self.relpath = relpath

    def get(self, name: str) -> Any:
        try:
            return getattr(self.module, name)
        except AttributeError:
            fail(
                f"{self.relpath} has no {name}: did you rename it or forget to define it?",
                expected=f"a module-level name `{name}`, as the contract and the stub name it",
                hint=f"Restore the name `{name}` (compare with the stub: `grader reset` keeps "
                "a backup of your file if you want a fresh start).",
            )

    def function(self, name: str) -> Callable[..., Any]:
        value = self.get(name)
        if not callable(value):
            fail(f"{name} in {self.relpath} is not a function", got=type(value).__name__)
        return value  # type: ignore[no-any-return]

    def coroutine_function(self, name: str) -> Callable[..., Any]:
        value = self.function(name)
        if not inspect.iscoroutinefunction(value):
            fail(
                f"{name} must be a coroutine function",
                expected=f"async def {name}(...)",
                got=f"def {name}(...): a plain function",
                hint="Define it with `async def` so that callers can `await` it.",
            )
        return value

    def plain_function(self, name: str) -> Callable[..., Any]:
        value = self.function(name)
        if inspect.iscoroutinefunction(value):
            fail(
                f"{name} must be a plain function, not a coroutine function",
                expected=f"def {name}(...)",
                got=f"async def {name}(...)",
                hint="Plain code calls it without `await`, so it cannot be `async def`.",
            )
        return value

    def patch(self, name: str, value: Any) -> None:
        """Replace a module global (a spy); the module is loaded afresh for every check."""
        self.get(name)
        setattr(self.module, name, value)


def load_module(
    path: Path, name: str, *, prepare: Callable[[dict[str, Any]], None] | None = None
) -> types.ModuleType:
    """Import a file as a module without touching the import system's cache of names.
    `prepare` sees the module's namespace before its code runs (the sandbox's import guard)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    if prepare is not None:
        prepare(module.__dict__)
    # Registered so that pickling, dataclasses and typing.get_type_hints can find it.
    sys.modules[name] = module
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec.loader.exec_module(module)
    return module
