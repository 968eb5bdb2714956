"""Check the layer rules of docs/architecture.md over the source tree; exit 1 and list every break.

Reads ``src/interview_guard`` as text (AST), imports nothing from it. Rules:

* which layers each layer may import (``ALLOWED``); a module's layer is its first package under
  ``interview_guard`` (``signals``, ``io``, ...), top-level modules are their own layer;
* heavy libraries (PyAV, OpenCV, MediaPipe, librosa, matplotlib, Jinja2, the web stack) are imported
  inside functions only, never at module level, except where a layer lists them in ``MODULE_LEVEL_OK``;
* ``signals`` and ``tracks`` open no file: no ``open()``, no ``pathlib``/``os``/``shutil``/``tempfile``/
  ``subprocess`` imports, and no heavy library even inside a function;
* no module over ``MAX_LINES`` lines unless ``docs/architecture.md`` names it in its size exceptions;
* no CSS or JavaScript inside ``.py`` files (templates and static files are package data).

Run: ``python tools/check_architecture.py`` (``make lint`` does; ``tests/test_architecture.py`` too).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "interview_guard"
DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 600

BASE = {"errors", "atomic", "_version", "progress"}
# layer -> the layers it may import (besides itself and BASE)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "atomic": set(),
    "_version": set(),
    "progress": set(),
    "tracks": set(),
    "signals": set(),
    "io": {"tracks"},
    "extract": {"tracks", "signals", "io"},
    "analyzers": {"tracks", "signals"},
    "fusion": {"tracks", "signals", "analyzers", "io"},
    "report": {"tracks", "analyzers", "fusion"},
    "pipeline": {"tracks", "signals", "io", "extract", "analyzers", "fusion", "report"},
    "synth": {"tracks", "signals", "io"},
    "web": {"tracks", "io", "analyzers", "fusion", "report", "pipeline"},
    "cli": {"tracks", "signals", "io", "extract", "analyzers", "fusion", "report", "pipeline", "synth", "web"},
    "__init__": {"pipeline", "report", "io", "tracks"},
}
HEAVY = {"av", "cv2", "mediapipe", "librosa", "matplotlib", "jinja2", "fastapi", "starlette", "uvicorn", "dask"}
MODULE_LEVEL_OK: dict[str, set[str]] = {"web": {"fastapi", "starlette", "uvicorn", "jinja2"}}
PURE = {"signals", "tracks"}
FILE_MODULES = {"os", "pathlib", "shutil", "tempfile", "subprocess", "glob", "io"}
CSS_JS = re.compile(
    r"(?:[a-z-]+\s*:\s*[^;{}\n]+;\s*[a-z-]+\s*:[^;{}\n]+;)"  # two CSS declarations in a row
    r"|document\.getElementById|addEventListener\(|function\s*\(\s*\w*\s*\)\s*\{"
)


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def layer_of(module: str) -> str:
    """``interview_guard.signals.stats`` -> ``signals``; ``interview_guard.cli`` -> ``cli``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def module_name(path: Path, root: Path = PKG) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def size_exceptions() -> set[str]:
    """Paths (relative to src/interview_guard) that docs/architecture.md allows over MAX_LINES."""
    if not DOC.is_file():
        return set()
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"<!-- size-exceptions -->(.*?)<!-- /size-exceptions -->", text, re.S)
    return set(re.findall(r"`([\w/]+\.py)`", m.group(1))) if m else set()


def _resolve(node: ast.ImportFrom, module: str, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def check_file(path: Path, allowed_big: set[str], root: Path = PKG) -> list[Problem]:
    rel = str(path.relative_to(root.parents[1]))
    src = path.read_text(encoding="utf-8")
    tree = ast.parse(src, filename=rel)
    module = module_name(path, root)
    layer = layer_of(module)
    problems: list[Problem] = []
    module_level = {id(n) for n in tree.body}
    # imports at module level inside `if TYPE_CHECKING:` blocks or try: are still module level for our purpose
    for n in tree.body:
        if isinstance(n, ast.If | ast.Try):
            module_level |= {id(c) for c in ast.walk(n)}
    type_checking = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
            type_checking |= {id(c) for c in ast.walk(n)}

    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, path.name == "__init__.py")
            targets = [base]
            if base == "interview_guard":  # from interview_guard import analyzers
                targets = [f"interview_guard.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            if layer in PURE:
                problems.append(Problem(rel, node.lineno, f"{layer}/ opens no file (open() called)"))
            continue
        else:
            continue
        if id(node) in type_checking:  # annotations only: nothing is imported at run time
            continue
        for target in targets:
            top = target.split(".")[0]
            if top == "interview_guard":
                if target == "interview_guard":
                    continue
                other = layer_of(target)
                if other == layer or other in BASE:
                    continue
                if other not in ALLOWED.get(layer, set()):
                    problems.append(Problem(rel, node.lineno, f"layer {layer!r} may not import {target!r}"))
            elif top in HEAVY:
                if layer in PURE:
                    problems.append(Problem(rel, node.lineno, f"{layer}/ imports nothing heavy ({top})"))
                elif id(node) in module_level:
                    if top not in MODULE_LEVEL_OK.get(layer, set()):
                        problems.append(
                            Problem(rel, node.lineno, f"{top} imported at module level (import it where it is used)")
                        )
            elif layer in PURE and top in FILE_MODULES:
                problems.append(Problem(rel, node.lineno, f"{layer}/ opens no file (imports {top})"))

    n_lines = src.count("\n") + 1
    key = str(path.relative_to(root))
    if n_lines > MAX_LINES and key not in allowed_big:
        problems.append(
            Problem(rel, 1, f"{n_lines} lines (over {MAX_LINES}; split it or say why in docs/architecture.md)")
        )
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CSS_JS.search(node.value):
            if len(node.value) > 80:
                problems.append(Problem(rel, node.lineno, "CSS or JavaScript in a .py file (use templates/static)"))
    return problems


def check(root: Path = PKG) -> list[Problem]:
    allowed_big = size_exceptions()
    problems: list[Problem] = []
    for path in sorted(root.rglob("*.py")):
        problems.extend(check_file(path, allowed_big, root))
    return problems


def main() -> int:
    problems = check()
    for p in problems:
        print(p)
    n = len(list(PKG.rglob("*.py")))
    print(f"architecture: {n} modules checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
