"""The layer rules of docs/architecture.md hold over src/ (tools/check_architecture.py), and the check can fail."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_CSS = "CSS = 'body{margin:0;padding:0;} .a{color:red;background:blue;} .c{border:0;top:0;} .b{color:#333;}'\n"


@pytest.fixture(scope="module")
def arch():
    spec = importlib.util.spec_from_file_location("check_architecture", ROOT / "tools" / "check_architecture.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["check_architecture"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_the_source_tree_keeps_the_layer_rules(arch):
    problems = arch.check()
    assert not problems, "\n".join(map(str, problems))


def _tree(tmp_path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "src" / "interview_guard"
    for name, text in {"__init__.py": "", **files}.items():
        f = pkg / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return pkg


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"signals/x.py": "from interview_guard.io.media import probe\n"}, "layer 'signals' may not import"),
        ({"analyzers/x.py": "from interview_guard.extract.session import extract_tracks\n"}, "may not import"),
        ({"pipeline/x.py": "from interview_guard.synth.generate import generate\n"}, "may not import"),
        ({"report/x.py": "from interview_guard.io.video_decode import iter_frames\n"}, "may not import"),
        ({"io/x.py": "from interview_guard.pipeline.scan import scan_session\n"}, "may not import"),
        ({"signals/x.py": "def f():\n    import cv2\n"}, "nothing heavy"),
        ({"signals/x.py": "def f(p):\n    return open(p).read()\n"}, "opens no file"),
        ({"tracks/x.py": "from pathlib import Path\n"}, "opens no file"),
        ({"extract/x.py": "import av\n"}, "module level"),
        ({"report/x.py": _CSS}, "CSS or JavaScript"),
        ({"io/x.py": "x = 1\n" * 700}, "over 600"),
    ],
)
def test_the_check_finds_each_kind_of_break(arch, tmp_path, files, needle):
    problems = arch.check(_tree(tmp_path, files))
    assert any(needle in p.message for p in problems), problems


def test_allowed_imports_and_lazy_heavy_imports_pass(arch, tmp_path):
    files = {
        "analyzers/x.py": (
            "from interview_guard.tracks import Tracks\nfrom interview_guard.signals.metrics import roc_auc\n"
        ),
        "extract/y.py": "def f():\n    import av\n    return av\n",
        "pipeline/z.py": "from interview_guard.extract.session import extract_tracks\n",
    }
    assert arch.check(_tree(tmp_path, files)) == []
