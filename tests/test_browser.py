"""The report in a real headless Chromium: charts and tables render, sorting works, nothing errors.

Needs Debian's ``chromium`` and ``chromium-driver``. Outside CI the tests skip with the reason when
they are missing; in CI (``CI=true``) a missing browser is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_runs import make_run

from harness.report import write_report

pytestmark = pytest.mark.browser

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1300,1600",
)


def _binaries() -> tuple[str, str] | None:
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    found = _binaries()
    if found is None:
        why = "chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must run the browser tests: {why}")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _open(driver: Any, page: Path) -> list[dict[str, Any]]:
    """Load a report and return the console messages it produced."""
    driver.get_log("browser")  # drop messages from an earlier page
    driver.get(page.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    return list(driver.get_log("browser"))


def _screenshot(driver: Any, path: Path) -> Path:
    height = min(int(driver.execute_script("return document.body.scrollHeight")), 12000)
    driver.set_window_size(1300, height)
    assert driver.save_screenshot(str(path))
    driver.set_window_size(1300, 1600)
    return path


@pytest.mark.slow
def test_report_of_a_real_run_renders_without_errors(nano_run: Path, browser: Any, tmp_path: Path) -> None:
    page = write_report(nano_run).html
    console = _open(browser, page)
    assert not [m for m in console if m.get("level") in ("SEVERE", "WARNING")], console
    charts = browser.execute_script("return document.querySelectorAll('svg.chart').length")
    figures = browser.execute_script(
        "return Array.from(document.querySelectorAll('#tradeoffs figure')).map("
        "f => [f.querySelector('svg.chart') !== null, (f.querySelector('.missing-chart') || {}).textContent || ''])"
    )
    assert len(figures) == 6
    for drawn, note in figures:
        assert drawn or note.startswith("Nothing to draw"), note
    statuses = browser.execute_script(
        "return Array.from(document.querySelectorAll('#results-table tbody tr')).map(r => r.cells[4].textContent)"
    )
    if any(s.strip().startswith("ok") for s in statuses):
        assert charts >= 1  # at least tier scaling: a cell that ran always has latency and memory
    rows = browser.execute_script("return document.querySelectorAll('#results-table tbody tr').length")
    assert rows >= 1
    for table in ("latency-table",):
        assert browser.execute_script(f"return document.getElementById('{table}') !== null"), table
    text = browser.execute_script("return document.body.innerText")
    assert "Which tier to run" in text and "Profile: host" in text
    assert "NaN" not in text and "undefined" not in text
    shot = _screenshot(browser, tmp_path / "report.png")
    assert shot.stat().st_size > 10_000


def test_sorting_and_hostile_text_in_the_browser(browser: Any, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    page = write_report(make_run(tmp_path / "hostile", hostile=True)).html
    console = _open(browser, page)
    assert not [m for m in console if m.get("level") == "SEVERE"], console
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 - an injected script would have raised an alert
    assert browser.execute_script("return document.images.length") == 0
    samples = browser.execute_script("return document.getElementById('samples-table').textContent")
    assert '<script>alert("pwned")</script>' in samples  # shown as text
    assert "<b>gsm8k</b>" in browser.execute_script("return document.getElementById('scores-table').textContent")

    header = browser.find_element(By.XPATH, "//table[@id='results-table']//th[normalize-space()='Peak memory']")
    column = browser.execute_script("return arguments[0].cellIndex", header)

    def values() -> list[str]:
        script = "return Array.from(document.querySelectorAll('#results-table tbody tr')).map(r => r.cells[arguments[0]].getAttribute('data-sort'))"
        return list(browser.execute_script(script, column))

    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    ascending = values()
    known = [float(v) for v in ascending if v]
    assert known == sorted(known) and len(known) == 3
    assert ascending[len(known) :] == [""] * (len(ascending) - len(known))  # missing values sort last
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert [float(v) for v in values() if v] == sorted(known, reverse=True)
    _screenshot(browser, tmp_path / "hostile.png")
