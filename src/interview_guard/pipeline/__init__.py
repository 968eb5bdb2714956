"""Putting the layers together: one scan (:mod:`.scan`), a batch of scans (:mod:`.batch`), calibration
runs over labelled sessions (:mod:`.calibrate`) and key frames for saved reports (:mod:`.keyframes`).
Used by the CLI and the web worker. Rules: docs/architecture.md.
"""
