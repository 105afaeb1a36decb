"""The drop log's pure parts: nfnetlink_log messages decoded, records built (port by direction, the rule
by the prefix's id), the file rotated, ``guestwall log`` filtering and text, the [log] configuration."""

from __future__ import annotations

import json
import socket
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from guestwall.agent.droplog import LogWriter, record
from guestwall.agent.nflog import (
    A_HDR,
    A_HWHEADER,
    A_INDEV,
    A_PAYLOAD,
    A_PHYSIN,
    A_PREFIX,
    MSG_PACKET,
    parse_messages,
)
from guestwall.cli.log import format_text, log, parse_since
from guestwall.compile.droplog import LogRule
from guestwall.config import ConfigError, parse_config


def attr(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def message(prefix: str, payload: bytes, indev: int = 0, physin: int = 0, ethertype: int = 0x0800) -> bytes:
    body = struct.pack("=BBH", socket.AF_BRIDGE, 0, socket.htons(27))
    body += attr(A_HDR, struct.pack("!HBB", ethertype, 0, 0))
    body += attr(A_PREFIX, prefix.encode() + b"\0")
    if indev:
        body += attr(A_INDEV, struct.pack("!I", indev))
    if physin:
        body += attr(A_PHYSIN, struct.pack("!I", physin))
    body += attr(A_HWHEADER, bytes.fromhex("5254000000015254000000030800"))
    body += attr(A_PAYLOAD, payload)
    return struct.pack("=IHHII", 16 + len(body), MSG_PACKET, 0, 0, 0) + body


def udp4(src: str, dst: str, sport: int, dport: int) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst)
    )
    return header + struct.pack("!HHHH", sport, dport, 8, 0)


RULE = LogRule("abc", "out", "l3-out", "drop", "no-ip-spoofing", 3, 1000, "ipv4-ip", "l3o.x")


def test_messages_decode_and_records_name_the_rule_and_port() -> None:
    data = message("gw:abc", udp4("10.0.0.66", "10.0.0.10", 40000, 53), indev=5, physin=7)
    data += message("gw:gone", b"\x60" + b"\0" * 39, indev=7, ethertype=0x86DD)
    first, second = parse_messages(data)
    assert (first.prefix, first.indev, first.physin) == ("gw:abc", 5, 7)
    assert (first.src, first.dst, first.protocol, first.sport, first.dport) == (
        "10.0.0.66",
        "10.0.0.10",
        "udp",
        40000,
        53,
    )
    assert (first.src_mac, first.dst_mac) == ("52:54:00:00:00:03", "52:54:00:00:00:01")
    row = record(first, {"abc": RULE}, {5: "br0", 7: "vnet2"}, "h1")
    assert row["port"] == "vnet2"  # behind the bridge: the physical port, not br0
    assert (row["direction"], row["verdict"], row["filter"], row["rule"]) == (
        "out",
        "drop",
        "no-ip-spoofing",
        3,
    )
    unknown = record(second, {"abc": RULE}, {7: "vnet2"}, "h1")
    assert unknown["rule_id"] == "gone" and "filter" not in unknown and unknown["src"] == "::"


def test_rotation_keeps_the_newest_files(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    writer = LogWriter(str(path), max_bytes=100, keep=2)
    for i in range(10):
        writer.write([{"n": i, "pad": "x" * 60}])
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl", "p.jsonl.1", "p.jsonl.2"]
    assert (
        json.loads((tmp_path / "p.jsonl.2").read_text().splitlines()[0])["n"]
        < json.loads((tmp_path / "p.jsonl.1").read_text().splitlines()[0])["n"]
    )


def test_log_command_filters_by_port_and_time(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    rows = [
        {
            "time": "2026-01-01T00:00:00.000Z",
            "port": "vnet0",
            "direction": "out",
            "verdict": "drop",
            "filter": "f",
            "rule": 1,
            "protocol": "udp",
            "src": "1.1.1.1",
            "dst": "2.2.2.2",
            "sport": 1,
            "dport": 2,
        },
        {
            "time": "2026-06-01T00:00:00.000Z",
            "port": "vnet1",
            "direction": "in",
            "verdict": "accept",
            "filter": "g",
            "rule": 2,
        },
        {"time": "2026-06-01T00:00:01.000Z", "skipped": 40, "verdict": "drop", "filter": "f", "rule": 1},
    ]
    (tmp_path / "p.jsonl.1").write_text(json.dumps(rows[0]) + "\n")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[1:]) + "{cut")
    run = CliRunner().invoke
    out = run(log, ["--file", str(path), "--format", "json"]).output.splitlines()
    assert [json.loads(line)["time"] for line in out] == [r["time"] for r in rows]
    assert len(run(log, ["--file", str(path), "--port", "vnet0"]).output.splitlines()) == 1
    assert len(run(log, ["--file", str(path), "--since", "2026-03-01"]).output.splitlines()) == 2
    assert (
        format_text(rows[0])
        == "2026-01-01T00:00:00.000Z  vnet0 out DROP filter f rule 1: udp 1.1.1.1:1 -> 2.2.2.2:2"
    )
    assert "skipped 40 (DROP by filter f rule 1" in format_text(rows[2])
    bad = run(log, ["--file", str(path), "--since", "yesterday"])
    assert bad.exit_code == 1 and "--since 'yesterday'" in bad.output


def test_log_command_names_a_log_it_cannot_read(tmp_path: Path) -> None:
    unreadable = tmp_path / "a-directory"
    unreadable.mkdir()
    result = CliRunner().invoke(log, ["--file", str(unreadable)])
    assert result.exit_code == 1 and not isinstance(result.exception, OSError)
    assert f"cannot read the drop log {unreadable}: Is a directory" in result.output


def test_since_forms() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert parse_since("10m", now) == datetime(2026, 12, 6, 11, 50, tzinfo=UTC)
    assert parse_since("0", now) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_since("2026-12-06T11:00:00+01:00", now) == datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def test_log_configuration() -> None:
    config = parse_config(
        {"log": {"group": 5, "rate": 10, "path": "/tmp/x.jsonl"}, "counters": {"rules": True}}
    )
    options = config.options()
    assert (options.log.group, options.log.rate, options.log.burst, options.counters) == (5, 10, 25, True)
    with pytest.raises(ConfigError, match=r"log\.group"):
        parse_config({"log": {"group": 70000}})
    with pytest.raises(ConfigError, match=r"log\.path"):
        parse_config({"log": {"path": "relative"}})
    with pytest.raises(ConfigError, match=r"counters\.rules"):
        parse_config({"counters": {"rules": "yes"}})


def test_log_mode_is_part_of_the_group_and_checked() -> None:
    from uuid import UUID

    from guestwall.errors import InstantiationError
    from guestwall.instantiate import instantiate
    from guestwall.model import Binding, FilterRef, MacAddress, Owner, make_params
    from guestwall.nwfilter import builtin_filters
    from guestwall.store.records import binding_params

    filters = {f.name: f for f in builtin_filters()}

    def program(**params: str):  # type: ignore[no-untyped-def]
        ref = FilterRef("clean-traffic", make_params({k: (v,) for k, v in params.items()}))
        return instantiate(Binding(Owner("vm", UUID(int=1)), "vnet0", MacAddress(0x525400000001), ref), filters)

    plain, drop, every = (
        program(IP="10.0.0.1"),
        program(IP="10.0.0.1", GUESTWALL_LOG="drop"),
        program(IP="10.0.0.1", GUESTWALL_LOG="all"),
    )
    assert (plain.log, drop.log, every.log) == ("", "drop", "all")
    assert len({plain.group, drop.group, every.group}) == 3
    with pytest.raises(InstantiationError, match="GUESTWALL_LOG must be one of drop, all, not loud"):
        program(IP="10.0.0.1", GUESTWALL_LOG="loud")
    ref = FilterRef("clean-traffic", make_params({"GUESTWALL_LOG": ("all",), "IP": ("1.2.3.4",)}))
    stored = Binding(Owner("vm", UUID(int=1)), "vnet0", "52:54:00:00:00:01", ref)
    assert binding_params(stored) == "GUESTWALL_LOG,GUESTWALL_LOG=all,IP"
