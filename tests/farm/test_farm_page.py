"""The farm page in real headless Chromium (Selenium, the system chromedriver, renderlib's
browser flags and request sandbox) against a real local farm: sign in by the link farm up
prints, submit runs through the page's form, watch a job go queued -> running (a growing
progress bar) -> succeeded (a poster, a video that plays), another fail with its reason, a
third be canceled; every request the page makes goes to its own origin.

Screenshots of each state are saved under the test's tmp dir (printed at the end)."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from renderlib.browser import CONTAINER_FLAGS
from renderlib.farm.local import FarmConfig, LocalFarm
from renderlib.farm.storage import LocalStorage
from renderlib.jobs.api_keys import ApiKeys
from renderlib.jobs.server import start_server
from renderlib.page_server import RefusingProxy
from renderlib.tools import tool_path
from tests.farm.test_farm_local import tiny_run

HANG_GUARD = 600  # seconds: only a hang is this slow
# A person's browser: Chromium as it ships (renderlib's own is a headless shell under
# begin-frame control), with the flags it needs on a closed network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ("--headless=new", *CONTAINER_FLAGS)


def wait_for(check: Callable[[], object], what: str, timeout: float = HANG_GUARD):
    """``check()``'s first truthy answer, polled; a hang guard, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.2)


def store_run(storage: LocalStorage, folder: Path, prefix: str) -> None:
    """Put a generation run folder into the farm's storage under ``prefix``."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        storage.upload(path, prefix + path.relative_to(folder).as_posix())


@contextmanager
def chromium(page_url: str):
    """Headless Chromium that may reach only the page's origin (others go to a refusing
    proxy), with a window the size of the README's screenshot."""
    with RefusingProxy() as proxy, tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        origin = page_url.removeprefix("http://").rstrip("/")
        options.add_argument(f"--proxy-server=http://{proxy.origin}")
        options.add_argument(f"--proxy-bypass-list=<-loopback>;{origin}")
        options.add_argument("--window-size=1000,1200")
        driver = webdriver.Chrome(options=options, service=Service(tool_path("chromedriver")))
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def browser(farm):
    with chromium(farm.page_url) as driver:
        yield driver


@pytest.fixture
def farm(tmp_path):
    config = FarmConfig(
        folder=tmp_path / "farm",
        max_concurrent=1,  # one job at a time: the others wait, queued, in view
        port=0,
        render_workers=1,
        heartbeat_interval=0.5,
        sweep_interval=2.0,
    )
    with LocalFarm(config) as running:
        yield running


class FarmPage:
    def __init__(self, driver, shots: Path) -> None:
        self.driver = driver
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(self.shots / f"{name}.png"))

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.find(css).text

    def row(self, job_id: str) -> dict | None:
        """The job's row as the page shows it: status, progress bar value, progress text."""
        return self.driver.execute_script(
            """const row = document.querySelector(`#jobs-body tr[data-job-id="${arguments[0]}"]`);
            if (!row) return null;
            const bar = row.querySelector("progress");
            const text = row.querySelector(".progress-text");
            return {status: row.dataset.status, value: bar ? bar.value : null,
                    text: text ? text.textContent : ""};""",
            job_id,
        )

    def status_of(self, job_id: str) -> str | None:
        row = self.row(job_id)
        return row and row["status"]

    def submit(self, folder: str, video_id: str = "", audio: str = "") -> str:
        """Fill in and send the submit form with the keyboard; the new job's id."""
        self.find("#submit-status")  # the form is there
        self.driver.execute_script('document.getElementById("submit-status").textContent = ""')
        field = self.find("#run-folder")
        field.send_keys(folder)
        if video_id:
            self.find("#video-id").send_keys(video_id)
        if audio:
            self.find("#audio-files").send_keys(audio)
        field.send_keys(Keys.ENTER)
        message = wait_for(
            lambda: re.search(r"Submitted: job (\S+) is queued", self.text("#submit-status")),
            f"the page to submit {folder}",
        )
        return message.group(1)

    def open(self, job_id: str) -> None:
        button = self.find(f'#jobs-body button[data-job-id="{job_id}"]')
        button.send_keys(Keys.ENTER)  # keyboard, as a person tabbing through would
        wait_for(lambda: job_id in self.text("#detail-fields"), f"job {job_id}'s detail")

    def requested_urls(self) -> list[str]:
        return self.driver.execute_script(
            """return [...performance.getEntriesByType("navigation"),
                       ...performance.getEntriesByType("resource")].map((e) => e.name);"""
        )


def test_the_page_shows_jobs_progress_posters_videos_failures_and_cancels(farm, browser, tmp_path):
    storage = LocalStorage(farm.storage)
    # Long enough for several progress reports while it renders; the second one short.
    store_run(storage, tiny_run(tmp_path / "long", 40.0), "generations/demo/long/run-1/")
    store_run(storage, tiny_run(tmp_path / "short"), "generations/demo/short/run-1/")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "script.json").write_text("{ this is not JSON")
    (broken / "timeline.json").write_text("{}")
    store_run(storage, broken, "generations/demo/broken/run-1/")

    page = FarmPage(browser, tmp_path / "screenshots")
    browser.get(farm.page_url)
    wait_for(lambda: page.find("#sign-in").is_displayed(), "the sign-in form")
    page.shot("1-sign-in")
    key = farm.keys.org_key("demo")
    browser.get(f"{farm.page_url}#key={key}")
    wait_for(lambda: page.text("#who") == "Signed in as org demo", "signing in")
    assert key not in browser.current_url  # the key left the address bar
    wait_for(lambda: "No jobs yet" in page.text("#jobs-body"), "the empty state")
    page.shot("2-no-jobs")

    first = page.submit("generations/demo/long/run-1/", audio="audio/voice.wav")
    second = page.submit("generations/demo/short/run-1", audio="audio/voice.wav")
    failing = page.submit("generations/demo/broken/run-1/")
    doomed = page.submit(
        "generations/demo/short/run-1/", video_id="doomed", audio="audio/voice.wav"
    )

    # The first runs while the others wait; its bar grows report by report.
    seen: list[float] = []

    def running_and_growing():
        row = page.row(first)
        if row is None:
            return False
        if row["status"] == "running" and (not seen or row["value"] > seen[-1]):
            seen.append(row["value"])
        assert row["status"] in ("queued", "claimed", "running"), (row, seen)
        return len(seen) >= 2

    wait_for(running_and_growing, "the first job's progress bar to grow")
    page.shot("3-running-and-queued")
    assert page.status_of(second) == "queued"
    assert re.search(
        r"\d+/400 frames|mixing audio|encoding|verifying|uploading", page.row(first)["text"]
    )

    # Cancel the last job while it waits.
    page.open(doomed)
    cancel = page.find("#cancel-job")
    assert cancel.is_displayed() and not page.find("#retry-job").is_displayed()
    cancel.send_keys(Keys.ENTER)
    wait_for(lambda: page.status_of(doomed) == "canceled", "the canceled job")
    wait_for(lambda: not page.find("#cancel-job").is_displayed(), "the cancel button to go")
    assert farm.client.get_job(doomed).status == "canceled"
    page.shot("4-canceled")

    # The first finishes: its poster loads and its video plays.
    wait_for(lambda: page.status_of(first) == "succeeded", "the first job to succeed")
    page.open(first)
    wait_for(
        lambda: browser.execute_script(
            'const img = document.getElementById("poster");'
            "return img.complete && img.naturalWidth === 160;"
        ),
        "the poster",
    )
    browser.execute_script('document.getElementById("player").play()')
    start = wait_for(
        lambda: browser.execute_script('return document.getElementById("player").currentTime'),
        "the video to start playing",
    )
    wait_for(
        lambda: (
            browser.execute_script('return document.getElementById("player").currentTime') > start
        ),
        "the video's time to advance",
    )
    assert browser.execute_script('return document.getElementById("player").duration') >= 39
    cost = f"~${farm.client.list_render_runs(first)[0].estimated_cost_usd:.4f}"
    wait_for(lambda: cost in page.text(f'#jobs-body tr[data-job-id="{first}"]'), "the run's cost")
    page.shot("5-succeeded-playing")

    # The broken run fails, and says why.
    wait_for(lambda: page.status_of(failing) == "failed", "the broken run to fail")
    page.open(failing)
    reason = farm.client.get_job(failing).failure_reason
    assert reason and "script.json" in reason
    wait_for(lambda: reason in page.text("#detail-reason"), "the failure reason")
    assert not page.find("#media").is_displayed()
    page.shot("6-failed")
    # A retry runs it again (a new attempt), and it fails again for the same reason.
    page.find("#retry-job").send_keys(Keys.ENTER)
    wait_for(lambda: page.status_of(failing) != "failed", "the retried job to be queued")
    wait_for(lambda: page.status_of(failing) == "failed", "the retried job to fail again")
    assert farm.client.get_job(failing).failure_reason == reason

    wait_for(lambda: page.status_of(second) == "succeeded", "the second job to succeed")
    page.open(first)
    page.shot("7-all-jobs")

    page_origin = farm.page_url.rstrip("/")
    urls = page.requested_urls()
    assert f"{page_origin}/graphql" in urls and f"{page_origin}/farm.js" in urls
    assert any(url.startswith(f"{page_origin}/files/renders/demo/long/") for url in urls)
    assert [url for url in urls if not url.startswith(page_origin + "/")] == []
    print(f"screenshots in {page.shots}")


def test_the_page_says_when_a_key_is_refused_nothing_matches_or_the_api_is_gone(tmp_path):
    keys = ApiKeys.create(tmp_path / "api-keys.json", ["demo"])
    server = start_server(tmp_path / "jobs.db", keys)
    page_url = server.url.removesuffix("/graphql") + "/"
    running = True
    try:
        with chromium(page_url) as driver:
            page = FarmPage(driver, tmp_path / "screenshots")
            driver.get(page_url)
            field = wait_for(lambda: page.find("#api-key"), "the sign-in form")
            field.send_keys("not-a-key", Keys.ENTER)
            wait_for(lambda: "Not signed in" in page.text("#sign-in-error"), "the refusal")
            assert "x-api-key" in page.text("#sign-in-error")
            page.shot("refused-key")

            # A jobs API named at sign-in (as a cloud stack's AppSync URL would be) is the
            # one the page talks to: here one that cannot be reached, then this farm's own.
            page.find("#api-key").send_keys(keys.farm_key())
            page.find("#api-url").send_keys("https://127.0.0.2:9/graphql", Keys.ENTER)
            wait_for(lambda: "cannot be reached" in page.text("#sign-in-error"), "no API there")
            page.find("#api-key").send_keys(keys.farm_key())
            page.find("#api-url").clear()
            page.find("#api-url").send_keys(server.url, Keys.ENTER)
            wait_for(lambda: "the farm" in page.text("#who"), "the farm signing in")
            assert not page.find("#submit").is_displayed()  # the farm creates no jobs
            page.find("#sign-out").send_keys(Keys.ENTER)
            page.find("#api-key").send_keys(keys.org_key("demo"), Keys.ENTER)
            wait_for(lambda: "No jobs yet" in page.text("#jobs-body"), "the empty state")
            page.find("#status-filter").send_keys("failed")
            wait_for(lambda: page.text("#jobs-body") == "No failed jobs.", "the filtered state")

            server.stop()
            running = False
            wait_for(lambda: page.find("#jobs-error").is_displayed(), "the error state")
            assert "cannot be reached" in page.text("#jobs-error-text")
            assert page.find("#jobs-retry-load").is_displayed()
            page.shot("api-gone")
    finally:
        if running:
            server.stop()
