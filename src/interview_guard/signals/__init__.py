"""Pure numpy/scipy signal maths: arrays in, arrays or numbers out; no file, no decoder, no model.

Keystroke timing (:mod:`.keystroke_timing`), speech envelope and lip-sync offsets (:mod:`.speech`),
key clicks (:mod:`.clicks`, :mod:`.click_offset`, :mod:`.band_power`), face geometry and occlusion
measures (:mod:`.face_geometry`, :mod:`.occlusion`), robust statistics (:mod:`.stats`) and ROC metrics
(:mod:`.metrics`). Rules: docs/architecture.md.
"""
