"""Quality sits above surveys in the module order: it reads survey facts through the readers
surveys hands it at start, and never imports the surveys module."""

import ast
from pathlib import Path

import servicecharter.quality

QUALITY = Path(servicecharter.quality.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_quality_module_imports_the_modules_below_it():
    below = ("servicecharter.surveys", "servicecharter.assessment", "servicecharter.discipline")
    offenders = {
        str(path.relative_to(QUALITY)): sorted(
            name for name in _imported_modules(path) if name.startswith(below)
        )
        for path in QUALITY.rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {path: names for path, names in offenders.items() if names} == {}
