"""I/O adapters: everything that touches a file, a decoder or a model.

Session layout and ``session.json`` (:mod:`.session`), keystroke log formats (:mod:`.keystroke_log`),
bounded JSON from untrusted files (:mod:`.bounded_json`), PyAV probing and streaming decode
(:mod:`.media`, :mod:`.video_decode`, :mod:`.audio_decode`), the MediaPipe landmark runners
(:mod:`.landmarks`, :mod:`.landmark_types`, :mod:`.face_crops`, :mod:`.mediapipe_tasks`, with native
log lines kept off the terminal by :mod:`.native_stderr`) and model files checked against their
manifest (:mod:`.model_files`). Heavy libraries are imported inside functions. Rules: docs/architecture.md.
"""
