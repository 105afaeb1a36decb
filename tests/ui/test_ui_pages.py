"""The dashboard's pages over HTTP, with a recording backend: sessions, CSRF, roles, tenants, escaping,
validation messages, headers. (The browser tests, with real enforcement, are in test_ui_browser.py.)"""

from __future__ import annotations

import re
from ipaddress import ip_address
from typing import Any

from guestwall.api.ui.session import csrf_value
from guestwall.api.ui.web import SECURITY_HEADERS
from guestwall.cloud.rules import RuleSpec
from guestwall.model.cloud import Port, RuleDirection

XSS = "<script>alert(1)</script>"


def group_ids(site: Any, project: str | None = None) -> dict[str, str]:
    return {g.name: g.id for g in site.cloud().list_groups(project)}


def test_pages_need_a_session_and_login_refuses_unknown_tokens(site: Any, as_user: Any) -> None:
    anonymous = as_user(None)
    r = anonymous.get("/ui/groups")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?next=/ui/groups"
    page = anonymous.get("/ui/login")
    assert page.status_code == 200
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce is not None
    refused = anonymous.client.post("/ui/login", data={"csrf": nonce.group(1), "token": "nope"})
    assert refused.status_code == 401 and "unknown or revoked" in refused.text
    page = anonymous.get("/ui/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce is not None
    ok = anonymous.client.post(
        "/ui/login", data={"csrf": nonce.group(1), "token": site.tokens["tok-acme"], "next": "/ui/groups"}
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/ui/groups"
    cookie = ok.headers["set-cookie"]
    assert f"gw_session={site.tokens['tok-acme']}" in cookie
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "Path=/ui" in cookie
    assert site.tokens["tok-acme"] not in ok.headers["location"]


def test_login_form_needs_its_own_nonce(site: Any, as_user: Any) -> None:
    anonymous = as_user(None)
    r = anonymous.client.post("/ui/login", data={"csrf": "made-up", "token": site.tokens["tok-admin"]})
    assert r.status_code == 403
    assert "gw_session" not in r.headers.get("set-cookie", "")


def test_login_never_redirects_to_another_site(site: Any, as_user: Any) -> None:
    for target in ("https://evil.example/", "//evil.example/ui/", "/ui/\\evil", "/elsewhere"):
        anonymous = as_user(None)
        page = anonymous.get("/ui/login", params={"next": target})
        nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert nonce is not None
        r = anonymous.client.post(
            "/ui/login", data={"csrf": nonce.group(1), "token": site.tokens["tok-acme"], "next": target}
        )
        assert r.headers["location"] == "/ui/"


def test_every_page_has_the_security_headers(site: Any, as_user: Any) -> None:
    admin = as_user("tok-admin")
    for path in (
        "/ui/",
        "/ui/ports",
        "/ui/groups",
        "/ui/blocks",
        "/ui/filters",
        "/ui/filters/clean-traffic",
        "/ui/log",
        "/ui/login",
        "/ui/static/ui.css",
        "/ui/groups/nope",
        "/ui/networks",
        "/ui/log/feed",
    ):
        r = admin.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (path, name)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "unsafe-inline" not in r.headers["content-security-policy"]
        if r.headers.get("content-type", "").startswith("text/html"):
            assert "<script>" not in r.text and "onclick" not in r.text, path  # no inline scripts


def test_group_and_rule_created_and_deleted_with_confirmations(site: Any, as_user: Any) -> None:
    member = as_user("tok-acme")
    r = member.post("/ui/groups", {"name": "web", "description": "front"})
    assert r.status_code == 303
    group_id = group_ids(site)["web"]
    assert r.headers["location"] == f"/ui/groups/{group_id}"
    page = member.client.get(r.headers["location"], cookies=r.cookies)
    assert "Security group &#39;web&#39; created in project acme" in page.text
    r = member.post(
        f"/ui/groups/{group_id}/rules",
        {"direction": "ingress", "protocol": "tcp", "port_range": "22", "remote_ip": "10.0.0.0/8"},
    )
    assert r.status_code == 303
    rules = site.cloud().get_group(group_id).rules
    added = [x for x in rules if x.port_min == 22]
    assert len(added) == 1 and str(added[0].remote_cidr) == "10.0.0.0/8"
    page = member.get(f"/ui/groups/{group_id}")
    assert "10.0.0.0/8" in page.text
    r = member.post(f"/ui/groups/{group_id}/rules/{added[0].id}/delete", {})
    assert r.status_code == 303
    assert all(x.port_min != 22 for x in site.cloud().get_group(group_id).rules)
    r = member.post(f"/ui/groups/{group_id}/delete", {})
    assert r.status_code == 303 and "web" not in group_ids(site)


def test_invalid_rules_are_refused_inline_with_the_validators_messages(site: Any, as_user: Any) -> None:
    member = as_user("tok-acme")
    group_id = site.cloud().create_group("web", "acme").value.id
    before = site.cloud().get_group(group_id).rules
    cases = [
        ({"protocol": "tcp", "remote_ip": "10.0.0.1/8"}, "host bits are set (did you mean 10.0.0.0/8?)"),
        ({"protocol": "tcp", "port_range": "0:10"}, "ports are 1 to 65535"),
        ({"protocol": "any", "port_range": "22"}, "a port range needs protocol tcp, udp or sctp"),
        ({"protocol": "icmp", "icmp_code": "3"}, "a code needs its type"),
        ({"ethertype": "IPv6", "remote_ip": "10.0.0.0/8"}, "is IPv4 but the rule&#39;s ethertype is IPv6"),
        ({"direction": "sideways"}, "invalid direction &#39;sideways&#39;"),
        ({}, "already"),  # the group's own egress rule exists: a duplicate
    ]
    for fields, message in cases:
        r = member.post(f"/ui/groups/{group_id}/rules", {"direction": "egress", **fields})
        assert r.status_code in (400, 409), fields
        assert message in r.text, (fields, r.text[-2000:])
        assert 'role="alert"' in r.text
    assert site.cloud().get_group(group_id).rules == before


def test_xss_group_name_is_text(site: Any, as_user: Any) -> None:
    member = as_user("tok-acme")
    r = member.post("/ui/groups", {"name": XSS})
    assert r.status_code == 303
    for path in ("/ui/groups", r.headers["location"]):
        page = member.get(path)
        assert XSS not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_forged_posts_are_refused_and_change_nothing(site: Any, as_user: Any) -> None:
    member = as_user("tok-acme")
    cases = [
        ({"name": "forged"}, {}),  # no CSRF value
        ({"name": "forged", "csrf": "0" * 64}, {}),  # a wrong one
        ({"name": "forged", "csrf": csrf_value(site.tokens["tok-other"])}, {}),  # another session's
        ({"name": "forged", "csrf": csrf_value(site.tokens["tok-acme"])}, {"origin": "http://evil.example"}),
        ({"name": "forged", "csrf": csrf_value(site.tokens["tok-acme"])}, {"sec-fetch-site": "cross-site"}),
    ]
    for data, headers in cases:
        r = member.post("/ui/groups", data, csrf=False, headers=headers)
        assert r.status_code == 403, (data, headers)
    assert "forged" not in group_ids(site)
    anonymous = as_user(None)
    r = anonymous.post("/ui/groups", {"name": "forged"})
    assert r.status_code == 401 and "forged" not in group_ids(site)


def test_reader_cannot_write(site: Any, as_user: Any) -> None:
    group_id = site.cloud().create_group("web", "acme").value.id
    reader = as_user("tok-acme-reader")
    page = reader.get("/ui/groups")
    assert page.status_code == 200 and "web" in page.text
    assert 'id="create-group"' not in page.text
    assert 'id="create-rule"' not in reader.get(f"/ui/groups/{group_id}").text
    attempts = [
        ("/ui/groups", {"name": "mine"}),
        (f"/ui/groups/{group_id}/rules", {"direction": "ingress", "protocol": "tcp"}),
        (f"/ui/groups/{group_id}/delete", {}),
    ]
    before = site.cloud().list_groups()
    for path, data in attempts:
        r = reader.post(path, data)
        assert r.status_code == 403 and "reader" in r.text
    assert site.cloud().list_groups() == before


def test_tenants_see_only_their_project(site: Any, as_user: Any) -> None:
    cloud = site.cloud()
    acme = cloud.create_group("acme-web", "acme").value
    cloud.create_rule(acme.id, RuleSpec(RuleDirection.INGRESS, protocol="tcp", ports=(22, 22)))
    cloud.create_port(Port("", "vnet7", "52:54:00:00:00:07", "acme", security_groups=(acme.id,)))
    other = as_user("tok-other")
    assert "acme-web" not in other.get("/ui/groups").text
    assert "vnet7" not in other.get("/ui/ports").text
    for path in (
        f"/ui/groups/{acme.id}",
        "/ui/ports/vnet7",
        f"/ui/filters/gw-sg-{acme.id.replace('-', '')[:16]}",
    ):
        assert other.get(path).status_code == 404, path
    refused = [
        (f"/ui/groups/{acme.id}/rules", {"direction": "ingress"}),
        (f"/ui/groups/{acme.id}/delete", {}),
    ]
    for path, data in refused:
        assert other.post(path, data).status_code == 404
    assert len(cloud.get_group(acme.id).rules) == 5  # the 4 a new group gets, and tcp 22
    # a rule may not name another project's group as its remote
    mine = cloud.create_group("mine", "other").value
    r = other.post(f"/ui/groups/{mine.id}/rules", {"direction": "ingress", "remote_group": acme.id})
    assert r.status_code == 400 and "unknown security group" in r.text
    overview = other.get("/ui/").text
    assert "acme" not in overview
    admin = as_user("tok-admin")
    assert "acme-web" in admin.get("/ui/groups").text and "vnet7" in admin.get("/ui/ports").text


def test_admin_only_pages(site: Any, as_user: Any) -> None:
    member = as_user("tok-acme")
    assert member.get("/ui/blocks").status_code == 403
    assert member.post("/ui/blocks", {"cidr": "203.0.113.0/24"}).status_code == 403
    assert 'href="/ui/blocks"' not in member.get("/ui/").text
    admin = as_user("tok-admin")
    r = admin.post("/ui/blocks", {"cidr": "203.0.113.0/24", "protocol": "tcp", "port_range": "22"})
    assert r.status_code == 303
    assert [str(b.cidr) for b in site.cloud().list_blocks()] == ["203.0.113.0/24"]
    bad = admin.post("/ui/blocks", {"cidr": "203.0.113.1/24"})
    assert bad.status_code == 400 and "did you mean 203.0.113.0/24?" in bad.text
    block_id = site.cloud().list_blocks()[0].id
    assert admin.post(f"/ui/blocks/{block_id}/delete", {}).status_code == 303
    assert site.cloud().list_blocks() == []


def test_filters_read_as_dumpxml_and_only_admins_edit(site: Any, as_user: Any) -> None:
    from guestwall.services.filters import find_filter

    member = as_user("tok-acme")
    page = member.get("/ui/filters/clean-traffic")
    assert page.status_code == 200 and "<textarea" not in page.text
    xml = find_filter(site.store, "clean-traffic").xml
    escaped = xml.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
    assert escaped in page.text
    new = "<filter name='web-only' chain='ipv4'><rule action='accept' direction='in'><tcp dstportstart='80'/></rule></filter>"
    assert member.post("/ui/filters", {"xml": new}).status_code == 403
    admin = as_user("tok-admin")
    r = admin.post("/ui/filters", {"xml": new})
    assert r.status_code == 303 and r.headers["location"] == "/ui/filters/web-only"
    bad = admin.post("/ui/filters/web-only", {"xml": new.replace("80", "99999")})
    assert bad.status_code == 400 and "Failed to define network filter web-only" in bad.text
    assert "80" in find_filter(site.store, "web-only").xml
    assert admin.post("/ui/filters/web-only/delete", {}).status_code == 303


def test_pagination_and_filter_text(site: Any, as_user: Any) -> None:
    from guestwall.cloud.facade import Cloud

    cloud: Cloud = site.cloud()
    cloud.put_ports([Port("", f"tap{i:03}", f"52:54:00:00:01:{i:02x}", "acme") for i in range(120)])
    member = as_user("tok-acme")
    first = member.get("/ui/ports").text
    assert "1–50 of 120" in first and "tap049" in first and "tap050" not in first
    third = member.get("/ui/ports", params={"page": "3"}).text
    assert "101–120 of 120" in third and "tap119" in third
    found = member.get("/ui/ports", params={"q": "tap11"}).text
    assert "1–10 of 10" in found
    # the text is matched literally, not as an SQL pattern
    assert "0–0 of 0" in member.get("/ui/ports", params={"q": "%_"}).text


def test_simulate_on_the_port_page(site: Any, as_user: Any) -> None:
    cloud = site.cloud()
    web = cloud.create_group("web", "acme").value
    address = ip_address("10.0.0.3")
    cloud.create_port(
        Port("", "vnet3", "52:54:00:00:00:03", "acme", fixed_ips=(address,), security_groups=(web.id,))
    )
    member = as_user("tok-acme")
    packet = "smac=52:54:00:00:00:09 src=10.0.0.9 dst=10.0.0.3 tcp dport=22"
    dropped = member.get("/ui/ports/vnet3", params={"direction": "in", "packet": packet}).text
    assert "DROP" in dropped and "gw-default-drop" in dropped
    cloud.create_rule(web.id, RuleSpec(RuleDirection.INGRESS, protocol="tcp", ports=(22, 22)))
    accepted = member.get("/ui/ports/vnet3", params={"direction": "in", "packet": packet}).text
    assert "ACCEPT" in accepted and "l3-in: accept: accept by filter gw-sg-" in accepted
    bad = member.get("/ui/ports/vnet3", params={"direction": "in", "packet": "tcp dport=banana"}).text
    assert "packet:" in bad and 'role="alert"' in bad
    assert "Rule program" in accepted and "gw-default-drop" in accepted


def test_drop_log_and_hosts_say_not_available(site: Any, as_user: Any) -> None:
    from dataclasses import replace

    from guestwall.api.ui.deps import STATE_KEY, from_api_state

    # an installation without the multi-host status and the drop log (whether this checkout has them or not)
    setattr(site.app.state, STATE_KEY, replace(from_api_state(site.app.state.api), hosts=None, drop_log=None))
    member = as_user("tok-acme")
    assert "Drop log: not available" in member.get("/ui/log").text
    overview = member.get("/ui/").text
    assert "Hosts: not available" in overview and "Drop log: not available" in overview
    assert member.get("/ui/log/feed").json() == {"available": False, "records": []}


def test_drop_log_when_present_is_filtered_by_project(site: Any, as_user: Any) -> None:
    from guestwall.api.ui import optional

    records = [
        optional.DropRecord(
            i,
            "12:00:0" + str(i),
            "h1",
            dev,
            project,
            "out",
            "drop",
            "gw-provider rule 1",
            "10.0.0.9",
            "203.0.113.5",
            "tcp",
        )
        for i, (dev, project) in enumerate([("vnet1", "acme"), ("vnet2", "other"), ("vnet1", "acme")], 1)
    ]
    site.extras[optional.DROP_LOG] = lambda q: [r for r in records if r.seq > q.after and q.port in r.port]
    site.extras[optional.HOSTS] = lambda: [
        optional.HostView("h1", "41", "0", True),
        optional.HostView("h2", "12", "29", False, "nft failed"),
    ]
    member = as_user("tok-acme")
    feed = member.get("/ui/log/feed", params={"after": "1"}).json()
    assert [r["seq"] for r in feed["records"]] == [3]
    page = member.get("/ui/log").text
    assert "vnet1" in page and "vnet2" not in page
    overview = member.get("/ui/").text
    assert "host h2 is down or failing: nft failed" in overview


def test_shared_groups_are_seen_and_used_not_changed_by_other_projects(site: Any, as_user: Any) -> None:
    cloud = site.cloud()
    common = cloud.create_group("common", "acme", shared=True).value
    mine = cloud.create_group("mine", "other").value
    other = as_user("tok-other")
    assert "common" in other.get("/ui/groups").text
    page = other.get(f"/ui/groups/{common.id}")
    assert page.status_code == 200 and 'id="create-rule"' not in page.text
    before = cloud.get_group(common.id).rules
    for path in (f"/ui/groups/{common.id}/rules", f"/ui/groups/{common.id}/delete"):
        r = other.post(path, {"direction": "ingress", "protocol": "tcp"})
        assert r.status_code == 403 and "belongs to another project" in r.text
    assert cloud.get_group(common.id).rules == before
    r = other.post(f"/ui/groups/{mine.id}/rules", {"direction": "ingress", "remote_group": common.id})
    assert r.status_code == 303  # a shared group may be a rule's remote


def test_drop_log_file_is_read_newest_first_filtered_and_by_project(tmp_path: Any) -> None:
    import json

    from guestwall.api.ui.optional import LogQuery
    from guestwall.api.ui.sources import read_log

    path = tmp_path / "packets.jsonl"
    rows = [
        {
            "time": "t1",
            "host": "h1",
            "port": "vnet1",
            "direction": "out",
            "verdict": "drop",
            "filter": "gw-provider",
            "rule": 1,
            "src": "10.0.0.9",
            "dst": "203.0.113.5",
            "protocol": "tcp",
            "dport": 22,
        },
        {
            "time": "t2",
            "host": "h1",
            "port": "vnet2",
            "direction": "in",
            "verdict": "drop",
            "filter": "clean-traffic",
            "rule": 3,
            "src_mac": "52:54:00:00:00:09",
            "dst_mac": "52:54:00:00:00:02",
            "ethertype": "0x0806",
        },
        {"time": "t3", "host": "h1", "port": "vnet1", "skipped": 12, "filter": "gw-provider", "rule": 1},
    ]
    (tmp_path / "packets.jsonl.1").write_text(json.dumps(rows[0]) + "\n")
    path.write_text(json.dumps(rows[1]) + "\n{cut by a crash\n" + json.dumps(rows[2]) + "\n")
    projects = {"vnet1": "acme"}.get
    found = read_log(str(path), LogQuery(), lambda dev: projects(dev) or "")
    assert [r.time for r in found] == ["t3", "t2", "t1"]
    assert found[2].rule == "gw-provider rule 1" and found[2].destination == "203.0.113.5:22"
    assert found[2].project == "acme" and found[1].project == ""
    assert found[0].rule.startswith("skipped 12 beyond the limit")
    assert [r.time for r in read_log(str(path), LogQuery(port="vnet1"), lambda d: "")] == ["t3", "t1"]
    assert [r.time for r in read_log(str(path), LogQuery(rule="clean-traffic"), lambda d: "")] == ["t2"]
    newest = found[0].seq
    assert read_log(str(path), LogQuery(after=newest), lambda d: "") == []


def test_host_rows_say_lag_and_down(site: Any) -> None:
    from dataclasses import dataclass
    from datetime import UTC, datetime, timedelta

    from guestwall.api.ui.sources import host_view

    @dataclass
    class Status:
        name: str
        applied_revision: int
        heartbeat_at: datetime
        last_error: str | None = None
        last_repair_at: datetime | None = None

    now = datetime.now(UTC)
    ok = host_view(Status("h1", 40, now - timedelta(seconds=3)), 41, now, 30)
    assert ok.healthy and ok.lag == "1 revision(s)" and ok.heartbeat == "3 s ago"
    down = host_view(Status("h2", 12, now - timedelta(minutes=5)), 41, now, 30)
    assert not down.healthy and down.error == "no report for 5 min"
    failing = host_view(Status("h3", 41, now, "nft: No such file"), 41, now, 30)
    assert not failing.healthy and failing.error == "nft: No such file"


def test_networks_are_shown_to_admins_as_net_dumpxml(site: Any, as_user: Any) -> None:
    from guestwall.networks import service

    xml = (
        "<network><name>lab-net</name><bridge name='gwbr7'/><forward mode='nat'/>"
        "<ip address='192.168.77.1' netmask='255.255.255.0'/></network>"
    )
    service.define(site.store, xml)
    admin = as_user("tok-admin")
    listing = admin.get("/ui/networks").text
    assert "lab-net" in listing and "gwbr7" in listing and "inactive" in listing
    page = admin.get("/ui/networks/lab-net").text
    dumped = service.get(site.store, "lab-net").current_xml()
    assert dumped.replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;") in page
    assert admin.get("/ui/networks/nope").status_code == 404
    member = as_user("tok-acme")
    assert member.get("/ui/networks").status_code == 403
    assert 'href="/ui/networks"' not in member.get("/ui/").text


def test_hosts_from_the_agents_reports(site: Any, as_user: Any) -> None:
    from guestwall.store.hosts import Report, report

    admin = as_user("tok-admin")
    assert "No host has reported yet" in admin.get("/ui/").text
    report(site.store, "h1", Report(applied_revision=site.store.generation(), started=True))
    report(site.store, "h2", Report(applied_revision=0, error="nft: Operation not permitted"))
    overview = admin.get("/ui/").text
    assert "h1" in overview and "host h2 is down or failing: nft: Operation not permitted" in overview


def test_logged_blocks_and_rules(site: Any, as_user: Any) -> None:
    admin = as_user("tok-admin")
    r = admin.post("/ui/blocks", {"cidr": "198.51.100.0/24", "log": "on"})
    assert r.status_code == 303
    assert [b.log for b in site.cloud().list_blocks()] == [True]
    everything = admin.post("/ui/blocks", {"cidr": "0.0.0.0/0"})
    assert everything.status_code == 400 and 'role="alert"' in everything.text
    assert admin.post("/ui/blocks", {"cidr": "0.0.0.0/0", "force": "on"}).status_code == 303
    group = site.cloud().create_group("web", "acme").value
    member = as_user("tok-acme")
    r = member.post(f"/ui/groups/{group.id}/rules", {"direction": "ingress", "protocol": "tcp", "log": "on"})
    assert r.status_code == 303
    assert [x.log for x in site.cloud().get_group(group.id).rules if x.protocol == "tcp"] == [True]
