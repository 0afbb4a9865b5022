"""The web page in a real browser: Debian's chromium driven by Playwright, against a real
`imprint serve` on loopback (the tiny model answers and trains). Screenshots of every page go to
test-output/ui/ (IMPRINT_SCREENSHOTS to change it)."""

import json
import os
import shutil
import time
from pathlib import Path

import httpx2
import pytest

from imprint.serve.launch import running_server

ALICE, BOB, ADMIN = "k-alice-3f9a2c71d0e4", "k-bob-77c1b5e09a3f", "k-admin-0b12c3d4e5f6"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("IMPRINT_SCREENSHOTS", Path(__file__).resolve().parents[1] / "test-output" / "ui"))
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> Remember the oat milk.'


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: apt-get install chromium (.ci/run does)")
        pytest.skip("needs Debian's chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("ui")
    keys = folder / "keys.json"
    keys.write_text(json.dumps({"keys": {ALICE: ["alice"], BOB: ["bob"], ADMIN: ["*"]}}))
    bench = folder / "bench" / "world"
    bench.mkdir(parents=True)
    (bench / "report.json").write_text(
        json.dumps(
            {
                "dataset": "world",
                "documents": 40,
                "costs": {},
                "summary": {
                    "index": {
                        "questions": 60,
                        "accuracy": 0.65,
                        "exact_match": 0.55,
                        "f1": 0.6,
                        "p50_s": 1.2,
                        "prompt_tokens": 410,
                    },
                    "context": {
                        "questions": 60,
                        "accuracy": 0.52,
                        "exact_match": 0.4,
                        "f1": 0.5,
                        "p50_s": 3.1,
                        "prompt_tokens": 1900,
                    },
                },
            }
        )
    )
    shutil.copy(
        Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "code_recall.png", bench / "accuracy.png"
    )
    settings = {
        "IMPRINT_MODEL": str(tiny_model_dir),
        "IMPRINT_CACHE_DIR": str(tiny_model_dir / "cache"),
        "IMPRINT_BENCH_DIR": str(folder / "bench"),
    }
    with running_server(folder / "data", keys, env=settings) as url:
        httpx2.post(
            f"{url}/spaces/bob/memories",
            json={"text": "Bob's launch code is 4471."},
            headers={"Authorization": f"Bearer {BOB}"},
            timeout=60,
        ).raise_for_status()
        yield url


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def wait_until(page, expression: str, timeout: float = 30.0) -> None:
    """Polls `expression` from the test: `wait_for_function` re-checks it inside the page with eval,
    which the page's Content-Security-Policy forbids, so it fails whenever the first check is false."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        page.wait_for_timeout(50)


def log_in(browser, site: str, key: str, **context):
    """A new browser session, logged in with the keyboard only."""
    page = browser.new_context(**context).new_page()
    page.goto(f"{site}/ui")
    assert page.url.endswith("/ui/login")
    wait_until(page, "document.activeElement && document.activeElement.id === 'key'")  # focused on load
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site}/ui")
    return page


def test_a_user_adds_searches_asks_reads_and_forgets_in_the_browser(browser, site, tmp_path):
    page = browser.new_context().new_page()
    response = page.goto(f"{site}/ui/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    shot(page, "login")
    page.fill("#key", "k-not-a-key-at-all-000")
    page.press("#key", "Enter")
    assert "not known" in page.inner_text("[role=alert]")
    page = log_in(browser, site, ALICE)

    page.goto(f"{site}/ui/spaces/alice/add")
    page.fill("#text", "Mira Quenton moved to Tallinn in 2021.")
    page.click("#add-text button[type=submit]")
    page.wait_for_selector("#results li")
    page.fill("#text", HOSTILE)
    page.click("#add-text button[type=submit]")
    notes = tmp_path / "notes.md"
    notes.write_text("The robotics club meets on Thursdays in room 4.")
    (tmp_path / "bad.json").write_text("{oops")
    page.set_input_files("#files", [str(notes), str(tmp_path / "bad.json")])
    page.click("#add-files button[type=submit]")
    page.wait_for_selector("text=2 files done.")
    results = page.inner_text("#results")
    assert "notes.md 1 memories" in results and "bad.json 400: bad.json: malformed JSON" in results
    shot(page, "add")

    page.goto(f"{site}/ui/spaces/alice/memories")
    page.wait_for_selector("#memories tbody tr")
    assert page.locator("#memories tbody").get_by_text("<script>window.pwned = 1</script>", exact=False).count() == 1
    assert page.evaluate("window.pwned") is None
    page.fill("#query", "robotics club")
    page.press("#query", "Enter")
    page.wait_for_selector("#position:has-text('best matches')")
    assert "robotics club" in page.inner_text("#memories tbody tr:first-child")
    shot(page, "memories")

    page.goto(f"{site}/ui/spaces/alice/ask")
    page.fill("#question", "Where did Mira Quenton move?")
    page.select_option("#strategy", "index")
    page.click("#ask button[type=submit]")
    page.wait_for_selector("#route dd")
    assert page.inner_text("#route").startswith("answered from\nindex")
    assert "Tallinn" in page.inner_text("#shown") and page.inner_text("#answer").strip()
    shot(page, "ask")

    page.click("#shown a:has-text('#1')")
    page.wait_for_selector("#facts dd")
    assert page.inner_text("#text") == "Mira Quenton moved to Tallinn in 2021."
    with page.expect_download() as download:
        page.click("#download")
    assert Path(download.value.path()).read_text() == "Mira Quenton moved to Tallinn in 2021."
    shot(page, "memory")
    page.click("#forget")
    assert "Forget memory 1" in page.inner_text("#confirm-text")
    page.click("#forget-yes")
    page.wait_for_selector("#forgotten:has-text('Forgotten: memories 1')")
    shot(page, "forgotten")
    page.goto(f"{site}/ui/spaces/alice/memories")
    page.wait_for_selector("#memories tbody tr")
    assert "Tallinn" not in page.inner_text("#memories")
    page.goto(f"{site}/ui/spaces/alice/dropped")
    page.wait_for_selector("#status")
    shot(page, "dropped")

    # state changes need the CSRF token: the cookie alone is not enough
    refused = page.evaluate("""fetch('/spaces/alice/memories', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({text: 'forged'})}).then(r => r.status)""")
    assert refused == 401


def test_a_key_never_sees_another_space_through_the_page(browser, site):
    page = log_in(browser, site, ALICE)
    page.goto(f"{site}/ui")
    page.wait_for_selector("#spaces tbody tr")
    assert [row.split("\t")[0] for row in page.inner_text("#spaces tbody").splitlines()] == ["alice"]
    shot(page, "spaces")
    page.goto(f"{site}/ui/spaces/bob/memories")
    page.wait_for_selector("#status.error")
    assert "404: no space 'bob'" in page.inner_text("#status") and "4471" not in page.content()
    page.goto(f"{site}/ui/spaces/bob/memories/1")
    page.wait_for_selector("#status.error")
    assert "4471" not in page.content()
    page.goto(f"{site}/ui/bench")
    page.wait_for_selector("#status.error")
    assert "no bench reports for this key" in page.inner_text("#status")


def test_adapters_consolidate_with_live_progress_and_bench_reports(browser, site):
    page = log_in(browser, site, ADMIN)
    page.goto(f"{site}/ui/spaces/bob/adapters")
    page.wait_for_selector("#status:has-text('No adapter yet')")
    page.fill("#epochs", "2")
    page.click("#consolidate button[type=submit]")
    page.wait_for_selector("#job-status:has-text('running')")
    page.wait_for_selector("#adapters tbody tr", timeout=300_000)
    row = page.inner_text("#adapters tbody tr")
    assert row.startswith("v1") and ("passed" in row or "failed:" in row)
    assert "epoch 1/2" in page.inner_text("#job-log")
    shot(page, "adapters")

    page.goto(f"{site}/ui/bench")
    page.wait_for_selector("#reports table")
    assert "world: world" in page.inner_text("#reports h2") and "65%" in page.inner_text("#reports table")
    wait_until(page, "document.querySelector('#reports img').naturalWidth > 0")
    shot(page, "bench")


def test_the_page_reads_on_a_phone(browser, site):
    page = log_in(browser, site, ALICE, viewport={"width": 390, "height": 844})
    page.goto(f"{site}/ui/spaces/alice/memories")
    page.wait_for_selector("#memories tbody tr")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-memories")
