"""A static scan of a submission for what the audit hook cannot see.

The hook refuses direct actions (an import of the grader, writing a file). Code can also
reach the grader's objects indirectly: a module fetched from `sys.modules`, a frame's
globals, a class patched through `setattr`, a name computed at run time. No exercise needs
any of these, so each use is flagged: the check still runs, and the result carries an
integrity note (in --json, on each affected check and at the top, and in the teacher's
report) that says which line does what. A flag is a reason to look, not a verdict.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

DYNAMIC_CALLS = {
    "__import__": "imports a module by a computed name",
    "exec": "runs code built at run time",
    "eval": "runs code built at run time",
    "compile": "compiles code at run time",
    "breakpoint": "opens a debugger",
}
ATTRIBUTES = {
    "__subclasses__": "walks the class hierarchy to reach other objects",
    "__globals__": "reads a function's module globals",
    "__builtins__": "reaches the builtins",
    "__code__": "reads or replaces a function's code",
    "__closure__": "reads a function's closure",
    "__dict__": "reads or writes an object's namespace directly",
    "__bases__": "walks the class hierarchy",
    "__base__": "walks the class hierarchy",
    "__mro__": "walks the class hierarchy",
    "__getattribute__": "bypasses normal attribute access",
    "__setattr__": "sets attributes bypassing normal access",
    "__delattr__": "deletes attributes bypassing normal access",
    "f_back": "walks the interpreter's stack frames",
    "f_globals": "reads another frame's globals",
    "f_locals": "reads another frame's variables",
    "f_builtins": "reads a frame's builtins",
    "tb_frame": "walks the interpreter's stack frames",
    "gi_frame": "walks the interpreter's stack frames",
    "cr_frame": "walks the interpreter's stack frames",
    "ag_frame": "walks the interpreter's stack frames",
    "get_stack": "walks the stack frames of tasks",
    "_getframe": "walks the interpreter's stack frames",
    "currentframe": "walks the interpreter's stack frames",
    "settrace": "installs a tracer that sees every line run",
    "setprofile": "installs a profiler that sees every call",
    "spawnv_passfds": "starts a program",
    "fork_exec": "starts a program",
    # Reading code instead of running it: a test that fingerprints the app under test
    # "catches" every fault without testing anything (chapter 14).
    "getsource": "reads source code instead of running it",
    "getsourcelines": "reads source code instead of running it",
    "co_code": "reads compiled code instead of running it",
}
# Modules whose only use in an exercise would be to read or rewrite code.
CODE_READERS = {"dis": "disassembles code", "marshal": "reads compiled code"}
SYS_ATTRIBUTES = {"modules": "fetches already imported modules (such as the grader's)"}
# Namespaces made to be written to: Quart's `g` and `session`.
WRITABLE = {"g", "session"}
MANGLED = re.compile(r"^_[A-Za-z0-9]+__[A-Za-z0-9_]*[A-Za-z0-9]$")


@dataclass(frozen=True)
class Finding:
    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


# Functions that fetch a module or an object by its name, which no import statement shows.
BY_NAME = {
    "resolve_name": "fetches a module or object by its name",
    "import_module": "imports a module by a computed name",
    "attrgetter": "reads attributes by name",
    "methodcaller": "calls methods by name",
    "run_module": "runs a module by name",
    "run_path": "runs a file as code",
    "stack": "walks the interpreter's stack frames",
    "trace": "walks the interpreter's stack frames",
    "getouterframes": "walks the interpreter's stack frames",
    "getinnerframes": "walks the interpreter's stack frames",
    "walk_stack": "walks the interpreter's stack frames",
    "walk_tb": "walks the interpreter's stack frames",
    "extract_stack": "walks the interpreter's stack frames",
}
MODULE_READERS = {"pkgutil", "importlib", "runpy", "gc", "ctypes", "inspect"}
ENVIRONMENT = "os.environ"


def scan(source: str) -> list[Finding]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # a file Python cannot read fails at import; nothing to flag
    try:
        return _scan(tree)
    except (RecursionError, MemoryError):
        return [Finding(0, "code nested too deeply to be read (it cannot be checked either)")]


def _scan(tree: ast.Module) -> list[Finding]:
    imported = _imported_names(tree)
    sys_names = _aliases(tree, "sys")
    findings: list[Finding] = []

    def add(node: ast.AST, what: str) -> None:
        findings.append(Finding(getattr(node, "lineno", 0), what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for module in modules:
                top = module.partition(".")[0]
                if top in CODE_READERS:
                    add(node, f"imports {top}, which {CODE_READERS[top]}")
                elif top in MODULE_READERS:
                    add(node, f"imports {top}, which reaches modules, objects or frames by name")
            if isinstance(node, ast.ImportFrom) and (node.module or "") == "sys":
                for alias in node.names:
                    if alias.name in ("modules", "_getframe", "settrace", "setprofile"):
                        add(node, f"imports sys.{alias.name}: it reaches the grader's objects")
            for alias in node.names:
                if alias.name in BY_NAME:
                    add(node, f"imports {alias.name}, which {BY_NAME[alias.name]}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            _call(node, imported, add)
        elif isinstance(node, ast.Attribute):
            attr = node.attr
            root = _root(node.value)
            if attr in ATTRIBUTES:
                add(node, f".{attr} {ATTRIBUTES[attr]}")
            elif attr in BY_NAME:
                add(node, f".{attr}(...) {BY_NAME[attr]}")
            elif attr in SYS_ATTRIBUTES and root in sys_names:
                add(node, f"sys.{attr} {SYS_ATTRIBUTES[attr]}")
            elif MANGLED.match(attr):
                add(node, f".{attr} reaches a private (name-mangled) attribute of another class")
            elif attr.startswith("_") and not attr.startswith("__") and root not in ("self", "cls"):
                add(node, f".{attr} reaches a private attribute of an object it did not define")
            if isinstance(node.ctx, ast.Store | ast.Del) and root in imported - WRITABLE:
                add(node, f"assigns {_dotted(node)}: changes an imported module or class")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            if _dotted(node.value) == ENVIRONMENT:
                add(node, "changes os.environ: the environment is not the exercise's to change")
        elif isinstance(node, ast.Name) and node.id == "__builtins__":
            add(node, "__builtins__ reaches the builtins")
    unique = {(f.line, f.what): f for f in findings}
    return sorted(unique.values(), key=lambda f: (f.line, f.what))


def _call(node: ast.Call, imported: set[str], add: Callable[[ast.AST, str], None]) -> None:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name in DYNAMIC_CALLS:
        add(node, f"{name}(...) {DYNAMIC_CALLS[name]}")
    elif name in ("setattr", "delattr", "getattr", "hasattr") and len(node.args) >= 2:
        attribute = node.args[1]
        value = attribute.value if isinstance(attribute, ast.Constant) else None
        if not isinstance(value, str):
            add(node, f"{name}(...) with a computed attribute name")
        elif value.startswith("_") or value in ATTRIBUTES:
            add(node, f"{name}(..., {value!r}) reaches what is not public")
        elif name in ("setattr", "delattr") and _root(node.args[0]) in imported:
            add(node, f"{name}(...) changes an imported module or class")
    elif name == "vars" and node.args:
        add(node, "vars(...) reaches an object's namespace directly")
    elif name in ("globals", "locals") and not node.args:
        pass  # the file's own names
    elif name in BY_NAME:
        add(node, f"{name}(...) {BY_NAME[name]}")
    elif isinstance(node.func, ast.Attribute) and node.func.attr in ("__setattr__", "__delattr__"):
        add(node, f".{node.func.attr}(...) sets attributes bypassing normal access")


def _aliases(tree: ast.Module, module: str) -> set[str]:
    """The names `module` is known by in the file (`import sys as s` gives {"s"})."""
    names = {module}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == module:
                    names.add(alias.asname or module)
    return names


def _imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.add(alias.asname or alias.name.partition(".")[0])
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                names.add(alias.asname or alias.name)
    return names


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001  (a rendering aid only)
        return "an attribute"
