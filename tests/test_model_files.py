import shutil

import pytest

from interview_guard.errors import ModelError
from interview_guard.io.model_files import manifest_hashes, models_dir, read_manifest, sha256_file, verified_model_path


def test_bundled_models_match_manifest():
    d = models_dir()
    for name, entry in read_manifest().items():
        p = verified_model_path(name)
        assert p == d / name and sha256_file(p) == entry["sha256"]
        assert entry["licence"] and entry["source"]
    assert set(manifest_hashes()) == {
        "face_landmarker.task",
        "hand_landmarker.task",
        "face_recognition_model.bin",
        "face_recognition_model-weights_manifest.json",
    }


@pytest.fixture
def model_copy(tmp_path):
    d = tmp_path / "models"
    shutil.copytree(models_dir(), d)
    return d


def test_altered_model_is_refused_by_name(model_copy):
    p = model_copy / "hand_landmarker.task"
    data = bytearray(p.read_bytes())
    data[1000] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="altered or corrupt") as ei:
        verified_model_path("hand_landmarker.task", model_copy)
    assert str(p) in str(ei.value)


def test_missing_model_is_refused_by_name(model_copy, monkeypatch):
    (model_copy / "face_landmarker.task").unlink()
    monkeypatch.setenv("INTERVIEW_GUARD_MODELS", str(model_copy))
    with pytest.raises(ModelError, match="face_landmarker.task: model file missing"):
        verified_model_path("face_landmarker.task")


def test_unknown_model_name(model_copy):
    with pytest.raises(ModelError, match="no entry"):
        verified_model_path("nope.task", model_copy)
