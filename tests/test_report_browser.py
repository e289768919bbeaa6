"""The report page in a real browser (headless Chromium through selenium, no network): its tables have rows, its
charts and heatmaps are drawn, a click on a numeric header sorts numerically, the filter hides rows, a spec's
hostile strings show as text and run nothing, the screenshot is not blank, and the console has no error."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from convcalc.cli import app
from tests.conftest import ROOT
from tests.test_report_html import EVIL_ATTR, EVIL_LAYER, EVIL_NAME, evil_spec

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CONVCALC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CONVCALC_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1280,2000")


def _missing() -> str:
    """Why the browser test cannot run here ("" when it can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: python -m pip install '.[browser]'"
    for what, path in (("Chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)):
        if not (Path(path).is_file() and os.access(path, os.X_OK)) and not shutil.which(path):
            return f"{what} is not at {path} (apt-get install chromium chromium-driver, or set CONVCALC_{what.upper()})"
    return ""


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    why = _missing()
    if why:
        if os.environ.get("CONVCALC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CONVCALC_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(f"the browser test needs selenium, Chromium and chromedriver: {why}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="convcalc-chromium-")
    options = webdriver.ChromeOptions()
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(driver: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("browser")
    out = tmp / "report.html"
    with pytest.MonkeyPatch.context() as m:
        m.chdir(ROOT)
        result = CliRunner().invoke(app, ["report", "resnet18", "specs/seed/dilated.yaml", str(evil_spec(tmp)),
                                          "-o", str(out)])
    assert result.exit_code == 0, result.output
    driver.get(out.as_uri())
    return driver


def _no_alert(d: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        d.switch_to.alert  # noqa: B018


def _rows(d: Any, table: str, visible: bool = False) -> list[Any]:
    from selenium.webdriver.common.by import By

    rows = d.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
    return [r for r in rows if r.is_displayed()] if visible else rows


def test_tables_have_rows_and_pictures_are_drawn(page: Any) -> None:
    from selenium.webdriver.common.by import By

    _no_alert(page)
    assert len(_rows(page, "compare-table")) == 7
    assert [len(_rows(page, f"layers-{k}")) for k in range(1, 8)] == [69, 1, 1, 1, 6, 6, 3]
    heatmaps = page.find_elements(By.CSS_SELECTOR, "img.heatmap")
    assert len(heatmaps) == 6 and all(page.execute_script("return arguments[0].naturalWidth", h) > 0
                                      for h in heatmaps)
    profiles = page.find_elements(By.CSS_SELECTOR, "svg.profiles")
    assert len(profiles) == 1 and profiles[0].size["width"] > 0 and profiles[0].size["height"] > 0
    charts = page.find_elements(By.CSS_SELECTOR, "svg.chart")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert charts == []
        return
    assert len(charts) == 14
    assert all(c.size["width"] > 300 and c.size["height"] > 150 for c in charts)


def test_a_numeric_header_sorts_numerically(page: Any) -> None:
    from selenium.webdriver.common.by import By

    header = page.find_element(By.CSS_SELECTOR, "#layers-1 thead th:nth-child(6)")
    assert header.text == "MACs"

    def macs() -> list[int]:
        return [int(r.find_element(By.CSS_SELECTOR, "td:nth-child(6)").get_attribute("data-v"))
                for r in _rows(page, "layers-1")]

    before = macs()
    header.click()
    after = macs()
    assert after == sorted(before, reverse=True) and header.get_attribute("aria-sort") == "descending"
    assert after[0] == 118_013_952  # conv1, the largest; "9408" < "118M" as text, not as numbers
    header.click()
    assert macs() == sorted(before) and header.get_attribute("aria-sort") == "ascending"
    index = page.find_element(By.CSS_SELECTOR, "#layers-1 thead th:nth-child(1)")
    index.click()
    index.click()
    assert macs() == before  # back in the table's order (the index column, ascending)


def test_the_filter_hides_rows(page: Any) -> None:
    from selenium.webdriver.common.by import By

    box = page.find_element(By.CSS_SELECTOR, 'input.filter[data-for="layers-1"]')
    box.send_keys("downsample")
    shown = _rows(page, "layers-1", visible=True)
    assert len(shown) == 6 and all("downsample" in r.text for r in shown)
    assert page.find_element(By.ID, "layers-1-count").text == "6 of 69 rows"
    box.clear()
    box.send_keys("zzz")
    assert _rows(page, "layers-1", visible=True) == []
    page.execute_script("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input'))", box)
    assert len(_rows(page, "layers-1", visible=True)) == 69


def test_hostile_strings_are_text(page: Any) -> None:
    from selenium.webdriver.common.by import By

    _no_alert(page)
    section = page.find_element(By.ID, "model-7")
    assert section.find_element(By.TAG_NAME, "h2").text == EVIL_NAME
    assert section.find_element(By.CSS_SELECTOR, "p.description").text == EVIL_ATTR
    names = [r.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text for r in _rows(page, "layers-7")]
    assert names == [EVIL_LAYER, EVIL_ATTR, "a$b$c"]
    assert page.execute_script("return document.scripts.length") == 1
    assert page.find_elements(By.CSS_SELECTOR, "img:not(.heatmap)") == []
    _no_alert(page)


def test_screenshot_is_not_blank_and_the_console_is_clean(page: Any) -> None:
    page.execute_script("window.scrollTo(0, 0)")
    png = page.get_screenshot_as_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    try:
        from PIL import Image
    except ImportError:
        pass
    else:
        image = Image.open(io.BytesIO(png)).convert("RGB")
        assert image.size[0] >= 1000
        colours = image.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50  # text, tables, links: far from one blank colour
    severe = [e for e in page.get_log("browser") if e.get("level") == "SEVERE"]
    assert severe == []
