"""The points layout is its architecture: the core never imports a program (only the two places that put
the service together do), and programs never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

from services.points.programs import PROGRAMS

POINTS = Path(__file__).resolve().parents[2] / "services" / "points"
PROGRAMS_DIR = POINTS / "programs"
# Where the service is put together from the core and this deployment's programs.
COMPOSITION = {POINTS / "main.py", POINTS / "jobs.py", PROGRAMS_DIR / "__init__.py"}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def program_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[3] if parts[:3] == ["services", "points", "programs"] and len(parts) > 3 else None


def test_the_core_never_imports_a_program() -> None:
    core = [p for p in POINTS.rglob("*.py") if PROGRAMS_DIR not in p.parents and p not in COMPOSITION]
    offenders = {
        str(p.relative_to(POINTS)): sorted(m for m in imports(p) if m.startswith("services.points.programs"))
        for p in core
    }
    assert {p: m for p, m in offenders.items() if m} == {}
    assert len(core) > 20  # the walk found the core


def test_programs_never_import_each_other() -> None:
    crossings = {}
    for folder in (p for p in PROGRAMS_DIR.iterdir() if p.is_dir() and p.name != "__pycache__"):
        for path in folder.rglob("*.py"):
            others = {program_of(m) for m in imports(path)} - {None, folder.name}
            if others:
                crossings[str(path.relative_to(PROGRAMS_DIR))] = sorted(o for o in others if o)
    assert crossings == {}


def test_every_program_folder_is_listed_once() -> None:
    folders = {p.name for p in PROGRAMS_DIR.iterdir() if p.is_dir() and p.name != "__pycache__"}
    names = [p.name for p in PROGRAMS]
    assert sorted(names) == sorted(folders)
    assert len(set(names)) == len(names)
