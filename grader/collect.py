"""A class's copies of the course, as a teacher downloads them: one folder, zip or git
clone per learner, or a Gradescope export (submission_metadata.yml and one folder per
submission), or a GitHub Classroom clone of the student repositories.

Zips are unpacked with care: no absolute paths or `..`, no links, and bounded in size and
number of files, so an archive cannot write outside its folder or fill the disk.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_UNPACKED = 50_000_000  # bytes one learner's zip may unpack to
MAX_MEMBERS = 5_000
SLUG = re.compile(r"[^A-Za-z0-9._-]+")


class CollectError(Exception):
    """A learner's copy that cannot be read as one (a broken zip): graded as missing."""


@dataclass(frozen=True)
class Learner:
    name: str  # as shown to the teacher
    slug: str  # as used in file names: results/<slug>.json
    folder: Path | None  # where the copy is, once unpacked; None when it could not be read
    problem: str = ""


def slugify(name: str) -> str:
    """A file name for a learner: ASCII letters kept ("José" is "Jose"), the rest dashes."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = SLUG.sub("-", ascii_name).strip("-.") or "learner"
    return slug[:80]


def discover(root: Path, unpack_to: Path, *, skip: Path | None = None) -> list[Learner]:
    """Every learner under `root`, sorted by name, with unique slugs (unique on a disk that
    ignores case, too). `skip`: a folder that is not a learner's (the report's own)."""
    metadata = _gradescope_metadata(root)
    entries: list[tuple[str, Path]] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name == "submission_metadata.yml":
            continue
        if skip is not None and entry.resolve() == skip.resolve():
            continue
        if entry.is_dir() or (entry.is_file() and entry.suffix.lower() == ".zip"):
            name = metadata.get(entry.name) or (
                entry.stem if entry.suffix.lower() == ".zip" else entry.name
            )
            entries.append((name, entry))
    if not metadata:
        entries = _without_common_prefix(entries)
    learners: list[Learner] = []
    seen: set[str] = set()
    for name, entry in sorted(entries, key=lambda pair: (pair[0].casefold(), str(pair[1]))):
        slug = slugify(name)
        while slug.casefold() in seen:
            slug += "-2"
        seen.add(slug.casefold())
        if entry.is_dir():
            learners.append(Learner(name, slug, entry))
            continue
        target = unpack_to / slug
        try:
            unpack(entry, target)
        except CollectError as error:
            learners.append(Learner(name, slug, None, str(error)))
            continue
        learners.append(Learner(name, slug, _single_top_folder(target)))
    return learners


def _gradescope_metadata(root: Path) -> dict[str, str]:
    """Folder name -> submitter names, from a Gradescope export's submission_metadata.yml."""
    path = root / "submission_metadata.yml"
    if not path.is_file():
        return {}
    try:
        import yaml  # type: ignore[import-untyped]

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except Exception:  # noqa: BLE001  (no metadata: folder names stand in)
        return {}
    names: dict[str, str] = {}
    if not isinstance(data, dict):
        return names
    for folder, info in data.items():
        if not isinstance(info, dict):
            continue
        submitters = info.get(":submitters") or info.get("submitters") or []
        people = [
            str(s.get(":name") or s.get("name") or s.get(":email") or "")
            for s in submitters
            if isinstance(s, dict)
        ]
        people = [p for p in people if p]
        if people:
            names[str(folder)] = ", ".join(people)
    return names


def _without_common_prefix(entries: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """GitHub Classroom names each repository `<assignment>-<username>`: show the username.
    Only for a set of git clones, so that folders named jean-paul and jean-luc stay so."""
    if len(entries) < 2 or not all((path / ".git").exists() for _, path in entries):
        return entries
    prefix = os.path.commonprefix([name for name, _ in entries])
    cut = prefix.rfind("-") + 1
    if cut <= 0:
        return entries
    trimmed = [(name[cut:], path) for name, path in entries]
    if any(not name for name, _ in trimmed):
        return entries
    return trimmed


def _single_top_folder(folder: Path) -> Path:
    """A zip of a course folder usually holds that folder: look inside it."""
    children = [c for c in folder.iterdir() if not c.name.startswith((".", "__MACOSX"))]
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    return folder


def unpack(archive: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            if len(members) > MAX_MEMBERS:
                raise CollectError(f"{archive.name} holds over {MAX_MEMBERS} files")
            total = 0
            target.mkdir(parents=True)
            for member in members:
                parts = Path(member.filename).parts
                if member.filename.startswith("/") or ".." in parts or not parts:
                    continue
                if stat.S_ISLNK(member.external_attr >> 16):
                    continue
                total += member.file_size
                if total > MAX_UNPACKED:
                    raise CollectError(f"{archive.name} unpacks to over {MAX_UNPACKED:,} bytes")
                destination = target.joinpath(*parts)
                if member.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, destination.open("wb") as out:
                    remaining = MAX_UNPACKED - total + member.file_size
                    data = source.read(remaining + 1)
                    if len(data) > remaining:
                        raise CollectError(f"{archive.name} unpacks to more than it says")
                    out.write(data)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CollectError(f"{archive.name} is not a readable zip ({error})") from None
