"""The dashboard under test: the API app served by uvicorn in a thread (enforcing in a lab's namespace),
tokens for several projects and roles, and a real headless Chromium driven by selenium.

Screenshots go to ``docs/img/ui/`` when GUESTWALL_UI_SCREENSHOTS is set (``tmp_path`` otherwise), so a
normal test run does not rewrite committed images.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DESKTOP = (1280, 900)
PHONE = (390, 844)
REPO = Path(__file__).resolve().parents[2]


def browser_unavailable() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    base: str  # http://127.0.0.1:PORT
    server: uvicorn.Server
    thread: threading.Thread


@contextmanager
def serve(app: Any) -> Iterator[Served]:
    """Serve ``app`` on a free loopback port until the block ends."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="ui-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def chromium(size: tuple[int, int] = DESKTOP) -> Iterator[WebDriver]:
    """A headless Chromium with a new, empty profile, removed afterwards."""
    profile = tempfile.mkdtemp(prefix="gw-ui-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Ui:
    """A browser on the dashboard, with the steps the tests take."""

    def __init__(self, driver: WebDriver, base: str, shots: Path, tokens: dict[str, str]) -> None:
        self.tokens = tokens  # label -> secret
        self.driver = driver
        self.base = base
        self.shots = shots

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def login(self, label: str) -> None:
        self.driver.delete_all_cookies()
        self.open("/ui/login")
        self.driver.find_element(By.ID, "token").send_keys(self.tokens[label])
        self.driver.find_element(By.CSS_SELECTOR, "form[action='/ui/login'] button").click()
        self.wait_for(lambda: "/ui/login" not in self.driver.current_url)

    def fill(self, form_id: str, **fields: str) -> None:
        form = self.driver.find_element(By.ID, form_id)
        for name, value in fields.items():
            element = form.find_element(By.NAME, name)
            if element.get_attribute("type") == "checkbox":
                if element.is_selected() != bool(value):
                    element.click()
            elif element.tag_name == "select":
                from selenium.webdriver.support.select import Select

                Select(element).select_by_visible_text(value)
            else:
                element.clear()
                element.send_keys(value)

    def submit(self, form_id: str) -> None:
        before = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, f"#{form_id} button[type=submit]").click()
        self.wait_for(lambda: _stale(before))

    def text(self, css: str = "main") -> str:
        return str(self.driver.find_element(By.CSS_SELECTOR, css).text)

    def all_text(self, css: str) -> list[str]:
        return [str(e.text) for e in self.driver.find_elements(By.CSS_SELECTOR, css)]

    def wait_text(self, fragment: str, css: str = "main", timeout: float = 10) -> None:
        """Until ``fragment`` is shown (the page may still be loading)."""
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

        def shown() -> bool:
            try:
                return fragment in self.text(css)
            except (NoSuchElementException, StaleElementReferenceException):
                return False

        self.wait_for(shown, timeout)

    def wait_for(self, condition: Any, timeout: float = 10) -> None:
        WebDriverWait(self.driver, timeout).until(lambda _d: condition())

    def screenshot(self, name: str, size: tuple[int, int] = DESKTOP) -> Path:
        """The whole page at ``size`` (height grown to the page's), as docs/img/ui/<name>.png."""
        width, height = size
        self.driver.set_window_size(width, height)
        full = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
        self.driver.set_window_size(width, min(max(height, full + 140), 2200))
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(*DESKTOP)
        return path


def _stale(element: Any) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        # Chrome's other word for a stale element, when asked while the next page replaces the document
        if "does not belong to the document" in str(error.msg):
            return True
        raise
    return False


def screenshot_dir(tmp: Path) -> Path:
    if os.environ.get("GUESTWALL_UI_SCREENSHOTS"):
        target = REPO / "docs" / "img" / "ui"
    else:
        target = tmp / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target
