"""Analyzer results -> one risk score: the runtime model and fitting it on labelled scores.

:class:`.model.FusionModel` (runtime, ``models/fusion.json``); :mod:`.fit` (the cross-validated
non-negative logistic fit, pure numpy), :mod:`.fit_metrics`, :mod:`.score_table`,
:mod:`.calibration_result` and :mod:`.calibration_report` (text and reliability plot). Running the
analyzers over labelled sessions is :mod:`interview_guard.pipeline.calibrate`. Rules: docs/architecture.md.
"""
