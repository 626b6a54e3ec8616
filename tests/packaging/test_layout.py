"""The boundaries docs/architecture.md draws, checked on every module's imports.

The engine imports neither Wyoming nor Home Assistant nor its front ends; the bridge imports nothing from
the development tools; the Home Assistant integration is self-contained (HACS copies only its folder).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DEVTOOLS = ("gemini_live_emulator", "gemini_live_demo")


def imported_modules(package: Path) -> dict[str, set[str]]:
    """Each module under ``package`` (as a path from its parent) → the absolute names it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        home = parts[:-1]  # the package a module's relative imports start from
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = home[: len(home) - node.level + 1]
                    names.add(".".join((*base, node.module)) if node.module else ".".join(base))
                elif node.module:
                    names.add(node.module)
        found[path.relative_to(package.parent).as_posix()] = names
    return found


def offenders(package: Path, forbidden: tuple[str, ...]) -> list[str]:
    """``module imports name`` for every import of a forbidden top-level package."""
    return [
        f"{module} imports {name}"
        for module, names in imported_modules(package).items()
        for name in sorted(names)
        if name.split(".")[0] in forbidden
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("gemini_live_engine", ("wyoming", "homeassistant", "wyoming_bridge", "custom_components", *DEVTOOLS)),
        ("wyoming_bridge", ("homeassistant", "custom_components", *DEVTOOLS)),
        ("custom_components/gemini_live", ("gemini_live_engine", "wyoming_bridge", *DEVTOOLS)),
    ],
)
def test_package_boundaries(package: str, forbidden: tuple[str, ...]) -> None:
    assert offenders(ROOT / package, forbidden) == []


def test_the_check_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .sub import thing\nfrom . import other\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "mod.py").write_text(
        "import wyoming.event\nfrom ..other import x\nfrom .sibling import y\n"
        "from homeassistant.core import HomeAssistant\n"
    )
    found = imported_modules(package)
    assert found["pkg/__init__.py"] == {"pkg.sub", "pkg"}
    assert found["pkg/sub/mod.py"] == {"wyoming.event", "pkg.other", "pkg.sub.sibling", "homeassistant.core"}
    assert offenders(package, ("wyoming", "homeassistant")) == [
        "pkg/sub/mod.py imports homeassistant.core",
        "pkg/sub/mod.py imports wyoming.event",
    ]
