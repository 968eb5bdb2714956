"""The upload page: ``interview-guard serve`` (FastAPI + uvicorn, imported only by that command).

* :mod:`.app` — the web application (:func:`~.app.create_app`) and :func:`~.app.run_server`;
* :mod:`.jobs` — the SQLite job store and the background runner;
* :mod:`.worker` — one scan in a process of its own;
* :mod:`.uploads` — streaming multipart uploads to disk, size limit, name and content checks.

See ``docs/web.md``.
"""
