"""``python -m bench.droplog [--quick]``: does a flood of forged frames from a logged port slow the host's
forwarding? TCP throughput between two other guests (iperf3), alone and while a third guest, whose binding
logs its drops (GUESTWALL_LOG=drop, the agent reading the log), floods forged frames; printed as a ratio
against the run without flood, measured in the same run. Also how many records the flood wrote.

Needs root; everything happens in a lab this run creates and removes (its agent is ended by its pid).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from guestwall.lab import LabSpec, lab_down, lab_up
from guestwall.lab.traffic import frames
from guestwall.lab.traffic.capture import endpoint, open_sender
from guestwall.lab.traffic.iperf import iperf3


def _gw(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "guestwall", *args], env=env, check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.droplog", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2-second traffic runs")
    args = parser.parse_args(argv)
    seconds = 2.0 if args.quick else 5.0
    prefix = f"gwbd{os.getpid() % 100000}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "gw.toml").write_text(f'[log]\npath = "{work}/packets.jsonl"\ngroup = 31\n')
        lab = lab_up(LabSpec(prefix=prefix, guests=3))
        env = {
            **os.environ,
            "GUESTWALL_CONFIG": str(work / "gw.toml"),
            "GUESTWALL_DB": f"sqlite:///{work}/gw.db",
        }
        agent = None
        try:
            for g in lab.guests:
                extra = "<parameter name='GUESTWALL_LOG' value='drop'/>" if g is lab.guests[2] else ""
                xml = (
                    f"<filterbinding><owner><name>{g.name}</name><uuid>00000000-0000-4000-8000-{g.index:012d}"
                    f"</uuid></owner><portdev name='{g.portdev}'/><mac address='{g.mac}'/>"
                    f"<filterref filter='clean-traffic'><parameter name='IP' value='{g.ipv4}'/>{extra}"
                    "</filterref></filterbinding>"
                )
                (work / f"{g.name}.xml").write_text(xml)
                _gw(env, "--netns", lab.host_netns, "nwfilter-binding-create", str(work / f"{g.name}.xml"))
            agent = subprocess.Popen(
                [sys.executable, "-m", "guestwall", "agent", "--netns", lab.host_netns],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(3)  # start-up and the first converge
            alice, bob, eve = lab.guests
            base = iperf3(lab, bob.name, alice.name, seconds=seconds)
            stop = threading.Event()
            sent = [0]

            def flood() -> None:
                sock = open_sender(endpoint(lab, eve.name))
                wire = bytes(frames.udp4(eve.mac, alice.mac, ip_src="10.77.0.66", ip_dst=alice.ipv4))
                while not stop.is_set():
                    for _ in range(200):
                        try:
                            sock.send(wire)
                            sent[0] += 1
                        except OSError:
                            pass
                    time.sleep(0.001)
                sock.close()

            thread = threading.Thread(target=flood, daemon=True)
            thread.start()
            loaded = iperf3(lab, bob.name, alice.name, seconds=seconds)
            stop.set()
            thread.join()
            time.sleep(1.5)  # the agent's next look at the counters
            lines = (work / "packets.jsonl").read_text().splitlines()
            skipped = sum(
                int(line.split('"skipped":')[1].split(",")[0]) for line in lines if '"skipped"' in line
            )
            print(f"forwarding alice->bob alone:         {base.gbit_s:.2f} Gbit/s")
            print(f"while eve floods {sent[0]} forged frames: {loaded.gbit_s:.2f} Gbit/s")
            print(f"ratio (flood / alone): {loaded.gbit_s / base.gbit_s:.2f}")
            records = len(lines) - sum(1 for line in lines if '"skipped"' in line)
            print(f"drop log: {records} records, {skipped} counted as skipped, over {seconds:.0f} s")
        finally:
            if agent is not None:
                agent.terminate()
                agent.wait(10)
            lab_down(prefix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
