"""The "Fields in the report" sections of the analyzer docs, and the result fields they do not list.

Each analyzer's doc has a section headed ``Fields in the report`` (with the analyzer's name in backticks when the
doc covers several analyzers); under it, one heading per place: ``metrics``, or ``details`` of one or more
evidence kinds (``#### `details` of `face_softness`, `seam_flicker```), each followed by a table whose first cell
names a field in backticks (or several, ``| `a`, `b` |``). A nested field is written as a path:
``relay_incidents.count`` (a key of an object), ``examples[].t_s`` (a key of the objects of a list),
``measures.<measure>.median`` (``<...>`` stands for any one key, dots in it too: container tag names have them).

:func:`undocumented` flattens a result's ``metrics`` and each evidence item's ``details`` into such paths and
returns the ones the doc does not list.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"

#: The doc of each analyzer.
DOCS = {
    "face_occlusion": "face-occlusion.md",
    "face_identity": "face-identity.md",
    "face_artifacts": "face-artifacts.md",
    "av_sync": "audio-analyzers.md",
    "acoustic_keystroke": "audio-analyzers.md",
    "keystroke_relay": "keystroke-relay.md",
    "environment": "environment.md",
}

_HEADING = re.compile(r"^(#+)\s+(.*?)\s*$")
_TICKED = re.compile(r"`([^`]+)`")
_ROW = re.compile(r"^\|([^|]*)\|")


def _section(text: str, analyzer: str) -> list[str]:
    """Lines of the doc's "Fields in the report" section for ``analyzer`` (the whole section, sub-headings too)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if not m or not m.group(2).startswith("Fields in the report"):
            continue
        named = _TICKED.findall(m.group(2))
        if named and analyzer not in named:
            continue
        level = len(m.group(1))
        out = []
        for nxt in lines[i + 1 :]:
            h = _HEADING.match(nxt)
            if h and len(h.group(1)) <= level:
                break
            out.append(nxt)
        return out
    raise AssertionError(f"no 'Fields in the report' section for {analyzer} in docs/{DOCS[analyzer]}")


def parse_fields(text: str, analyzer: str) -> dict[str, set[str]]:
    """Documented field paths by place: ``"metrics"`` and ``"details:<kind>"``."""
    fields: dict[str, set[str]] = {}
    places: list[str] = []
    for line in _section(text, analyzer):
        h = _HEADING.match(line)
        if h:
            title = h.group(2)
            if title.startswith("`metrics`"):
                places = ["metrics"]
            elif title.startswith("`details` of"):
                places = [f"details:{k}" for k in _TICKED.findall(title.removeprefix("`details` of"))]
            else:
                places = []
            continue
        row = _ROW.match(line)
        if row and places:
            for p in places:
                fields.setdefault(p, set()).update(_TICKED.findall(row.group(1)))
    return fields


@cache
def documented(analyzer: str) -> dict[str, set[str]]:
    return parse_fields((DOCS_DIR / DOCS[analyzer]).read_text(encoding="utf-8"), analyzer)


Path = tuple[str, ...]


def flatten(value: Any, prefix: Path = ()) -> set[Path]:
    """Paths of every key in ``value``, one segment a key: ``("a", "b")`` for nested objects, ``("a[]", "b")`` for
    the objects inside the list ``a``."""
    out: set[Path] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            path = (*prefix, str(k))
            out.add(path)
            out |= flatten(v, path)
    elif isinstance(value, list | tuple) and prefix:
        for v in value:
            out |= flatten(v, (*prefix[:-1], prefix[-1] + "[]"))
    return out


_WILD = re.compile(r"<[^>]+>")


def _segment_matches(pattern: str, key: str) -> bool:
    """One documented segment against one key: equal, or ``<...>`` (any key) with the same ``[]`` suffixes."""
    if pattern == key:
        return True
    p_base, k_base = pattern.rstrip("[]"), key.rstrip("[]")
    suffix_p, suffix_k = pattern[len(p_base) :], key[len(k_base) :]
    return bool(_WILD.fullmatch(p_base)) and bool(k_base) and suffix_p == suffix_k


def _listed(patterns: set[str], path: Path) -> bool:
    for p in patterns:
        segments = p.split(".")
        if len(segments) == len(path) and all(map(_segment_matches, segments, path)):
            return True
    return False


def undocumented(analyzer: str, result: dict[str, Any], fields: dict[str, set[str]] | None = None) -> list[str]:
    """``place: path`` of every metrics / details field of ``result`` (``AnalyzerResult.to_dict()``) not listed."""
    fields = documented(analyzer) if fields is None else fields
    found: list[tuple[str, dict[str, Any]]] = [("metrics", result.get("metrics") or {})]
    found += [(f"details:{ev['kind']}", ev.get("details") or {}) for ev in result.get("evidence") or []]
    missing = set()
    for place, value in found:
        listed = fields.get(place, set())
        missing |= {f"{place}: {'.'.join(p)}" for p in flatten(value) if not _listed(listed, p)}
    return sorted(missing)
