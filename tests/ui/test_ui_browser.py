"""The dashboard in a real headless Chromium, against the pages enforcing in a namespace lab: a member
creates a group and a rule and the port's traffic follows (real TCP between lab guests), an admin blocks a
CIDR and the guest's traffic stops, another project sees none of it, an XSS name stays text, a forged
cross-site form is refused, a reader cannot write; screenshots of each page (harness.screenshot_dir)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from harness import PHONE, Ui, browser_unavailable, chromium, screenshot_dir, serve
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from guestwall.lab import Lab, netns_socket
from netns_fixtures import needs_netns

pytestmark = [
    *needs_netns,
    pytest.mark.skipif(browser_unavailable() is not None, reason=browser_unavailable() or ""),
]

XSS = "<script>alert(1)</script>"
SSH = 2222


@pytest.fixture(scope="module")
def served(lab_site: Any) -> Iterator[Any]:
    with serve(lab_site.site.app) as running:
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_dir(tmp_path_factory.mktemp("shots"))


@pytest.fixture
def ui(driver: Any, served: Any, shots: Path, lab_site: Any) -> Ui:
    return Ui(driver, served.base, shots, lab_site.site.tokens)


def tcp_connects(lab: Lab, client: str, server: str, port: int) -> bool:
    """Whether a TCP connection from one lab guest to a listener in another is established."""
    target = lab[server]
    listener = netns_socket(target.netns, socket.AF_INET, socket.SOCK_STREAM)
    sock = netns_socket(lab[client].netns, socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((target.ipv4, port))
        listener.listen(1)
        sock.settimeout(1.5)
        try:
            sock.connect((target.ipv4, port))
        except OSError:
            return False
        listener.settimeout(1.5)
        peer, _ = listener.accept()
        peer.close()
        return True
    finally:
        sock.close()
        listener.close()


def group_id(lab_site: Any, name: str) -> str:
    found = [g.id for g in lab_site.site.cloud().list_groups() if g.name == name]
    assert len(found) == 1, name
    return found[0]


def test_login_with_a_token_and_the_token_stays_out_of_urls(ui: Ui, lab_site: Any) -> None:
    ui.open("/ui/ports")
    assert "/ui/login" in ui.driver.current_url
    ui.driver.find_element(By.ID, "token").send_keys("not-a-token")
    ui.driver.find_element(By.CSS_SELECTOR, "form[action='/ui/login'] button").click()
    ui.wait_text("unknown or revoked")
    ui.screenshot("login")
    ui.login("tok-acme")
    assert "Logged in: project acme, role member" in ui.text()
    assert lab_site.site.tokens["tok-acme"] not in ui.driver.current_url
    cookie = ui.driver.get_cookie("gw_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert ui.driver.execute_script("return document.cookie") == ""  # scripts cannot read the token


def test_member_creates_a_group_and_a_rule_and_the_port_follows(ui: Ui, lab_site: Any) -> None:
    lab = lab_site.lab
    assert not tcp_connects(lab, "bob", "alice", SSH)  # alice's group accepts only its own members
    ui.login("tok-acme")
    ui.open("/ui/groups")
    ui.fill("create-group", name="web", description="the web tier")
    ui.submit("create-group")
    assert "Security group 'web' created in project acme" in ui.text(".flash")
    ui.fill("create-rule", protocol="tcp", port_range="8080")
    ui.submit("create-rule")
    assert "Rule" in ui.text(".flash") and "8080" in ui.text("#rules")

    # a rule in alice's group: its enforcement changes, in the program, the simulation and the kernel
    base = group_id(lab_site, "base")
    ui.open(f"/ui/groups/{base}")
    ui.fill("create-rule", protocol="tcp", port_range=str(SSH), remote_ip=f"{lab['bob'].ipv4}/32")
    ui.submit("create-rule")
    assert f"{lab['bob'].ipv4}/32" in ui.text("#rules")
    assert tcp_connects(lab, "bob", "alice", SSH)
    alice, bob = lab["alice"], lab["bob"]
    packet = f"smac={bob.mac} src={bob.ipv4} dst={alice.ipv4} tcp dport={SSH}"
    ui.open(f"/ui/ports/{alice.portdev}")
    ui.fill("sim-form", direction="in: delivered to the guest", packet=packet)
    ui.submit("sim-form")
    assert "ACCEPT" in ui.text("#sim-result") and "gw-sg-" in ui.text("#sim-result")
    assert f"dport {SSH}" in ui.text("table.program") or str(SSH) in ui.text("table.program")
    ui.screenshot("port")


def test_admin_blocks_a_cidr_and_the_guest_is_cut_off(ui: Ui, lab_site: Any) -> None:
    lab = lab_site.lab
    assert tcp_connects(lab, "bob", "alice", SSH)
    ui.login("tok-acme")
    assert "Provider blocks" not in ui.text("header")
    ui.login("tok-admin")
    ui.open("/ui/blocks")
    ui.fill("create-block", cidr=f"{lab['bob'].ipv4}/32", description="bob misbehaves")
    ui.submit("create-block")
    assert f"Blocked {lab['bob'].ipv4}/32" in ui.text(".flash")
    assert "bob misbehaves" in ui.text("#blocks")
    assert not tcp_connects(lab, "bob", "alice", SSH)
    ui.screenshot("blocks")
    ui.driver.find_element(By.CSS_SELECTOR, "#blocks form[data-confirm] button").click()
    ui.driver.switch_to.alert.accept()  # the confirmation the page's script asks
    ui.wait_text("Unblocked")
    assert tcp_connects(lab, "bob", "alice", SSH)


def test_another_project_sees_none_of_it(ui: Ui, lab_site: Any) -> None:
    web = group_id(lab_site, "web")
    ui.login("tok-other")
    ui.open("/ui/groups")
    names = ui.all_text("main table tbody td:first-child")
    assert "out" in names and "web" not in names and "base" not in names
    ui.open("/ui/ports")
    assert lab_site.lab["alice"].portdev not in ui.text("main table")
    assert lab_site.lab["bob"].portdev in ui.text("main table")
    ui.open(f"/ui/groups/{web}")
    assert "Not found" in ui.text("h1")
    ui.open(f"/ui/ports/{lab_site.lab['alice'].portdev}")
    assert "Not found" in ui.text("h1")


def test_xss_group_name_shows_as_text(ui: Ui, lab_site: Any) -> None:
    ui.login("tok-acme")
    ui.open("/ui/groups")
    ui.fill("create-group", name=XSS)
    ui.submit("create-group")
    assert ui.text("h1 .name") == XSS
    with pytest.raises(NoAlertPresentException):
        ui.driver.switch_to.alert  # noqa: B018 (the property raises when no alert is open)
    ui.open("/ui/groups")
    assert XSS in ui.all_text("main table tbody td:first-child")
    ui.screenshot("groups")


class _Evil(BaseHTTPRequestHandler):
    """Another site's page with a form aimed at the dashboard (a same-site, cross-origin forgery)."""

    target = ""

    def do_GET(self) -> None:
        body = (
            "<!doctype html><title>win a prize</title>"
            f"<form method='post' action='{self.target}/ui/groups'>"
            "<input name='name' value='forged'><button id='go' type='submit'>Claim</button></form>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_forged_cross_site_post_is_refused(ui: Ui, served: Any, lab_site: Any) -> None:
    ui.login("tok-acme")
    handler = type("Evil", (_Evil,), {"target": served.base})
    evil = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=evil.serve_forever, daemon=True)
    thread.start()
    try:
        ui.driver.get(f"http://127.0.0.1:{evil.server_address[1]}/")
        ui.driver.find_element(By.ID, "go").click()
        ui.wait_text("Not allowed", "h1")
        assert "/ui/groups" in ui.driver.current_url
        assert "cross-site request refused" in ui.text() or "CSRF" in ui.text()
    finally:
        evil.shutdown()
        thread.join()
    assert "forged" not in [g.name for g in lab_site.site.cloud().list_groups()]


def test_reader_cannot_write(ui: Ui, lab_site: Any) -> None:
    ui.login("tok-acme-reader")
    ui.open("/ui/groups")
    assert "web" in ui.all_text("main table tbody td:first-child")
    assert not ui.driver.find_elements(By.ID, "create-group")
    ui.open(f"/ui/groups/{group_id(lab_site, 'web')}")
    assert not ui.driver.find_elements(By.ID, "create-rule")
    # the page's own logout form carries a valid CSRF value: reuse it for a write, as a crafty reader would
    before = lab_site.site.cloud().list_groups()
    ui.driver.execute_script(
        "var f = document.querySelector('form[action=\"/ui/logout\"]');"
        "f.action = '/ui/groups'; var i = document.createElement('input');"
        "i.name = 'name'; i.value = 'by-reader'; f.appendChild(i); f.submit();"
    )
    ui.wait_text("Not allowed", "h1")
    assert "reader" in ui.text()
    assert lab_site.site.cloud().list_groups() == before


def test_drop_log_page_shows_new_records_live(ui: Ui, lab_site: Any, tmp_path: Path) -> None:
    """The live view against the agent's file format (the agent writing it from real frames is the drop
    log feature's own test): records appended while the page is open appear without a reload, as text."""
    import json

    from guestwall.api.ui.optional import DROP_LOG
    from guestwall.api.ui.sources import read_log

    path = tmp_path / "packets.jsonl"
    alice, bob = lab_site.lab["alice"], lab_site.lab["bob"]
    projects = {alice.portdev: "acme", bob.portdev: "other"}

    def line(n: int, port: str, src: str) -> str:
        row = {
            "time": f"2026-12-06T13:00:0{n}Z",
            "host": "h1",
            "port": port,
            "direction": "in",
            "verdict": "drop",
            "filter": "gw-provider",
            "rule": 1,
            "src": src,
            "dst": alice.ipv4,
            "protocol": "tcp",
            "dport": 22,
        }
        return json.dumps(row) + "\n"

    path.write_text(line(1, alice.portdev, "203.0.113.7"))
    extras = lab_site.site.extras
    extras[DROP_LOG] = lambda query: read_log(str(path), query, lambda dev: projects.get(dev, ""))
    try:
        ui.login("tok-acme")
        ui.open("/ui/log")
        assert "203.0.113.7" in ui.text("#drop-log")
        with path.open("a") as f:
            f.write(line(2, bob.portdev, "198.51.100.2"))  # another project's port: never shown here
            f.write(line(3, alice.portdev, "<img src=x onerror=alert(1)>"))
        ui.wait_text("<img src=x onerror=alert(1)>", "#drop-log", timeout=10)
        assert "198.51.100.2" not in ui.text("#drop-log")
        assert not ui.driver.find_elements(By.CSS_SELECTOR, "#drop-log img")  # text, not markup
        ui.screenshot("log-live")
    finally:
        extras.pop(DROP_LOG, None)


def test_keyboard_alone_creates_a_group(ui: Ui, lab_site: Any) -> None:
    """Tab order reaches the skip link, the navigation and the form; Enter submits it."""
    from selenium.webdriver.common.keys import Keys

    ui.login("tok-acme")
    ui.open("/ui/groups")
    body = ui.driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    assert ui.driver.switch_to.active_element.text == "Skip to content"
    seen = []
    for _ in range(40):
        ui.driver.switch_to.active_element.send_keys(Keys.TAB)
        active = ui.driver.switch_to.active_element
        seen.append(active.get_attribute("href") or active.get_attribute("name") or active.tag_name)
        if active.get_attribute("id") == "name":
            break
    assert any(str(h).endswith("/ui/ports") for h in seen) and seen[-1] == "name", seen
    ui.driver.switch_to.active_element.send_keys("by-keyboard", Keys.ENTER)
    ui.wait_text("Security group 'by-keyboard' created")


def test_screenshots_of_every_page(ui: Ui, lab_site: Any) -> None:
    ui.login("tok-admin")
    alice = lab_site.lab["alice"]
    pages = {
        "overview": "/ui/",
        "ports": "/ui/ports",
        "group": f"/ui/groups/{group_id(lab_site, 'base')}",
        "filters": "/ui/filters",
        "filter": "/ui/filters/clean-traffic",
        "log": "/ui/log",
        "networks": "/ui/networks",
    }
    for name, path in pages.items():
        ui.open(path)
        assert ui.driver.find_elements(By.TAG_NAME, "h1"), name
        ui.screenshot(name)
    ui.open(
        f"/ui/ports/{alice.portdev}?direction=out&packet=smac%3D{alice.mac}+src%3D192.0.2.66+udp+dport%3D53"
    )
    assert "DROP" in ui.text("#sim-result")
    ui.screenshot("port-simulate")
    for name, path in (("overview", "/ui/"), ("group", pages["group"])):
        ui.driver.set_window_size(*PHONE)
        ui.open(path)
        inner = ui.driver.execute_script("return window.innerWidth")
        width = ui.driver.execute_script("return document.documentElement.scrollWidth")
        wide = ui.driver.execute_script(
            "return Array.from(document.querySelectorAll('body *')).filter("
            "e => e.getBoundingClientRect().right > window.innerWidth + 1 && !(e.parentElement && e.parentElement.closest('.table-wrap')))"
            ".map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 5)"
        )
        assert width <= inner, (
            name,
            width,
            inner,
            wide,
        )  # wide tables scroll inside their frame, not the page
        ui.screenshot(f"phone-{name}", PHONE)
    produced = sorted(p.name for p in ui.shots.glob("*.png"))
    assert {"overview.png", "ports.png", "port.png", "groups.png", "blocks.png", "phone-overview.png"} <= set(
        produced
    )
