"""``python -m interview_guard.cli``: the same as the ``interview-guard`` command."""

from interview_guard.cli import main

main()
