"""The live drop log end to end: an admin blocks a CIDR with logging in the dashboard, a guest of that CIDR
tries to connect, and the record the agent writes from the kernel's log group appears on the open drop log
page (no reload) for the project whose port was protected; another project's page stays empty."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

import pytest
from harness import Ui, browser_unavailable, chromium, screenshot_dir, serve
from selenium.webdriver.common.by import By
from uisite import Site, make_site

from guestwall.cloud.conntrack import ConntrackTool
from guestwall.cloud.facade import Cloud
from guestwall.dataplane.backend import open_backend
from guestwall.lab import Lab, lab_down
from guestwall.lab.netns import stop_process
from guestwall.lab.traffic import tcp_connect, tcp_server
from guestwall.model.cloud import Port
from guestwall.store import open_store
from netns_fixtures import build_lab, needs_netns

pytestmark = [
    *needs_netns,
    pytest.mark.skipif(browser_unavailable() is not None, reason=browser_unavailable() or ""),
]


@dataclass
class LoggedSite:
    lab: Lab
    site: Site
    base: str
    log: Path


def _agent(lab: Lab, url: str, env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    """``guestwall agent`` in the lab's host namespace, returned once it says READY (sd_notify)."""
    name = f"gw-ui-agent-{os.getpid()}"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind("\0" + name)
    notify.settimeout(0.2)
    out = open(workdir / "agent.log", "wb")  # noqa: SIM115 (closed with the process below)
    argv = [sys.executable, "-m", "guestwall", "agent", "--netns", lab.host_netns, "--db", url]
    proc = subprocess.Popen(
        argv, stdout=out, stderr=subprocess.STDOUT, env={**env, "NOTIFY_SOCKET": "@" + name}
    )
    out.close()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"agent exited: {(workdir / 'agent.log').read_text()[-2000:]}")
            try:
                if b"READY=1" in notify.recv(256):
                    return proc
            except TimeoutError:
                continue
        raise AssertionError(f"agent not ready: {(workdir / 'agent.log').read_text()[-2000:]}")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        notify.close()


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedSite]:
    workdir = tmp_path_factory.mktemp("ui-droplog")
    log = workdir / "packets.jsonl"
    config = workdir / "guestwall.toml"
    config.write_text(f'[log]\npath = "{log}"\ngroup = 31\n[counters]\nrules = true\n')
    saved = os.environ.get("GUESTWALL_CONFIG")
    os.environ["GUESTWALL_CONFIG"] = str(config)  # the server (in this process) reads the same [log] path
    lab = build_lab(2, "d")
    url = f"sqlite:///{workdir}/guestwall.db"
    store = open_store(url)
    agent = None
    try:
        site = make_site(store, open_backend(lab.host_netns), lab.host_netns)
        cloud = Cloud(store, site.backend, ConntrackTool(lab.host_netns))
        web = cloud.create_group("web", "acme").value
        out = cloud.create_group("out", "other").value
        for guest, project, group in (("alice", "acme", web.id), ("bob", "other", out.id)):
            g = lab[guest]
            ips = (ip_address(g.ipv4), ip_address(g.ipv6))
            cloud.create_port(Port("", g.portdev, g.mac, project, guest, ips, security_groups=(group,)))
        agent = _agent(lab, url, {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, workdir)
        with serve(site.app) as running:
            yield LoggedSite(lab, site, running.base, log)
    finally:
        if agent is not None:
            stop_process(agent, 10)
        store.close()
        lab_down(lab.prefix)
        if saved is None:
            os.environ.pop("GUESTWALL_CONFIG", None)
        else:
            os.environ["GUESTWALL_CONFIG"] = saved


def test_blocked_connection_appears_in_the_live_log(logged: LoggedSite, tmp_path: Path) -> None:
    lab, tokens = logged.lab, logged.site.tokens
    shots = screenshot_dir(tmp_path)
    alice, bob = lab["alice"], lab["bob"]
    with chromium() as admin_browser, chromium() as member_browser, chromium() as other_browser:
        admin = Ui(admin_browser, logged.base, shots, tokens)
        admin.login("tok-admin")
        admin.open("/ui/blocks")
        admin.fill("create-block", cidr=f"{bob.ipv4}/32", log="yes", description="bob is noisy")
        admin.submit("create-block")
        assert "logged" in admin.text(".flash") and "yes" in admin.text("#blocks")
        member = Ui(member_browser, logged.base, shots, tokens)
        member.login("tok-acme")
        member.open("/ui/log")
        assert member.driver.find_elements(By.ID, "drop-log"), member.text()
        other = Ui(other_browser, logged.base, shots, tokens)
        other.login("tok-other")
        other.open("/ui/log")
        with tcp_server(lab, "alice", 8080):
            assert not tcp_connect(lab, "bob", "alice", 8080, timeout=0.5)
        # the page asks every 2 s: the agent's record of the dropped SYN shows up without a reload
        member.wait_text(bob.ipv4, "#drop-log", timeout=15)
        row = member.text("#drop-log tbody tr:first-child")
        assert alice.portdev in row and "drop" in row and "gw-provider" in row, row
        member.screenshot("log-agent")
        time.sleep(2.5)  # one more poll of the other project's page
        assert bob.ipv4 not in other.text("#drop-log")
        # the port's page: its link's traffic, and the kernel's counter on the provider rule that dropped
        admin.open(f"/ui/ports/{alice.portdev}")
        counted = [
            row.text
            for row in admin.driver.find_elements(By.CSS_SELECTOR, "table.program tbody tr")
            if "filter gw-provider" in row.text and "drop" in row.text
        ]
        assert any(re.search(r"\b[1-9]\d* pkts", text) for text in counted), counted
        assert "received" in admin.text("dl.facts")
        admin.screenshot("port-counters")
    assert bob.ipv4 in logged.log.read_text()
