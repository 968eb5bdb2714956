"""Files -> tracks: the only layer that turns a session's files into :class:`~interview_guard.tracks.Tracks`.

:func:`.session.extract_tracks` reads a whole session; the one adaptive video scanner is
:func:`.video_scan.scan_video` (trigger scheduling in :mod:`.schedule`, pixel measures in :mod:`.pixels`,
the threaded loop in :mod:`.scanner`, key frames in :mod:`.keyframes`, results and their npz files in
:mod:`.scan_results`), cached by :mod:`.cache`. Rules: docs/architecture.md.
"""
