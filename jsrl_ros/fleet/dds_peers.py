"""DDS discovery through configured peers only: a Fast DDS profile and the environment that selects it.

Why: a fleet's hosts often sit on networks without multicast (Wi-Fi, routed lab subnets, VPNs), and
a learner must not discover whatever else happens to be on the subnet. The profile written here
makes every participant (one per rclpy process) that reads it:

- talk UDPv4 only: no shared-memory transport, which could shortcut (or silently fail) between
  processes that share /dev/shm but not a network (containers, network namespaces);
- send and listen for discovery on unicast only (no multicast locators at all);
- announce itself to the listed peers and to 127.0.0.1 (other processes on the same host).

``ROS_AUTOMATIC_DISCOVERY_RANGE=SYSTEM_DEFAULT`` tells rmw_fastrtps to leave the profile's discovery
settings alone (the range LOCALHOST, which this project's scripts export, would override them).

Usage on each host, listing every *other* host::

    python -m jsrl_ros.fleet.dds_peers --peers 192.168.1.20 192.168.1.21 --out ~/fleet_dds.xml > ~/fleet_dds.env
    set -a; . ~/fleet_dds.env; set +a
"""
from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import escape

# A peer address without a port is tried on the discovery ports of participant ids 0..N-1: one
# participant per ROS process, so N bounds the processes per host and domain (Fast DDS default: 4).
DEFAULT_PARTICIPANTS_PER_HOST = 32

_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by jsrl_ros.fleet.dds_peers: unicast discovery with the listed peers, UDPv4 only. -->
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>jsrl_fleet_udp</transport_id>
        <type>UDPv4</type>
        <maxInitialPeersRange>{participants}</maxInitialPeersRange>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="jsrl_fleet_peers" is_default_profile="true">
      <rtps>
        <useBuiltinTransports>false</useBuiltinTransports>
        <userTransports>
          <transport_id>jsrl_fleet_udp</transport_id>
        </userTransports>
        <builtin>
          <discovery_config>
            <leaseDuration><sec>{lease_s}</sec></leaseDuration>
            <leaseAnnouncement><sec>{announce_s}</sec></leaseAnnouncement>
          </discovery_config>
          <avoid_builtin_multicast>true</avoid_builtin_multicast>
          <metatrafficUnicastLocatorList>
            <locator><udpv4><address>0.0.0.0</address></udpv4></locator>
          </metatrafficUnicastLocatorList>
          <initialPeersList>
{peers}
          </initialPeersList>
        </builtin>
      </rtps>
    </participant>
  </profiles>
</dds>
"""
_PEER = "            <locator><udpv4><address>{}</address></udpv4></locator>"


def _checked_peers(peers: Sequence[str]) -> list[str]:
    checked = []
    for peer in peers:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            raise ValueError(f"DDS peer {peer!r} is not an IP address (give the host's IPv4 address)") from None
        if address.version != 4:
            raise ValueError(f"DDS peer {peer!r} is IPv6; this profile uses the UDPv4 transport only")
        checked.append(str(address))
    return checked


def profile_xml(peers: Sequence[str], participants_per_host: int = DEFAULT_PARTICIPANTS_PER_HOST,
                lease_s: int = 20, announce_s: int = 3) -> str:
    """The Fast DDS XML profile for discovery with ``peers`` (IPv4 addresses of the other hosts)."""
    if participants_per_host < 1:
        raise ValueError(f"participants_per_host must be >= 1, got {participants_per_host}")
    if not 0 < announce_s < lease_s:
        raise ValueError(f"need 0 < announce_s < lease_s, got announce_s={announce_s}, lease_s={lease_s}")
    addresses = ["127.0.0.1", *(p for p in _checked_peers(peers) if p != "127.0.0.1")]
    return _PROFILE.format(participants=participants_per_host, lease_s=lease_s, announce_s=announce_s,
                           peers="\n".join(_PEER.format(escape(a)) for a in addresses))


def peer_environment(profile_path: Path) -> dict[str, str]:
    """Environment variables that make rclpy (rmw_fastrtps_cpp) use the profile at ``profile_path``."""
    return {
        "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp",
        "FASTDDS_DEFAULT_PROFILES_FILE": str(Path(profile_path).resolve()),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "SYSTEM_DEFAULT",
        "ROS_STATIC_PEERS": "",
    }


def write_peer_config(peers: Sequence[str], profile_path: Path, **profile_options: int) -> dict[str, str]:
    """Write the profile to ``profile_path``; returns the environment that selects it."""
    profile_path = Path(profile_path)
    profile_path.parent.mkdir(parents=True, exist_ok=True)
    profile_path.write_text(profile_xml(peers, **profile_options))
    return peer_environment(profile_path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a Fast DDS profile for discovery through configured "
                                                 "peers (no multicast, UDPv4 only); print the environment.")
    parser.add_argument("--peers", nargs="+", required=True, help="IPv4 addresses of the other hosts")
    parser.add_argument("--out", type=Path, required=True, help="where to write the XML profile")
    parser.add_argument("--participants-per-host", type=int, default=DEFAULT_PARTICIPANTS_PER_HOST,
                        help="most ROS processes on one host and domain (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        env = write_peer_config(args.peers, args.out, participants_per_host=args.participants_per_host)
    except ValueError as err:
        parser.error(str(err))
    sys.stdout.write("".join(f"{key}={value}\n" for key, value in env.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
