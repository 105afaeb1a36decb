"""Writing commands run by a running agent (agent.control, cli.remote): the same bytes on stdout and stderr
and the same exit status as in a process of their own, relative paths and stdin included; a stale socket,
an agent that ends before it accepted a command, or one killed during it, never lose or half-apply a change.

Real processes throughout: ``python -m guestwall`` against ``guestwall agent`` in a lab's namespace.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from agentkit import STORES, Host, binding_xml, wait_until

from guestwall.cli.remote import ACCEPTED, socket_path
from netns_fixtures import needs_netns

pytestmark = needs_netns

FILTER = """<filter name='ctl-test' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule>
</filter>
"""
RAN = "control socket: ran"
# ids are new in each run, and so are the names of filters made from them (gw-sg-<hex>, gw-port-<hex>)
IDS = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<=gw-sg-)[0-9a-f]{16}|(?<=gw-port-)[0-9a-f]{12}"
)


def cli(host: Host, *args: str, stdin: str | None = None, local: bool = False) -> tuple[int, str, str]:
    """``guestwall ARGS`` as a user runs it, from the host's work directory; (status, stdout, stderr)."""
    env = host.env()
    env.pop("GUESTWALL_LOCAL", None)
    if local:
        env["GUESTWALL_LOCAL"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "guestwall", "--db", host.url, "--netns", host.netns, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=host.workdir,
    )
    return proc.returncode, proc.stdout, proc.stderr


def sequence(host: Host) -> list[tuple[tuple[str, ...], str | None]]:
    """Command lines (with their stdin) that end where they started: successes, failures, usage errors."""
    g0, g1, g2 = host.lab.guests[:3]
    host.write("f.xml", FILTER)
    host.write("bad.xml", "<filter name='x'><rule action='accept' direction='sideways'/></filter>")
    host.write("b0.xml", binding_xml(g0, "ctl-test", {"IP": g0.ipv4}))
    host.write("b1.xml", binding_xml(g1, "ctl-test", {"IP": g1.ipv4}))
    return [
        (("nwfilter-define", "f.xml"), None),
        (("nwfilter-define", "--file", "f.xml", "--format", "json"), None),
        (("nwfilter-define", "-"), FILTER),
        (("nwfilter-define", "bad.xml"), None),
        (("nwfilter-define", "missing.xml"), None),
        (("nwfilter-binding-create", "b0.xml"), None),
        (("nwfilter-binding-create", "b0.xml"), None),
        (("-q", "nwfilter-binding-create", "b1.xml"), None),
        (("nwfilter-binding-create", "--bogus"), None),
        (("nwfilter-binding-delete",), None),
        (("nwfilter-binding-delete", g0.portdev), None),
        (("nwfilter-binding-delete", g0.portdev), None),
        (("nwfilter-binding-delete", "--binding", g1.portdev, "--format", "yaml"), None),
        (("nwfilter-undefine", "ctl-test"), None),
        (("secgroup", "create", "ctl-web", "--format", "json"), None),
        (("secgroup", "rule-create", "ctl-web", "--protocol", "tcp", "--port-range", "22"), None),
        (("secgroup", "rule-create", "ctl-web", "--protocol", "tcp", "--port-range", "99999"), None),
        (
            (
                "port", "create", g2.portdev, "--mac", g2.mac, "--fixed-ip", g2.ipv4,
                "--security-group", "ctl-web",
            ),
            None,
        ),
        (("port", "create", "x0", "--mac", "not-a-mac"), None),
        (("provider", "block", "203.0.113.0/24", "--description", "ctl"), None),
        (("provider", "block", "203.0.113.0/24"), None),
        (("provider", "unblock", "203.0.113.0/24"), None),
        (("port", "delete", g2.portdev), None),
        (("secgroup", "delete", "ctl-web"), None),
    ]  # fmt: skip


def masked(text: str) -> str:
    return IDS.sub("<id>", text)


@STORES
def test_forwarded_commands_print_and_exit_as_local_ones(make_host: Callable[..., Host], store: str) -> None:
    host = make_host(guests=3, store=store)
    lines = sequence(host)
    agent = host.start_agent()
    mark = len(agent.log())
    forwarded = [cli(host, *args, stdin=stdin) for args, stdin in lines]
    ran = agent.log()[mark:].count(RAN)
    assert ran == len(lines), f"the agent ran {ran} of {len(lines)} commands:\n{agent.log()[mark:]}"
    # after the burst the agent follows the store; the kernel then equals the store
    wait_until(lambda: host.plan() == "", 60, 0.2, "the kernel to equal the store")
    local = [cli(host, *args, stdin=stdin, local=True) for args, stdin in lines]
    assert agent.log()[mark:].count(RAN) == ran  # GUESTWALL_LOCAL: none more
    for (args, _), a, b in zip(lines, forwarded, local, strict=True):
        assert (a[0], masked(a[1]), masked(a[2])) == (b[0], masked(b[1]), masked(b[2])), (args, a, b)
    statuses = {status for status, _, _ in forwarded}
    assert statuses == {0, 1, 2}  # successes, errors and usage errors were all compared
    for status, _, err in forwarded:
        if status == 1:
            assert err.startswith("error: "), err


def test_agent_runs_commands_of_its_namespace_only(make_host: Callable[..., Host], tmp_path: Path) -> None:
    """Another store, or --wait, or --help: run here (the agent runs none of them), with the same result."""
    host = make_host(guests=1)
    agent = host.start_agent()
    mark = len(agent.log())
    other = f"sqlite:///{tmp_path}/other.db"
    host.write("f.xml", FILTER)
    status, out, _ = cli(host, "--db", other, "nwfilter-define", "f.xml")
    assert status == 0 and "defined from f.xml" in out
    status, out, _ = cli(host, "nwfilter-define", "--help")
    assert status == 0 and "Usage:" in out
    assert cli(host, "--wait", "nwfilter-define", "f.xml")[0] == 0
    assert agent.log()[mark:].count(RAN) == 0
    assert "declined (another store)" in agent.log()[mark:]


@contextlib.contextmanager
def fake_agent(path: str, answer: Callable[[socket.socket], None]) -> Iterator[list[bytes]]:
    """A socket at ``path`` that reads each request and answers with ``answer``; yields the requests."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    requests: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                requests.append(b"".join(chunks))
                answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield requests
    finally:
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        os.unlink(path)
        thread.join(5)


def control_path(host: Host) -> str:
    from guestwall.dataplane.apply import LOCK_DIR
    from guestwall.dataplane.netns import namespace_id

    return socket_path(LOCK_DIR, namespace_id(host.netns))


def test_stale_socket_and_an_agent_gone_before_accepting_mean_running_here(
    make_host: Callable[..., Host],
) -> None:
    host = make_host(guests=1)
    host.write("f.xml", FILTER)
    path = control_path(host)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # bound, never listening: what a killed agent leaves
    stale.close()
    try:
        status, out, err = cli(host, "nwfilter-define", "f.xml")
        assert (status, err) == (0, ""), err
        assert "Network filter ctl-test defined from f.xml" in out
    finally:
        os.unlink(path)
    with fake_agent(path, lambda conn: None) as requests:  # reads the request, closes without accepting
        status, out, err = cli(host, "nwfilter-undefine", "ctl-test")
        assert (status, err) == (0, ""), err
        assert len(requests) == 1 and b"nwfilter-undefine" in requests[0]
    assert "ctl-test" not in cli(host, "nwfilter-list")[1]


def test_agent_gone_after_accepting_is_one_error_line(make_host: Callable[..., Host]) -> None:
    """Accepted, then no answer: the command may have been committed, so it is not run a second time."""
    host = make_host(guests=1)
    host.write("f.xml", FILTER)
    with fake_agent(control_path(host), lambda conn: conn.sendall(ACCEPTED)):
        status, out, err = cli(host, "nwfilter-define", "f.xml")
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith(
        "error: the guestwall agent ended while it ran the command"
    )
    assert "ctl-test" not in cli(host, "nwfilter-list")[1]  # the fake ran nothing; nor did the client


def test_agent_killed_during_a_command_leaves_it_whole_or_absent(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=1)
    agent = host.start_agent()
    files = []
    for i in range(300):  # bindings of ports that do not exist (yet): a long store and kernel transaction
        xml = binding_xml(host.lab.guests[0], "clean-traffic", {"IP": f"10.99.{i // 250}.{i % 250 + 1}"})
        xml = xml.replace(f"name='{host.lab.guests[0].portdev}'", f"name='ctl{i}'")
        files.append(host.write(f"k{i}.xml", xml))
    proc = subprocess.Popen(
        [*host.cli_argv("-q", "nwfilter-binding-create", *files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=host.env(),
    )
    time.sleep(0.25)  # most likely inside the command (the assertions hold wherever the kill lands)
    agent.signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    bound = [line for line in cli(host, "-q", "nwfilter-binding-list")[1].splitlines() if "ctl" in line]
    assert len(bound) in (0, 300), f"{len(bound)} of 300 bindings stored"
    if proc.returncode == 0:
        assert len(bound) == 300
    else:
        assert err.startswith("error: the guestwall agent ended"), err
    restarted = host.start_agent()
    restarted.wait_log(r"converged \(start\)")
    assert host.plan() == ""  # the kernel equals the store, whichever it was


def on_terminal(host: Host, *args: str, local: bool) -> tuple[int, bytes]:
    """``guestwall ARGS`` with stdout on a pseudo-terminal (what a person sees, colours included)."""
    import pty

    env = {**host.env(), "TERM": "xterm-256color", "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    if local:
        env["GUESTWALL_LOCAL"] = "1"
    main, sub = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "guestwall", "--db", host.url, "--netns", host.netns, *args],
            stdout=sub,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=host.workdir,
        )
        os.close(sub)
        sub = -1
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            chunks.append(chunk)
        return proc.wait(60), b"".join(chunks)
    finally:
        os.close(main)
        if sub >= 0:
            os.close(sub)


def test_output_on_a_terminal_is_the_same(make_host: Callable[..., Host]) -> None:
    """The agent's captured stdout says it is a terminal when the client's is: the same colours."""
    host = make_host(guests=1)
    agent = host.start_agent()
    shown = {}
    for local in (False, True):
        status, out = on_terminal(host, "secgroup", "create", "ctl-tty", local=local)
        assert status == 0, out
        assert on_terminal(host, "secgroup", "delete", "ctl-tty", local=local)[0] == 0
        shown[local] = IDS.sub("<id>", out.decode())
    assert "\x1b[" in shown[True]  # a terminal gets colours: the comparison means something
    assert shown[False] == shown[True]
    assert agent.log().count(RAN) == 2
