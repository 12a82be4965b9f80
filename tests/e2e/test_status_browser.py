"""The status pages of a real ``dli-watcher run`` in headless Chromium: table, filter, pages, and no script runs.

The fleet has a failing, a dead and successful jobs: the needs-attention summary, the coloured outcome
with its text cue, the last error's words, the batch headline, link-outs and the JSON view are checked.

Needs Debian's ``chromium`` and ``chromium-driver``. Screenshots of both pages go to the directory
named by ``DLI_WATCHER_SCREENSHOTS`` when it is set (for a report), else to the test's tmp_path.
"""

from __future__ import annotations

import os
import signal
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from jsonschema import Draft202012Validator
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.helpers import simulator
from tests.procs import WatcherProcess, write_config
from tests.schemas import load
from tests.tools import require

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

# a script in a job name and one in a log line: each would change the title and set a global if it ran
NAME_SCRIPT = "<script>document.title='pwned';window.pwned='name'</script>"
LOG_SCRIPT = "<script>document.title='pwned';window.pwned='log'</script><img src=x onerror=\"window.pwned='img'\">"
WINDOW = "--window-size=1500,1900"  # the whole first page fits the screenshot
NIGHTLY = 18  # nightly-etl jobs in queue etl, beside 8 ad-hoc ones: more than one page of 25
LINK = "https://logs.example/search?job={job_name}&from={create_time_ms}"
STATUS_LINKS = f'\n[status]\nlinks = [{{name = "Logs", url = "{LINK}"}}]\n'
# the table's columns, 1-based
STATE, OUTCOME, DURATION, WATCH, ERROR = 4, 5, 6, 10, 11


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """Headless Debian Chromium through its own chromedriver (no download, no network)."""
    binary = require("chromium", "chromium")
    driver_path = require("chromedriver", "chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    # no sandbox: CI runs as root; no /dev/shm: containers give it 64 MB
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", WINDOW):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def shots(tmp_path: Path) -> Path:
    """Where the screenshots go."""
    directory = Path(os.environ.get("DLI_WATCHER_SCREENSHOTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def column(driver: WebDriver, n: int) -> list[str]:
    """The text of the n-th cell (1-based) of every row of the batch table."""
    return [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, f"#batches tbody tr td:nth-child({n})")]


def assert_no_script_ran(driver: WebDriver) -> None:
    """The page has no script element, and neither injected script changed the title or set its global."""
    assert driver.find_elements(By.TAG_NAME, "script") == []
    assert driver.find_elements(By.CSS_SELECTOR, "img") == []
    assert driver.execute_script("return typeof window.pwned") == "undefined"
    assert "pwned" not in driver.title


def fleet(world) -> dict[str, str]:
    """The batches of the story by role: a hostile one, a failing one, a missing one, and the rest."""
    evil = world.add_batch(name=NAME_SCRIPT, queue="etl")
    world.set_state(evil, "running")
    world.append_stdout(evil, ["starting the job", LOG_SCRIPT])
    roles = {"evil": evil, "failing": world.add_batch(name="flaky-report", queue="adhoc"), "missing": str(uuid.uuid4())}
    world.inject("status", roles["failing"], count=None, status=503)
    roles["dead"] = world.add_batch(name="broken-report", queue="adhoc")
    world.set_state(roles["dead"], "dead")
    for n in range(NIGHTLY):
        roles[f"nightly{n}"] = world.add_batch(name=f"nightly-etl-{n:02d}", queue="etl")
    for n in range(8):
        roles[f"adhoc{n}"] = world.add_batch(name=f"adhoc-{n}", queue="adhoc")
        world.set_state(roles[f"adhoc{n}"], "success")
    return roles


def test_the_status_pages_in_a_real_browser(tmp_path):
    """/ lists the fleet (failing first), filters and pages; /batches/{id} shows events and log; no script runs."""
    with simulator("dli") as sim:
        roles = fleet(sim.world)
        config = write_config(tmp_path / "config.toml", sim, list(roles.values()))
        config.write_text(config.read_text() + STATUS_LINKS)
        proc = WatcherProcess(config)
        try:
            url = proc.metrics_url
            proc.wait_for(lambda: httpx.get(url + "/readyz", timeout=5).status_code == 200, timeout=30)
            proc.wait_for(lambda: proc.of(roles["failing"], "batch.poll_failed"))
            with chromium() as driver:
                check_index(driver, url, roles, shots(tmp_path))
                check_filter_and_pages(driver, roles, shots(tmp_path))
                check_batch_page(driver, url, roles, shots(tmp_path))
                check_dead_batch_page(driver, url, roles, shots(tmp_path))
            check_json_view(url, roles)
        finally:
            if proc.proc.poll() is None:
                proc.stop(signal.SIGTERM)


def check_index(driver: WebDriver, url: str, roles: dict[str, str], directory: Path) -> None:
    """Every batch on one page, failing then never read first; the job name's script shows as text."""
    driver.get(url + "/")
    assert driver.title.startswith("dli-watcher ")
    ids = column(driver, 1)
    assert sorted(ids) == sorted(roles.values())
    assert ids[:2] == [roles["failing"], roles["missing"]]
    rows = dict(zip(ids, driver.find_elements(By.CSS_SELECTOR, "#batches tbody tr"), strict=True))
    cells = [td.text for td in rows[roles["evil"]].find_elements(By.TAG_NAME, "td")]
    assert cells[1:4] == [NAME_SCRIPT, "etl", "running"]
    failing = [td.text for td in rows[roles["failing"]].find_elements(By.TAG_NAME, "td")]
    assert failing[WATCH - 1] == "failing" and failing[ERROR - 1].startswith("http 503")
    assert len(failing[ERROR - 1].splitlines()) == 2  # the server's words shown, not only on hover
    assert [td.text for td in rows[roles["missing"]].find_elements(By.TAG_NAME, "td")][WATCH - 1] == "not_found"
    check_outcomes(driver, rows, roles)
    about = driver.find_element(By.TAG_NAME, "h1").find_element(By.XPATH, "following-sibling::p").text
    assert "· ready ·" in about and "healthy" in about
    for link in ("/metrics", "/healthz", "/readyz"):
        assert driver.find_elements(By.CSS_SELECTOR, f'nav a[href="{link}"]')
    assert_no_script_ran(driver)
    driver.save_screenshot(str(directory / "status-index.png"))


def check_outcomes(driver: WebDriver, rows: dict[str, WebElement], roles: dict[str, str]) -> None:
    """Needs attention names the failing and the missing batch; dead reads (and looks) failed, success succeeded."""
    summary = driver.find_element(By.CLASS_NAME, "attention").text
    assert "Needs attention" in summary and "1 failing to be read" in summary and "1 not found" in summary
    dead = rows[roles["dead"]].find_elements(By.TAG_NAME, "td")
    good = rows[roles["adhoc0"]].find_elements(By.TAG_NAME, "td")
    assert dead[STATE - 1].text == "dead" and dead[OUTCOME - 1].text.startswith("✗ failed (")
    assert good[OUTCOME - 1].text == "✓ succeeded (final)"
    # colour too, never alone: dead in red, success in green
    assert dead[OUTCOME - 1].value_of_css_property("color") == "rgba(180, 35, 24, 1)"
    assert good[OUTCOME - 1].value_of_css_property("color") == "rgba(26, 127, 55, 1)"
    assert dead[DURATION - 1].text and good[DURATION - 1].text
    hover = dead[STATE + 3].find_element(By.TAG_NAME, "time").get_attribute("title")  # "In state": absolute on hover
    assert hover is not None and hover.endswith("Z")


def follow(driver: WebDriver, go: Callable[[], object]) -> None:
    """Do what loads another page (a click, a submit) and wait until the old page is gone: no reading it half-way."""
    old = driver.find_element(By.TAG_NAME, "html")
    go()
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(old))


def check_filter_and_pages(driver: WebDriver, roles: dict[str, str], directory: Path) -> None:
    """The form filters by queue and name; 25 a page splits the matches over two pages, none lost or repeated."""
    Select(driver.find_element(By.NAME, "queue")).select_by_value("etl")
    box = driver.find_element(By.NAME, "name")
    box.clear()
    box.send_keys("NIGHTLY")
    follow(driver, box.submit)
    names = column(driver, 2)
    assert len(names) == NIGHTLY
    assert all(name.startswith("nightly-etl-") for name in names)
    assert set(column(driver, 3)) == {"etl"}
    follow(driver, driver.find_element(By.LINK_TEXT, "25").click)  # page size: the filter stays
    follow(driver, driver.find_element(By.LINK_TEXT, "Job name").click)  # sort by name
    assert "page 1 of 1" in driver.find_element(By.CLASS_NAME, "pager").text
    assert column(driver, 2) == sorted(names)
    driver.save_screenshot(str(directory / "status-index-filtered.png"))
    follow(driver, driver.find_element(By.LINK_TEXT, "clear").click)
    assert "page 1 of 2" in driver.find_element(By.CLASS_NAME, "pager").text
    page_one = column(driver, 1)
    follow(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "next").click)
    page_two = column(driver, 1)
    assert "page 2 of 2" in driver.find_element(By.CLASS_NAME, "pager").text
    assert (len(page_one), len(page_two)) == (25, len(roles) - 25)
    assert sorted(page_one + page_two) == sorted(roles.values())
    assert_no_script_ran(driver)


def check_batch_page(driver: WebDriver, url: str, roles: dict[str, str], directory: Path) -> None:
    """The hostile batch's page: its fields, its events, its log lines labelled by stream, all as text."""
    driver.get(url + "/?name=" + roles["evil"][:8])
    follow(driver, driver.find_element(By.LINK_TEXT, roles["evil"]).click)
    assert driver.current_url == f"{url}/batches/{roles['evil']}"
    assert roles["evil"] in driver.find_element(By.TAG_NAME, "h1").text
    fields = dict(
        zip(
            [dt.text for dt in driver.find_elements(By.TAG_NAME, "dt")],
            [dd.text for dd in driver.find_elements(By.TAG_NAME, "dd")],
            strict=True,
        )
    )
    assert (fields["Job name"], fields["Queue"], fields["State"]) == (NAME_SCRIPT, "etl", "running")
    events = column_of(driver, "#events", 2)
    assert "batch.discovered" in events and "batch.state_changed" not in events  # running before first seen
    stdout = driver.find_element(By.CSS_SELECTOR, 'pre[data-stream="stdout"]')
    assert stdout.text.splitlines()[-2:] == ["starting the job", LOG_SCRIPT]
    assert "stdout" in stdout.find_element(By.XPATH, "preceding-sibling::h3[1]").text
    assert_no_script_ran(driver)
    driver.save_screenshot(str(directory / "status-batch.png"))


def check_dead_batch_page(driver: WebDriver, url: str, roles: dict[str, str], directory: Path) -> None:
    """The dead batch opens with its headline; its events read as sentences; the link-out is URL-encoded."""
    driver.get(f"{url}/batches/{roles['dead']}")
    headline = driver.find_element(By.CLASS_NAME, "headline")
    assert headline.text.startswith("✗ failed (") and " after " in headline.text and headline.text.endswith(" ago")
    summaries = [s.text for s in driver.find_elements(By.CSS_SELECTOR, "#events summary")]
    assert any(text.startswith("finished") for text in summaries)
    href = driver.find_element(By.LINK_TEXT, "Logs").get_attribute("href")
    assert href is not None and href.startswith("https://logs.example/search?job=broken-report&from=")
    assert_no_script_ran(driver)
    driver.save_screenshot(str(directory / "status-batch-dead.png"))
    driver.get(f"{url}/batches/{roles['evil']}")
    evil = driver.find_element(By.LINK_TEXT, "Logs").get_attribute("href")
    assert evil is not None and "%3Cscript%3E" in evil and "<" not in evil
    assert_no_script_ran(driver)


def check_json_view(url: str, roles: dict[str, str]) -> None:
    """The JSON view of the same page validates against schema/status.schema.json."""
    validator = Draft202012Validator(load("status.schema.json"))
    index = httpx.get(url + "/?format=json&per=25", timeout=10).json()
    batch = httpx.get(f"{url}/batches/{roles['dead']}?format=json", timeout=10).json()
    assert list(validator.iter_errors(index)) == [] and list(validator.iter_errors(batch)) == []
    assert (len(index["batches"]), index["page"]["pages"]) == (25, 2)
    assert batch["batch"]["outcome"]["outcome"] == "failed"


def column_of(driver: WebDriver, table: str, n: int) -> list[str]:
    """The n-th cell's text of each row of another table."""
    return [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, f"{table} tbody tr td:nth-child({n})")]
