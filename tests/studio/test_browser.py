"""The studio in a real browser: headless Chromium writes a tune in 6/8, D dorian, from four
notes, shows its score, plays it, downloads its MIDI, and shows a bad primer's sentence."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from melodyrnn.io.inputs.midi import read_score  # noqa: E402 (after the skips above)
from melodyrnn.studio.app import create_app  # noqa: E402
from melodyrnn.studio.serve import make_studio  # noqa: E402

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium",
                             shutil.which("chromium-browser")) if p and Path(p).exists()), None)
# MELODYRNN_SCREENSHOT=PATH keeps a copy of the screenshot for people to look at
SCREENSHOT_COPY = os.environ.get("MELODYRNN_SCREENSHOT")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium executable found (Debian: apt-get install chromium)")]


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory):
    studio = make_studio(tmp_path_factory.mktemp("studio"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(studio), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(600):  # started within a minute, counted in tries
        if server.started:
            break
        time.sleep(0.1)
    assert server.started, "the studio did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def page(address):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--autoplay-policy="
                                                   "no-user-gesture-required"])
        context = browser.new_context(viewport={"width": 1280, "height": 900},
                                      accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(address)
        yield page
        browser.close()


def test_a_tune_is_written_shown_played_and_downloaded(page, tmp_path):
    page.wait_for_selector("#model option", state="attached")
    page.select_option("#meter", "6/8")
    page.select_option("#tonic", "D")
    page.select_option("#mode", "dorian")
    page.fill("#primer", "D4 E4 F4 A4:2")
    page.fill("#seed", "7")
    page.click("#generate")
    page.wait_for_selector("#score svg .note")
    assert page.locator("#score svg .note").count() >= 4
    duration = page.wait_for_function(
        "() => { const a = document.getElementById('player');"
        " return a.readyState >= 1 && a.duration > 0 ? a.duration : false; }").json_value()
    assert duration > 1
    assert "6/8" in page.text_content("#tune-facts") and "D dorian" in \
        page.text_content("#tune-facts")
    with page.expect_download() as download:
        page.click(".downloads a[data-format=mid]")
    saved = tmp_path / "tune.mid"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "melody-7.mid"
    pitches = [n.pitch for n in read_score(saved).tracks[0].notes]
    assert pitches[:4] == [62, 64, 65, 69]  # the primer first
    assert page.locator("#history li").count() == 1

    page.click("#again")  # the next seed: a second tune in the list
    page.wait_for_function("() => document.querySelectorAll('#history li').length == 2")
    assert page.input_value("#seed") == "8"
    page.click("#history li:last-child button")  # reopen the first
    page.wait_for_function(
        "() => document.getElementById('tune-title').textContent.startsWith('Tune 1')")
    assert page.input_value("#seed") == "7"  # the form follows the tune shown
    page.fill("#primer", "D4 E4 Q4")  # a bad primer: its sentence beside the primer field
    page.click("#generate")
    sentence = page.wait_for_selector(".error[data-for=primer]:not(:empty)").text_content()
    assert sentence.startswith("primer item 'Q4' is not a note")
    assert "bad" in (page.get_attribute("#primer", "class") or "")
    page.screenshot(path=str(tmp_path / "studio.png"), full_page=True)
    if SCREENSHOT_COPY:
        shutil.copy(tmp_path / "studio.png", SCREENSHOT_COPY)
    assert (tmp_path / "studio.png").stat().st_size > 20_000
