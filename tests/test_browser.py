"""End to end in a real headless Chromium: upload a session through the page, wait, read the score off the report.

Needs Debian's chromium and chromium-driver (``apt-get install -y chromium chromium-driver``).
Without them the test is skipped, except under CI (env ``CI`` set), where it fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser_support import Browser, ServeProcess, full_page_screenshot, get_json, upload_and_wait
from conftest import REPO, SAMPLES, make_video

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts"
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v")


@pytest.fixture(scope="module")
def server(chromium, tmp_path_factory):
    with ServeProcess(tmp_path_factory.mktemp("serve") / "data") as s:
        yield s


@pytest.fixture(scope="module")
def driver(chromium, tmp_path_factory):
    with Browser(log_dir=tmp_path_factory.mktemp("chromium")) as d:
        yield d


def sample_video_session() -> Path | None:
    """A sample session with a video (a face-swap one first), when the generated ones are there."""
    found = sorted(
        d
        for d in SAMPLES.iterdir()
        if d.is_dir() and any(f.name.startswith("video.") and f.suffix.lower() in VIDEO_EXTENSIONS for f in d.iterdir())
    )
    swaps = [d for d in found if "faceswap" in d.name or "face_swap" in d.name]
    return (swaps or found or [None])[0]


def session_files(tmp_path) -> dict:
    d = sample_video_session()
    if d is not None:
        video = next(
            f for f in sorted(d.iterdir()) if f.name.startswith("video.") and f.suffix.lower() in VIDEO_EXTENSIONS
        )
        files = {"video": video}
        for name in ("keystrokes.jsonl", "keystrokes.csv"):
            if (d / name).is_file():
                files["keystrokes"] = d / name
                break
        if (d / "session.json").is_file():
            files["session"] = d / "session.json"
        return files
    # No generated video sample yet: a small clip with a real sample keystroke log.
    typing = SAMPLES / "typing_genuine_a"
    return {
        "video": make_video(tmp_path / "clip.mp4", seconds=3.0, fps=10, size=(160, 120), audio=True),
        "keystrokes": typing / "keystrokes.jsonl",
    }


def test_upload_in_chromium_shows_the_report_score(server, driver, tmp_path):
    files = session_files(tmp_path)
    seen_progress = {}

    def progress_page(driver):
        seen_progress["page"] = bool(
            driver.find_elements("id", "scan-progress") or driver.find_elements("id", "risk-score")
        )

    driver.get(server.base + "/")
    full_page_screenshot(driver, ARTIFACTS / "browser-upload-page.png")
    job_url = upload_and_wait(driver, server.base, timeout_s=300, on_progress_page=progress_page, **files)
    assert re.fullmatch(re.escape(server.base) + r"/jobs/[0-9a-f]{32}", job_url), job_url
    assert seen_progress.get("page"), "after the upload the browser lands on the job page"
    shot = full_page_screenshot(driver, ARTIFACTS / "browser-report.png")
    errors = driver.find_elements("id", "job-error")
    assert not errors, f"the scan failed: {errors[0].text if errors else ''}\n{server.log()}"

    score_el = driver.find_element("id", "risk-score")
    band_el = driver.find_element("id", "risk-band")
    job_id = job_url.rsplit("/", 1)[1]
    report = get_json(f"{server.base}/jobs/{job_id}/report.json")
    status = get_json(f"{server.base}/api/jobs/{job_id}")

    score = report["risk"]["score"]
    assert score is not None, "a session with a video and a keystroke log is assessed"
    assert float(score_el.get_attribute("data-score")) == score
    assert score_el.text.strip() == f"{score:.2f}"
    # textContent: the band may be styled in capitals on screen
    assert band_el.get_attribute("textContent").strip() == report["risk"]["band"] == status["band"]
    assert band_el.text.strip().lower() == report["risk"]["band"]
    assert status["status"] == "done" and status["risk_score"] == score
    assert report["session"]["modalities"]["video"] and report["session"]["modalities"]["keystrokes"]

    # The list of past scans shows it too.
    driver.get(server.base + "/jobs")
    row = driver.find_element("css selector", f'tr[data-job-id="{job_id}"]')
    assert f"{score:.2f}" in row.text and "done" in row.text
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_drop_zone_routes_files_and_errors_show_on_the_page(server, driver, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(server.base + "/")
    result = driver.execute_script("""
        var dt = new DataTransfer();
        dt.items.add(new File(['{"t": 1, "type": "down", "key": "a", "code": "KeyA"}\\n'], 'keystrokes.jsonl'));
        dt.items.add(new File(['{}'], 'session.json'));
        dt.items.add(new File(['hello'], 'notes.txt'));  // .txt is a keystroke log too: a second one, left out
        dt.items.add(new File(['hello'], 'notes.docx'));
        var zone = document.getElementById('drop-zone');
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
        function chosen(id) {
            var input = document.getElementById(id);
            return input.files.length ? input.files[0].name : '';
        }
        return [document.getElementById('video').files.length, chosen('keystrokes'), chosen('session'),
                document.getElementById('upload-status').textContent];
    """)
    assert result[:3] == [0, "keystrokes.jsonl", "session.json"]
    assert "notes.docx" in result[3] and "notes.txt (a second keystrokes file; keystrokes.jsonl is used)" in result[3]

    driver.get(server.base + "/")
    driver.find_element("id", "submit").click()
    status = driver.find_element("id", "upload-status")
    assert "Choose a recording" in status.text and driver.current_url.rstrip("/") == server.base

    fake = tmp_path / "not-a-video.mp4"
    fake.write_text("just text, not a video\n" * 20)
    driver.find_element("id", "video").send_keys(str(fake))
    driver.find_element("id", "submit").click()
    WebDriverWait(driver, 30).until(lambda d: "not a video file" in d.find_element("id", "upload-status").text)
    assert driver.current_url.rstrip("/") == server.base
    assert "error" in driver.find_element("id", "upload-status").get_attribute("class")
