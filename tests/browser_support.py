"""Drive the upload page in a real headless Chromium (Debian's /usr/bin/chromium + chromedriver, via Selenium).

Shared by ``tests/test_browser.py`` and ``tools/screenshot_reports.py``:
start ``interview-guard serve`` on a free loopback port, open Chromium with a
fresh profile, upload a session through the form, wait for the report page,
take a full-page screenshot. Only 127.0.0.1 is ever contacted; Selenium
Manager is never used (the driver path is given), so nothing is downloaded.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("INTERVIEW_GUARD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("INTERVIEW_GUARD_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
    "--hide-scrollbars",
)


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    for p in (CHROMIUM, CHROMEDRIVER):
        if not Path(p).is_file():
            return f"{p} not found (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, *, timeout: float = 10.0, headers: dict | None = None) -> bytes:
    """GET from the local server (never through a proxy)."""
    assert url.startswith("http://127.0.0.1:"), url
    req = urllib.request.Request(url, headers=headers or {})
    with _NO_PROXY.open(req, timeout=timeout) as r:
        return r.read()


def get_json(url: str, **kw):
    return json.loads(get(url, **kw))


def _serve_command() -> list[str]:
    script = Path(sys.executable).with_name("interview-guard")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "interview_guard.cli"]


class ServeProcess:
    """``interview-guard serve`` in a subprocess on 127.0.0.1:<free port>; a context manager."""

    def __init__(
        self,
        data_dir,
        *,
        token: str | None = None,
        jobs: int = 1,
        start_timeout_s: float = 60.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.extra_args = tuple(extra_args)
        self.token = token
        self.jobs = jobs
        self.start_timeout_s = start_timeout_s
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"serve-{self.port}.log"

    def __enter__(self) -> ServeProcess:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.pop("INTERVIEW_GUARD_TOKEN", None)
        if self.token:
            env["INTERVIEW_GUARD_TOKEN"] = self.token
        cmd = _serve_command() + [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--jobs",
            str(self.jobs),
            *self.extra_args,
        ]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"interview-guard serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if get_json(self.base + "/healthz", timeout=2.0) == {"ok": True}:
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"interview-guard serve did not answer within {self.start_timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, grace_s: float = 20.0) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGINT)  # uvicorn shuts down; running scans are stopped and marked interrupted
            try:
                p.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()

    def __exit__(self, *exc) -> None:
        self.stop()


class Browser:
    """Headless Chromium under chromedriver with a fresh profile; a context manager giving the WebDriver."""

    def __init__(self, *, width: int = 1280, height: int = 1000, log_dir=None) -> None:
        self.width, self.height = width, height
        self.log_dir = Path(log_dir) if log_dir else None
        self.profile = None
        self.driver = None

    def __enter__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch anything (it is not used anyway)
        self.profile = tempfile.mkdtemp(prefix="ig-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.add_argument(f"--window-size={self.width},{self.height}")
        log = str(self.log_dir / "chromedriver.log") if self.log_dir else subprocess.DEVNULL
        service = Service(executable_path=CHROMEDRIVER, log_output=log)
        try:
            self.driver = webdriver.Chrome(service=service, options=options)
        except BaseException:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(60)
        self.driver.set_script_timeout(30)
        return self.driver

    def __exit__(self, *exc) -> None:
        try:
            if self.driver is not None:
                self.driver.quit()
        finally:
            if self.profile:
                shutil.rmtree(self.profile, ignore_errors=True)


def full_page_screenshot(driver, path) -> Path:
    """A PNG of the whole page (not just the window), via the DevTools protocol."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    width = int(max(size["width"], 320))
    height = int(min(max(size["height"], 200), 16000))
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "fromSurface": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def upload_and_wait(
    driver, base: str, *, video=None, keystrokes=None, session=None, timeout_s: float = 300.0, on_progress_page=None
) -> str:
    """Fill the upload form, submit it, wait for the report page; returns the job page URL."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/")
    WebDriverWait(driver, 30).until(EC.presence_of_element_located((By.ID, "upload-form")))
    for field, path in (("video", video), ("keystrokes", keystrokes), ("session", session)):
        if path is not None:
            driver.find_element(By.ID, field).send_keys(str(Path(path).resolve()))
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 120).until(lambda d: "/jobs/" in d.current_url)
    job_url = driver.current_url.split("?")[0]
    if on_progress_page is not None:
        on_progress_page(driver)
    WebDriverWait(driver, timeout_s, poll_frequency=0.5).until(
        lambda d: d.find_elements(By.ID, "risk-score") or d.find_elements(By.ID, "job-error")
    )
    return job_url
