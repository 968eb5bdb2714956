"""Model files: where they are, and checking them against the manifest.

The MediaPipe ``.task`` bundles and ``fusion.json`` live in the project's
``models/`` directory with ``models/manifest.json`` (file, sha256, source,
licence). The directory is found from, in order: the ``models_dir`` argument,
the ``INTERVIEW_GUARD_MODELS`` environment variable, then ``models/`` beside
the source tree. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from interview_guard.errors import ModelError

__all__ = ["models_dir", "read_manifest", "verified_model_path", "sha256_file", "manifest_hashes"]


def models_dir(models_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory that holds the model files."""
    if models_dir is not None:
        return Path(models_dir)
    env = os.environ.get("INTERVIEW_GUARD_MODELS")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "models"
        if (cand / "manifest.json").is_file():
            return cand
    raise ModelError("cannot find the models/ directory (with manifest.json); set INTERVIEW_GUARD_MODELS to its path")


def read_manifest(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """The manifest entries by file name."""
    d = models_dir(directory)
    p = d / "manifest.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return {m["file"]: m for m in data["models"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{p}: cannot read the model manifest ({exc.__class__.__name__})") from None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=16)
def _verified(path_str: str, size: int, mtime_ns: int, expected: str) -> bool:
    return sha256_file(Path(path_str)) == expected


def verified_model_path(name: str, directory: Path | None = None) -> Path:
    """Path of model file ``name`` after checking its sha256 against the manifest.

    Raises
    ------
    ModelError
        Naming the file, when it is not in the manifest, missing, or altered.
    """
    d = models_dir(directory)
    manifest = read_manifest(d)
    if name not in manifest:
        raise ModelError(f"{d / 'manifest.json'}: no entry for model {name!r}")
    p = d / name
    if not p.is_file():
        raise ModelError(f"{p}: model file missing (see {d / 'manifest.json'} for its source)")
    st = p.stat()
    expected = manifest[name]["sha256"]
    if not _verified(str(p), st.st_size, st.st_mtime_ns, expected):
        raise ModelError(f"{p}: model file altered or corrupt: sha256 does not match the manifest ({expected[:12]}...)")
    return p


def manifest_hashes(directory: Path | None = None) -> dict[str, str]:
    """sha256 of every model in the manifest, by file name (for reports)."""
    return {name: m["sha256"] for name, m in read_manifest(directory).items()}
