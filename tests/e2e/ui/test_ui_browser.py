"""The page in a real headless browser (Debian's chromium, Selenium) against the real operator, apiserver,
emulator and meta database: the timeline shows three checkpoints and a restore; each checkpoint's schema as
the operator captured it, and the schema diff of v1 and v2 (two columns added); Compare data runs the data
diff with the user's key (a key file) against the emulator, shows its result and leaves no branch; Preview v1
and Restore v1 are confirmed from their YAML, their progress is followed without a reload until Succeeded,
production is back at v1 (on the page and in the app's own database); a form on another origin is refused and
creates nothing. Screenshots at 1280x800 and phone size are saved in the test's tmp dir."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

from devenv.ui_process import UiProcess, running_ui
from neon_checkpoints.schema.rows import DATA_BRANCH_PREFIX
from tests.e2e.restore.conftest import RestoreHarness, columns, contacts
from tests.e2e.restore.test_restore_story import V1, V2, V3, migrate

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres, pytest.mark.slow]


def until(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


# Read in one script call: the page replaces the timeline as it polls, so an element found by one WebDriver
# call can be gone by the next (a stale element reference, once, in a full run).
def svg_nodes(driver: webdriver.Chrome, kind: str) -> list[str]:
    names: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.getAttribute('data-name') || '')",
        f"svg a.node.{kind}",
    )
    return names


def production(driver: webdriver.Chrome) -> str:
    text: str = driver.execute_script("return document.getElementById('production-at').innerText")
    return text


def no_horizontal_scroll(driver: webdriver.Chrome) -> bool:
    """The page fits the window (only the timeline picture may scroll inside its own box)."""
    return bool(driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"))


def act(driver: webdriver.Chrome, link_id: str, shown: str) -> str:
    """Press an action with the keyboard, check the YAML shown, confirm; returns the restore's name."""
    link = driver.find_element(By.ID, link_id)
    link.send_keys(Keys.ENTER)  # a link: reachable and pressed with the keyboard
    until(lambda: driver.find_elements(By.ID, "manifest"), "the confirm page")
    manifest = driver.find_element(By.ID, "manifest").text
    assert "kind: CheckpointRestore" in manifest and shown in manifest, manifest
    name = driver.find_element(By.CSS_SELECTOR, "form.confirm input[name=name]").get_attribute("value") or ""
    assert f"name: {name}" in manifest
    driver.find_element(By.ID, "confirm").send_keys(Keys.ENTER)
    until(lambda: driver.find_elements(By.ID, "progress"), "the progress page")
    # Followed without a reload: a mark left on the page survives until the phase says Succeeded.
    driver.execute_script("window.__stillHere = true")
    until(lambda: driver.find_element(By.ID, "phase").text in ("Succeeded", "Failed"), f"{name} to finish")
    assert driver.find_element(By.ID, "phase").text == "Succeeded", driver.page_source
    assert driver.execute_script("return window.__stillHere === true"), "the progress page reloaded"
    assert "Succeeded" in driver.find_element(By.ID, "conditions").text
    return name


def schema_captured(restores: RestoreHarness, name: str) -> bool:
    conditions = restores.h.get("checkpoint", name).get("status", {}).get("conditions", [])
    return any(c["type"] == "SchemaCaptured" and c["status"] == "True" for c in conditions)


def schema_columns(driver: webdriver.Chrome, checkpoint: str) -> list[str]:
    """The columns of neondb.contacts the checkpoint's card shows (its captured schema)."""
    table = driver.find_element(
        By.CSS_SELECTOR, f'#checkpoint-{checkpoint} details[data-table="neondb.contacts"]'
    )
    return [c.get_attribute("textContent") or "" for c in table.find_elements(By.CSS_SELECTOR, "li code")]


def compare_schema_and_data(restores: RestoreHarness, driver: webdriver.Chrome, project: str, key: str,
                            tmp_path: Path) -> None:  # fmt: skip
    """The wired schema view with the operator's real capture, then Compare data on the real emulator."""
    until(lambda: all(schema_captured(restores, v) for v in ("v1", "v2", "v3")), "the schema captures", 60)
    driver.refresh()
    until(lambda: driver.find_elements(By.CSS_SELECTOR, "#checkpoint-v3 details.schema-table"), "the schemas")
    assert schema_columns(driver, "v1") == ["id", "name", "email"]
    assert schema_columns(driver, "v2") == ["id", "name", "email", "role", "company"]
    Select(driver.find_element(By.ID, "diff-a")).select_by_visible_text("v1")
    Select(driver.find_element(By.ID, "diff-b")).select_by_visible_text("v2")
    driver.find_element(By.ID, "diff-go").send_keys(Keys.ENTER)
    until(lambda: driver.find_elements(By.ID, "schema-changes"), "the schema diff")
    changes = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#schema-changes li")]
    assert changes == ["database neondb", "~ table contacts", "+ column role text", "+ column company text"]
    driver.find_element(By.ID, "diff").screenshot(str(tmp_path / "diff-v1-v2.png"))

    driver.find_element(By.ID, "data-go").send_keys(Keys.ENTER)  # a button: keyboard reachable
    until(lambda: driver.find_elements(By.ID, "data-diff"), "the data diff page")
    driver.execute_script("window.__stillHere = true")
    # Read through the script: the polled box is replaced every second, so a found element may go stale.
    state = 'const e = document.getElementById("data-state"); return e ? e.textContent : ""'
    until(lambda: driver.execute_script(state) in ("done", "failed"), "the data diff", 120)
    assert driver.execute_script(state) == "done", driver.page_source
    assert driver.execute_script("return window.__stillHere === true"), "the data diff page reloaded"
    steps = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#data-steps li")]
    assert steps[1:3] == [
        "opening A (v1) and B (v2) as branches from their snapshots",
        "comparing the tables of database neondb",
    ]
    assert steps[-2:] == ["deleting the diff's branches", "done"]
    cells = [
        c.text
        for c in driver.find_elements(By.CSS_SELECTOR, "#data-neondb-contacts th, #data-neondb-contacts td")
    ]
    # v2 added Barbara and filled the new columns (not compared: v1 has none of them).
    assert cells == ["neondb.contacts", "3", "4", "differs", "1", "0", "0"]
    added = driver.find_element(By.CSS_SELECTOR, "li.row-added").text
    assert '"name": "Barbara"' in added and '"email": "barbara@example.com"' in added
    assert key not in driver.page_source
    driver.save_screenshot(str(tmp_path / "data-diff-1280x800.png"))
    left = [n for n in restores.branches(project) if n.startswith(DATA_BRANCH_PREFIX)]
    assert left == [], f"the data diff left branches: {left}"
    driver.find_element(By.ID, "back").click()
    until(lambda: driver.find_elements(By.ID, "schema-changes"), "the timeline again")


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Another origin on loopback (same host, another port) serving whatever page the test writes."""
    root = tmp_path / "other-origin"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_page_previews_and_restores_v1_in_a_real_browser(
    restores: RestoreHarness,
    browser: webdriver.Chrome,
    other_origin: tuple[str, Path],
    tmp_path: Path,
) -> None:
    h = restores.h
    project = h.create_project()
    app = restores.app_uri(project)
    h.start_operator()
    states = {}
    for version, statements in (("v1", V1), ("v2", V2), ("v3", V3)):
        migrate(app, statements)
        states[version] = (columns(app), contacts(app))
        restores.checkpoint(project, version, f"commit-{version}")
    restores.restore("back-to-v2", "v2")
    restores.wait_restore("back-to-v2")

    key_file = tmp_path / "neon-key"
    key_file.write_text(h.emulator.api_key + "\n")  # the user's own key, given to the ui as a file
    ui: UiProcess
    with running_ui(
        kubeconfig=h.kube.kubeconfig,
        meta_database_url=h.meta_dsn,
        namespace=h.namespace,
        log_path=tmp_path / "ui.log",
        args=[
            "--poll-seconds",
            "0.5",
            "--neon-api-url",
            h.emulator.url,
            "--neon-api-key-file",
            str(key_file),
        ],
    ) as ui:
        browser.get(ui.url)
        browser.find_element(By.LINK_TEXT, project).click()
        until(lambda: browser.find_elements(By.ID, "timeline"), "the timeline")
        assert svg_nodes(browser, "checkpoint") == ["v1", "v2", "v3"]
        assert svg_nodes(browser, "restore") == ["back-to-v2"]
        assert production(browser) == "v2"
        description = browser.find_element(By.ID, "timeline-desc").get_attribute("textContent") or ""
        assert "Finalize restore back-to-v2 back to v2 (Succeeded)." in description
        assert browser.find_element(By.CSS_SELECTOR, "#checkpoint-v1 .src-commit").text == "commit-v1"
        browser.save_screenshot(str(tmp_path / "timeline-1280x800.png"))
        compare_schema_and_data(restores, browser, project, h.emulator.api_key, tmp_path)

        preview = act(browser, "act-preview-v1", "mode: Preview")
        browser.find_element(By.ID, "back").click()
        assert production(browser) == "v2", "a preview leaves production alone"

        # The timeline updates by itself: a restore made elsewhere appears without a reload.
        browser.execute_script("window.__stillHere = true")
        restores.restore(
            "elsewhere-to-v3", "v3", example="checkpointrestore-preview.yaml", previewSecretName="v3-preview"
        )
        until(lambda: "elsewhere-to-v3" in svg_nodes(browser, "restore"), "the new restore on the page")
        assert browser.execute_script("return window.__stillHere === true"), "the timeline page reloaded"

        restored = act(browser, "act-restore-v1", "mode: Finalize")
        browser.find_element(By.ID, "back").click()
        assert production(browser) == "v1"
        assert svg_nodes(browser, "restore") == ["back-to-v2", preview, "elsewhere-to-v3", restored]
        assert (columns(app), contacts(app)) == states["v1"], "the app's own connection string serves v1"
        assert no_horizontal_scroll(browser)
        browser.save_screenshot(str(tmp_path / "restored-1280x800.png"))

        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
        )
        browser.refresh()
        until(lambda: browser.find_elements(By.ID, "timeline"), "the timeline on a phone")
        assert no_horizontal_scroll(browser), "readable on a phone without scrolling sideways"
        assert browser.find_element(By.ID, "act-restore-v3").is_displayed()
        browser.save_screenshot(str(tmp_path / "restored-390x844.png"))
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

        # Another origin's form, even carrying this session's real token, is refused and creates nothing.
        browser.get(f"{ui.url}apps/{project}/plan?action=restore&target=v3")
        token = browser.find_element(By.CSS_SELECTOR, "input[name=csrf_token]").get_attribute("value")
        origin, root = other_origin
        (root / "attack.html").write_text(
            f"""<!doctype html><form id="f" method="post" action="{ui.url}apps/{project}/restores">
            <input name="csrf_token" value="{token}"><input name="action" value="restore">
            <input name="target" value="v3"><input name="name" value="evil-v3"></form>
            <script>document.getElementById("f").submit()</script>"""
        )
        browser.get(f"{origin}/attack.html")
        until(lambda: browser.find_elements(By.ID, "error"), "the refusal")
        assert "Refused: the request comes from another origin" in browser.find_element(By.ID, "error").text
        assert h.kubectl("get", "checkpointrestore", "evil-v3", check=False).returncode != 0
        assert h.emulator.api_key not in ui.log()
    print(f"screenshots: {sorted(p.name for p in tmp_path.glob('*.png'))} in {tmp_path}")
