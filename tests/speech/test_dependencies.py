"""speech uses no other part (docs/architecture.md): only itself and the shared plumbing in
hotline/, not hotline.bot (the bot's files) — imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARTS = {"actions", "bot", "gateway", "knowledge", "triage", "workorders", "bench", "tests"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_speech_imports_no_other_part() -> None:
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "speech").rglob("*.py"))
        for name in imported(path)
        if name.split(".")[0] in PARTS or name == "hotline.bot" or name.startswith("hotline.bot.")
    }
    assert not offending, "speech must be given what it needs by its caller: " + ", ".join(
        sorted(offending)
    )
