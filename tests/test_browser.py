"""The leaderboard page in a real browser: headless Chromium (the OS package) opens the
``index.html`` of a small leaderboard written here, every section, table and plot must render
(no broken image, no empty table, no missing section), and a full-page screenshot is saved
under the test's tmp dir (``leaderboard.png``).

Skipped, with the reason, without selenium (``pip install -e ".[browser]"``) or without
Chromium and its driver (``apt-get install chromium chromium-driver``); ``.ci/run`` installs
both and sets ``ASSORT_REQUIRE_EXTRAS=1``, which turns the skip into a failure.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from conftest import REQUIRE_EXTRAS, installed

from envs.fluid_lp import fluid_lp
from experiments.contenders import heuristic_contender
from experiments.evaluation import Contender, Member, policy_decider
from experiments.leaderboard import run_leaderboard
from experiments.report import write_report
from experiments.store import ResultStore
from experiments.suite import build_suite

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


def _missing() -> str | None:
    if not installed("selenium"):
        return 'needs selenium, which is not installed: pip install -e ".[browser]"'
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).is_file():
            return f"needs {path}: apt-get install chromium chromium-driver"
    return None


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_missing() is not None and not REQUIRE_EXTRAS, reason=str(_missing())),
]


class HalfStock:
    """A stand-in learned agent: half the fluid policy's stock, rounded down."""

    def stock_for(self, instance):
        return (fluid_lp(instance).sales // 2).astype(int)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("report")
    suite = build_suite(["small", "tiny"], [1_000_000, 1_000_001])
    learned = Contender(
        "half-fluid",
        "learned",
        tuple(
            Member(f"half-fluid-seed{s}", f"half{s}", policy_decider(HalfStock), training_seed=s)
            for s in (0, 1)
        ),
    )
    contenders = [
        heuristic_contender("fluid"),
        heuristic_contender({"name": "sample-path-gradient", "knobs": {"iterations": 20}}),
        learned,
    ]
    board = run_leaderboard(
        suite,
        contenders,
        seasons=50,
        seed=1,
        store=ResultStore(folder / "store"),
        bootstrap_reps=50,
    )
    write_report(board, folder, title="Leaderboard: browser test", description="A small board.")
    return board, folder / "index.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER)
    )
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


PAGE_FACTS = """
return {
  ready: document.readyState,
  title: document.title,
  sections: [...document.querySelectorAll('h2')].map(h => h.textContent),
  tables: [...document.querySelectorAll('table')].map(t => ({
    visible: t.offsetHeight > 0 && t.offsetWidth > 0,
    header: [...t.querySelectorAll('thead th')].map(c => c.textContent),
    rows: [...t.querySelectorAll('tbody tr')].map(r =>
      [...r.querySelectorAll('td')].map(c => c.textContent.trim())),
  })),
  images: [...document.images].map(i => ({
    alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
    shown: i.offsetWidth > 0 && i.offsetHeight > 0,
  })),
};
"""


def page_problems(driver, expected_sections: list[str], rows_per_table: list[int]) -> list[str]:
    """What a reader would see broken on the loaded page."""
    facts = driver.execute_script(PAGE_FACTS)
    problems = []
    if facts["ready"] != "complete":
        problems.append(f"page not loaded: {facts['ready']}")
    for section in expected_sections:
        if section not in facts["sections"]:
            problems.append(f"missing section {section!r}")
    if len(facts["tables"]) != len(rows_per_table):
        problems.append(f"{len(facts['tables'])} tables, expected {len(rows_per_table)}")
    for index, (table, rows) in enumerate(zip(facts["tables"], rows_per_table)):
        if not table["visible"]:
            problems.append(f"table {index} is not displayed")
        if len(table["rows"]) != rows:
            problems.append(f"table {index} has {len(table['rows'])} rows, expected {rows}")
        for row in table["rows"]:
            if len(row) != len(table["header"]) or not all(row):
                problems.append(f"table {index} row {row} has missing cells")
    if not facts["images"]:
        problems.append("no image")
    for image in facts["images"]:
        if not (image["complete"] and image["width"] > 0 and image["height"] > 0):
            problems.append(f"broken image {image['alt']!r}")
        elif not image["shown"]:
            problems.append(f"image {image['alt']!r} is not displayed")
    return problems


def expectations(board) -> tuple[list[str], list[int]]:
    sections = ["What stands behind each number", "All families"]
    sections += [f"Family {family}" for family in board.families] + ["Policy settings"]
    rows = [len(board.aggregate)]
    for family, family_rows in board.families.items():  # its bounds table, then its table
        rows += [sum(item.family == family for item in board.suite), len(family_rows)]
    return sections, rows


def test_every_table_and_plot_of_the_page_renders(report, browser, tmp_path: Path) -> None:
    board, page = report
    browser.get(page.as_uri())
    assert browser.title == "Leaderboard: browser test"
    sections, rows = expectations(board)
    assert rows == [3, 2, 3, 2, 3]
    assert page_problems(browser, sections, rows) == []
    images = browser.execute_script("return [...document.images].map(i => i.alt)")
    assert images == [
        "IQM of normalized scores",
        "small: percentage of the tightest bound",
        "tiny: percentage of the tightest bound",
    ]
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    png = base64.b64decode(shot["data"])
    (tmp_path / "leaderboard.png").write_bytes(png)
    assert png.startswith(b"\x89PNG") and len(png) > 50_000
    print(f"screenshot: {tmp_path / 'leaderboard.png'}")


def test_the_check_sees_a_broken_image_and_a_missing_section(
    report, browser, tmp_path: Path
) -> None:
    """The checker is not vacuous: the same page with one plot's data cut short and one
    section removed fails it, naming both."""
    board, page = report
    text = page.read_text()
    broken = text.replace('src="data:image/png;base64,', 'src="data:image/png;base64,AAAA', 1)
    broken = broken.replace("<h2>Family tiny</h2>", "<h3>Family tiny</h3>")
    (tmp_path / "broken.html").write_text(broken)
    browser.get((tmp_path / "broken.html").as_uri())
    sections, rows = expectations(board)
    assert page_problems(browser, sections, rows) == [
        "missing section 'Family tiny'",
        "broken image 'IQM of normalized scores'",
    ]
