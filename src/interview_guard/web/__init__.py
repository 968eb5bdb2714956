"""The upload page: ``interview-guard serve`` (FastAPI + uvicorn, imported only by that command).

* :mod:`.app` — the web application (:func:`~.app.create_app`) and :func:`~.app.run_server`;
* :mod:`.security` — Host/Origin checks, the access token, security headers and CSP (an ASGI middleware);
* :mod:`.routes` — the HTML pages; :mod:`.api` — the upload and the JSON API;
* :mod:`.pages` — rendering the Jinja2 templates in ``templates/``; CSS and script are in ``static/``;
* :mod:`.jobs` — the SQLite job store and the background runner;
* :mod:`.worker` — one scan in a process of its own;
* :mod:`.uploads` — streaming multipart uploads to disk, size limit, name and content checks.

See ``docs/web.md``.
"""
