"""The report: the typed model with its JSON round trip (:mod:`.model`), text (:mod:`.text`) and
self-contained HTML pages rendered from template files (:mod:`.html`, :mod:`.wording`, :mod:`.timeline`,
``templates/``, ``static/``). Never decodes video: key frames come in as images (:mod:`.keyframes`).
Rules: docs/architecture.md.
"""
