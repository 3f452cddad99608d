"""How long DDS takes to find a peer again, across network namespaces with discovery through configured peers
(jsrl_ros/fleet/dds_peers.py): the numbers the fleet's re-send timeouts are set against (docs/fleet.md).

A talker (10 Hz, reliable) in namespace ``actors`` and a listener in ``learner``. Measured, in seconds:
first discovery (listener start -> first message); after each link outage (link up -> first message, and
how many messages published during the outage never arrived); a listener crash and restart (start ->
first message); a talker crash and restart (start -> first message). Needs root (``ip netns``).

    python -m jsrl_bench.fleet.rediscovery --outages 20 30 --out rediscovery.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

from jsrl_bench.fleet import dds_probe
from jsrl_ros.fleet.dds_peers import write_peer_config
from jsrl_ros.fleet.netns import NetnsLab, available

BOUND_S = 120.0


def _received(lab: NetnsLab, name: str) -> list[tuple[float, int]]:
    """(arrival wall time, counter) per message a listener printed."""
    return [(float(t), int(c)) for t, c in (line.split() for line in lab.log(name).splitlines() if line[:1].isdigit())]


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no message within {BOUND_S:.0f} s {what}")
        time.sleep(0.05)


def measure(outages_s: Sequence[float], work: Path) -> dict[str, float]:
    probe = [sys.executable, dds_probe.__file__]
    result: dict[str, float] = {}
    with NetnsLab(["actors", "learner"], work / "logs") as lab:
        env = {host: dict(os.environ, ROS_DOMAIN_ID="7",
                          **write_peer_config([lab.ips[peer]], work / f"dds_{host}.xml"))
               for host, peer in (("actors", "learner"), ("learner", "actors"))}
        talker = lab.spawn("actors", [*probe, "talk"], "talk0", env["actors"])
        started = time.time()
        listener = lab.spawn("learner", [*probe, "listen"], "listen0", env["learner"])
        _wait(lambda: _received(lab, "listen0"), "after the listener started")
        result["first_discovery_s"] = _received(lab, "listen0")[0][0] - started
        for outage in outages_s:
            time.sleep(2.0)
            lab.set_link("learner", False)
            time.sleep(outage)
            before = len(_received(lab, "listen0"))
            restored = time.time()
            lab.set_link("learner", True)
            _wait(lambda: len(_received(lab, "listen0")) > before, f"after a {outage:g} s outage")
            got = _received(lab, "listen0")
            result[f"outage_{outage:g}s_resumed_after_s"] = got[before][0] - restored
            result[f"outage_{outage:g}s_messages_lost"] = got[before][1] - got[before - 1][1] - 1
        NetnsLab.kill(listener)
        started = time.time()
        lab.spawn("learner", [*probe, "listen"], "listen1", env["learner"])
        _wait(lambda: _received(lab, "listen1"), "after the listener restarted")
        result["listener_restart_s"] = _received(lab, "listen1")[0][0] - started
        NetnsLab.kill(talker)
        before = len(_received(lab, "listen1"))
        started = time.time()
        lab.spawn("actors", [*probe, "talk"], "talk1", env["actors"])
        _wait(lambda: len(_received(lab, "listen1")) > before, "after the talker restarted")
        result["talker_restart_s"] = _received(lab, "listen1")[before][0] - started
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outages", type=float, nargs="*", default=[20.0], help="link outages to time, s")
    parser.add_argument("--out", type=Path, required=True, help="result JSON")
    args = parser.parse_args(argv)
    reason = available()
    if reason:
        parser.error(f"needs network namespaces: {reason}")
    with tempfile.TemporaryDirectory(prefix="jsrl_rediscovery_") as work:
        result = measure(args.outages, Path(work))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
