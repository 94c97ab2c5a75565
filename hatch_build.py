"""Build hook: the installed grader carries the original exercise stubs.

`grader reset NN` takes the original stub from the course's git history; a course folder
downloaded as a zip has none. So every install carries the stubs as they were when it was
made (grader/pristine.py says where they go and how the grader finds them): the course
keeps one copy of each stub, in exercises/, and a learner's finished exercise is never
taken for a stub.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def load_pristine(root: str) -> Any:
    # Loaded by path: importing the grader package would need its dependencies, which a
    # build environment does not have.
    spec = importlib.util.spec_from_file_location(
        "_course_pristine", Path(root, "grader", "pristine.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class StubsHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        pristine = load_pristine(self.root)
        self.folder = tempfile.mkdtemp(prefix="course-stubs-")
        for name, text in pristine.build_stubs(Path(self.root)).items():
            path = Path(self.folder, name)
            path.write_text(text, encoding="utf-8")
            if version == "editable":
                build_data["shared_data"][str(path)] = f"{pristine.SHARED_STUBS}/{name}"
            else:
                build_data["force_include"][str(path)] = f"{pristine.PACKAGED_STUBS}/{name}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "folder", None):
            shutil.rmtree(self.folder, ignore_errors=True)
