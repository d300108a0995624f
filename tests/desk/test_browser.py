"""The desk in a real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium): sign in as the bank, see its queue, open a case, see the timeline, download the
SAR draft, claim and dispose, see the case closed, sign out. The desk is the real
`chainbreaker desk` process; screenshots of the queue and of the case page are written under
the test's directory and must not be blank."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from schemas.codec import AvroCodec
from stack.packages import ensure_chromium
from streams.topics import ensure_topics
from tests.desk.support import alert_for, enqueue, grant, raw_identifiers
from tests.desk.test_api import consume_dispositions
from tests.processors.test_sar import T0
from tests.support import ROOT, free_port, isolated_env, operator_redis, settings_for, wait_for

pytestmark = pytest.mark.integration
BANK, MSB = "bank-us-01", "msb-us-02"
DAY = 86_400_000
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1800")  # fmt: skip


def network_alert() -> dict:
    """A network case (issue 12's optional `network` field) spread over a week."""
    alert = alert_for(BANK, "acct-ring-1", score=2.4, severity="HIGH")
    alert["first_event_time"], alert["last_event_time"] = T0 - 6 * DAY, T0
    for i, hit in enumerate(alert["indicators"]):
        hit["detected_event_time"] = T0 - (4 - 2 * i) * DAY
    alert["network"] = {
        "network_id": uuid.uuid4().hex[:16],
        "link_kind": "phone",
        "members": [
            {"account_id": "acct-ring-1", "customer_id": "cust-r1", "role": "collector",
             "indicator_codes": ["MANY_SMALL_PAYERS"], "alerts_alone": False},
            {"account_id": "acct-ring-2", "customer_id": "cust-r2", "role": "member",
             "indicator_codes": ["HOTEL_MULTI_CITY"], "alerts_alone": False},
        ],
        "other_members": 3,
        "other_institutions": 1,
    }  # fmt: skip
    codec = AvroCodec("alert")  # a valid alert of schema v2 (issue 12's network field)
    assert codec.decode(codec.encode(alert))["network"] == alert["network"]
    return alert


def not_blank(path: Path) -> None:
    image = Image.open(path).convert("RGB")
    assert image.size[0] >= 800 and image.size[1] >= 600
    spread = ImageStat.Stat(image).stddev
    assert max(spread) > 20, f"{path} looks blank (stddev {spread})"
    assert len(image.getcolors(1 << 20) or []) > 50, f"{path} has almost no colours"


@pytest.fixture
def chromium():
    try:
        return ensure_chromium()
    except Exception as exc:  # StackError: not installable here; say what to install
        pytest.fail(f"the browser tests need Chromium and chromedriver: {exc}")


@pytest.fixture
def desk_process(tmp_path, stack):
    env = isolated_env(tmp_path, CB_STACK_DIR=str(tmp_path / "stack"),
                       CB_DESK_PORT=str(free_port()))  # fmt: skip
    settings = settings_for(env)
    ensure_topics(settings)
    admin = operator_redis(settings)
    passwords = {inst: grant(admin, settings, inst) for inst in (BANK, MSB)}
    log_path = tmp_path / "desk.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "desk"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{settings.desk_port}"

    def up() -> bool:
        import urllib.request

        assert proc.poll() is None, log_path.read_text()
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    try:
        wait_for(up, 60, "the desk to answer")
        yield settings, admin, passwords, url, log_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        from institutions import acl

        for inst in passwords:
            acl.revoke(admin, settings, inst)
        admin.close()


@pytest.fixture
def browser(chromium, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})  # fmt: skip
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield driver
    finally:
        driver.quit()


def test_an_analyst_works_a_case_from_queue_to_disposition(desk_process, browser, tmp_path):
    from selenium.webdriver.common.by import By

    settings, admin, passwords, url, log_path = desk_process
    ring = network_alert()
    plain = alert_for(BANK, "acct-7", score=1.2)
    other = alert_for(MSB, "acct-msb-1", score=3.0)
    enqueue(admin, settings, plain, ring, other)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    pages: list[str] = []

    def find(css: str):
        return browser.find_element(By.CSS_SELECTOR, css)

    def text(css: str) -> str:
        """The element's text now, or "" while the page is being replaced."""
        from selenium.common.exceptions import WebDriverException

        try:
            return browser.find_element(By.CSS_SELECTOR, css).text
        except WebDriverException:
            return ""

    browser.get(f"{url}/queue")  # not signed in: the sign-in form
    assert "/login" in browser.current_url
    find("#institution-input").send_keys(BANK)
    find("#password-input").send_keys(passwords[BANK])
    find("#analyst-input").send_keys("an-1")
    find("#signin-button").click()
    wait_for(
        lambda: browser.current_url.startswith(f"{url}/queue"),
        30,
        f"the queue after signing in; page: {browser.page_source[:3000]}",
    )
    assert "password" not in browser.current_url  # a POST: never in the address

    rows = browser.find_elements(By.CSS_SELECTOR, "tr.case-row")
    assert [float(r.get_attribute("data-score")) for r in rows] == [2.4, 1.2]  # the bank's only
    assert other["alert_id"] not in browser.page_source and "acct-msb-1" not in browser.page_source
    assert find("#institution").text == BANK
    browser.save_screenshot(str(shots / "queue.png"))
    not_blank(shots / "queue.png")
    pages.append(browser.page_source)

    rows[0].find_element(By.CSS_SELECTOR, "a.open-case").click()  # the highest score
    wait_for(lambda: "/cases/" in browser.current_url, 30, "the case page")
    assert find("#alert-id").text == ring["alert_id"]
    lanes = browser.find_elements(By.CSS_SELECTOR, "#timeline svg g.lane")
    assert [g.get_attribute("data-indicator") for g in lanes] == [
        h["code"] for h in ring["indicators"]
    ]
    assert find("#timeline svg").size["width"] > 600  # drawn, not collapsed
    members = browser.find_elements(By.CSS_SELECTOR, "#network tr.member")
    assert [m.find_element(By.CSS_SELECTOR, "td").text for m in members] == [
        "acct-ring-1",
        "acct-ring-2",
    ]
    assert "3 more member(s) at 1 other institution(s)" in find("#network").text
    measured = browser.find_elements(By.CSS_SELECTOR, "#indicators td.measured")
    assert [float(m.text) for m in measured] == [h["measured"] for h in ring["indicators"]]
    assert "new" in find("#case-state").text

    find("#claim").click()
    wait_for(lambda: "on your desk" in text("#case-state"), 30, "the case claimed")
    browser.save_screenshot(str(shots / "case.png"))
    not_blank(shots / "case.png")
    pages.append(browser.page_source)

    find("#sar-md").click()
    find("#sar-pdf").click()
    md = browser.downloads / f"sar-draft-{ring['alert_id']}.md"
    pdf = browser.downloads / f"sar-draft-{ring['alert_id']}.pdf"
    wait_for(lambda: md.exists() and pdf.exists() and pdf.stat().st_size > 1000, 60,
             "the SAR draft downloads")  # fmt: skip
    assert md.read_text().startswith(f"# SAR narrative draft: alert {ring['alert_id']}")
    assert pdf.read_bytes()[:5] == b"%PDF-"

    find("#outcome-false-positive").click()
    find("#note").send_keys("Payroll agency, documented 2026-11-20.")
    find("#dispose-button").click()
    wait_for(lambda: "FALSE_POSITIVE" in text("#decided"), 60, "the decision")
    assert "FALSE_POSITIVE" in find("#decided").text and "an-1" in find("#decided").text
    assert "closed" in find("#case-state").text
    assert browser.find_elements(By.CSS_SELECTOR, "#dispose") == []
    pages.append(browser.page_source)

    [(key, record)] = consume_dispositions(settings, 1, BANK)
    assert key == b"acct-ring-1" and record["alert_id"] == ring["alert_id"]
    assert record["outcome"] == "FALSE_POSITIVE" and record["analyst_id"] == "an-1"

    browser.get(f"{url}/queue?view=closed")
    closed = browser.find_elements(By.CSS_SELECTOR, "tr.case-row")
    assert [r.get_attribute("data-entry") for r in closed] == [enqueue_entry(admin, settings, ring)]
    assert "FALSE_POSITIVE" in closed[0].text
    browser.get(f"{url}/feedback")
    row = find("#per-typology tr[data-key='SEX_TRAFFICKING']")
    cells = [td.text for td in row.find_elements(By.CSS_SELECTOR, "td")]
    # typology, decided, useful, precision, SAR filed, valuable, false positive
    assert cells[:3] == ["SEX_TRAFFICKING", "1", "0"] and cells[3].startswith("0%")
    assert cells[4:] == ["0", "0", "1"]
    pages.append(browser.page_source)

    find("#sign-out").click()
    wait_for(lambda: "/login" in browser.current_url, 30, "the sign-in page after signing out")
    browser.get(f"{url}/queue")
    assert "/login" in browser.current_url  # the session is gone

    for page in pages:
        assert raw_identifiers(page) == [] or _only_tokens(page), raw_identifiers(page)
    log = log_path.read_text()
    assert "signed in: institution bank-us-01, analyst an-1" in log
    for secret in passwords.values():
        assert secret not in log


def enqueue_entry(admin, settings, alert) -> str:
    raw = admin.hget(f"{settings.app_id}:case-index:{alert['institution_id']}", alert["alert_id"])
    return raw.decode()


def _only_tokens(page: str) -> bool:
    """The page's own CSRF tokens are random text; nothing else may look like an identifier."""
    import re

    tokens = tuple(re.findall(r'name="csrf" value="([^"]+)"', page))
    return raw_identifiers(page, tokens) == []
