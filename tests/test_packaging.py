"""Every folder of Python code is a package, so a built wheel holds all of it (setup.py
maps core/, sessions/ and tui/ onto tunebook.* with find_packages, which needs __init__.py)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_code_folder_is_a_package() -> None:
    missing = [
        str(folder.relative_to(ROOT))
        for layer in ("core", "sessions", "tui")
        for folder in [ROOT / layer, *(p for p in (ROOT / layer).rglob("*") if p.is_dir())]
        if folder.name != "__pycache__"
        and any(folder.glob("*.py"))
        and not (folder / "__init__.py").exists()
    ]
    assert missing == []
