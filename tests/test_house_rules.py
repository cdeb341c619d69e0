"""Rules of the code itself that a reviewer would otherwise check by eye."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "kolorize"
MAX_BODY_LINES = 60


def long_functions(root: Path = SRC, limit: int = MAX_BODY_LINES) -> list[str]:
    """`path:line name (n lines)` for every function whose body is over `limit` lines (from
    its first statement, docstring included, to its last line)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.body[0].lineno + 1
                if lines > limit:
                    rel = path.relative_to(root.parent)
                    found.append(f"{rel}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_body_is_over_60_lines():
    assert long_functions() == []


def test_the_measure_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    (tmp_path / "long.py").write_text(f"def f():\n{body}\n", encoding="utf-8")
    assert long_functions(tmp_path) == [f"{tmp_path.name}/long.py:1 f (61 lines)"]
