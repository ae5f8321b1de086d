"""The labeling page in a real browser (Debian's Chromium through chromium-driver and Selenium): label with the
keyboard, undo, kill the server with SIGKILL, start the same command again, continue; LABELS holds exactly the
decisions made."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, SAMPLE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="needs Chromium and its driver (Debian: apt-get install chromium chromium-driver)"
)


class LabelServer:
    """`python -m sentiment label ...` in a subprocess; its URL read from its log line."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sentiment", "label", *args, "--port", "0"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._wait_for_url()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put(line)

    def _wait_for_url(self, timeout: float = 240) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.log.append(line)
            match = re.search(r"labeling page: (http://127\.0\.0\.1:\d+/)", line)
            if match:
                return match.group(1)
        self.kill()
        raise AssertionError("the labeling page did not start:\n" + "".join(self.log))

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,800"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


def _press(driver, key: str, decided: int) -> None:
    """Press ``key`` on the page and wait until the page shows ``decided`` decisions."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    ActionChains(driver).send_keys(key).perform()
    WebDriverWait(driver, 20).until(lambda d: d.find_element("id", "progress-text").text.startswith(f"{decided} / "))


def _shown_row(driver) -> int:
    return int(driver.find_element("id", "text").get_attribute("data-row"))


def test_label_with_the_keyboard_kill_restart_continue(tmp_path, browser):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    source = tmp_path / "comments.csv"
    pd.read_csv(SAMPLE).iloc[200:260].to_csv(source, index=False)
    labels = tmp_path / "labels.csv"
    args = (str(source), "-o", str(labels), "--n", "10", "--labels", "긍정,부정", "--workers", "1")

    server = LabelServer(*args)
    try:
        browser.get(server.url)
        WebDriverWait(browser, 30).until(lambda d: d.find_element("id", "progress-text").text.startswith("0 / 10"))
        made: dict[int, str] = {}  # row -> label ("" = skipped): what LABELS must hold in the end
        for key, word, decided in (
            ("1", "긍정", 1),
            (Keys.ARROW_LEFT, "부정", 2),
            ("s", "", 3),
            (Keys.ARROW_RIGHT, "긍정", 4),
        ):
            made[_shown_row(browser)] = word
            _press(browser, key, decided)
        undone = list(made)[-1]
        _press(browser, "z", 3)  # undo the last one: that comment is shown again
        assert _shown_row(browser) == undone
        del made[undone]
        made[undone] = "부정"
        _press(browser, "0", 4)
        text = browser.find_element("id", "text").text
        assert text and not text.startswith("불러오는")
        assert browser.execute_script("return document.fonts.check('20px ReportNanumGothic', '가')")
    finally:
        server.kill()  # SIGKILL: no chance to flush anything more

    on_disk = pd.read_csv(labels, keep_default_na=False, dtype=str)
    assert len(on_disk) == 10 and (on_disk["decided_at"] != "").sum() == 4

    server = LabelServer(*args)  # the same command again: continues
    try:
        assert any("already holds 10 comments" in line for line in server.log)
        browser.get(server.url)
        WebDriverWait(browser, 30).until(lambda d: d.find_element("id", "progress-text").text.startswith("4 / 10"))
        for key, word, decided in (("1", "긍정", 5), ("0", "부정", 6), ("1", "긍정", 7)):
            made[_shown_row(browser)] = word
            _press(browser, key, decided)
        made.pop(list(made)[-1])
        _press(browser, Keys.BACKSPACE, 6)
        accuracy = browser.find_element("id", "accuracy").text
        assert "Model accuracy" in accuracy
    finally:
        server.kill()

    on_disk = pd.read_csv(labels, keep_default_na=False, dtype=str)
    assert len(on_disk) == 10 and on_disk["row"].is_unique
    decided = on_disk[on_disk["decided_at"] != ""]
    assert dict(zip(decided["row"].astype(int), decided["label"], strict=True)) == made
    assert decided["row"].astype(int).tolist() == list(made)  # decided in file order, none twice
    assert (on_disk.loc[on_disk["decided_at"] == "", "label"] == "").all()
    assert not list(Path(tmp_path).glob(".labels.csv.*.tmp"))
