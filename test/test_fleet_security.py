"""SROS2 with the PyPI Fast DDS (issue 14's security trial; docs/fleet.md 'Security').

The ros-fastdds wheel is built without Fast DDS's security plugins, so ROS 2 security cannot be
enabled. These tests pin that down: if a future wheel brings the plugins, they fail, and the steps in
docs/fleet.md become the test to write (an enclaved actor talks, one without a valid enclave cannot).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fleet_lab import PROBE, wait_until
from ros_helpers import fresh_domain_id
from sros2_keystore import create_enclave, create_keystore

NODE_IN_ENCLAVE = """
import rclpy
from rclpy.node import Node
rclpy.init(args=["--ros-args", "--enclave", "/fleet/learner"])
Node("fleet_security_probe")
print("node created")
"""


def test_the_keystore_is_valid_for_openssl(tmp_path: Path) -> None:
    keystore = create_keystore(tmp_path / "keystore")
    enclave = create_enclave(keystore, "/fleet/actor1")
    ca = keystore / "public/ca.cert.pem"
    subprocess.run(["openssl", "verify", "-CAfile", ca, enclave / "cert.pem"], check=True, capture_output=True)
    for signed in ("governance.p7s", "permissions.p7s"):
        subprocess.run(["openssl", "smime", "-verify", "-in", enclave / signed, "-CAfile", ca, "-out", os.devnull],
                       check=True, capture_output=True)


def test_enforced_ros_security_fails_because_the_wheel_has_no_security_plugins(tmp_path: Path) -> None:
    keystore = create_keystore(tmp_path / "keystore")
    create_enclave(keystore, "/fleet/learner")
    env = dict(os.environ, ROS_SECURITY_KEYSTORE=str(keystore), ROS_SECURITY_ENABLE="true",
               ROS_SECURITY_STRATEGY="Enforce")
    done = subprocess.run([sys.executable, "-c", NODE_IN_ENCLAVE], env=env, capture_output=True, text=True,
                          timeout=120)
    assert "Found security directory" in done.stderr, done.stderr  # rcl accepted the keystore and enclave
    assert done.returncode != 0 and "node created" not in done.stdout
    assert "This Fast DDS version doesn't have the security libraries" in done.stderr, done.stderr


def test_security_properties_in_a_fast_dds_profile_are_silently_ignored(tmp_path: Path) -> None:
    """A participant configured with the DDS-Security plugins still talks to one with none."""
    keystore = create_keystore(tmp_path / "keystore")
    enclave = create_enclave(keystore, "/fleet/actor1")
    plugins = {
        "dds.sec.auth.plugin": "builtin.PKI-DH",
        "dds.sec.auth.builtin.PKI-DH.identity_ca": f"file://{enclave}/identity_ca.cert.pem",
        "dds.sec.auth.builtin.PKI-DH.identity_certificate": f"file://{enclave}/cert.pem",
        "dds.sec.auth.builtin.PKI-DH.private_key": f"file://{enclave}/key.pem",
        "dds.sec.access.plugin": "builtin.Access-Permissions",
        "dds.sec.access.builtin.Access-Permissions.permissions_ca": f"file://{enclave}/permissions_ca.cert.pem",
        "dds.sec.access.builtin.Access-Permissions.governance": f"file://{enclave}/governance.p7s",
        "dds.sec.access.builtin.Access-Permissions.permissions": f"file://{enclave}/permissions.p7s",
        "dds.sec.crypto.plugin": "builtin.AES-GCM-GMAC",
    }
    properties = "".join(f"<property><name>{k}</name><value>{v}</value></property>" for k, v in plugins.items())
    profile = tmp_path / "secure.xml"
    profile.write_text('<?xml version="1.0" encoding="UTF-8"?><dds xmlns="http://www.eprosima.com"><profiles>'
                       '<participant profile_name="secure" is_default_profile="true"><rtps><propertiesPolicy>'
                       f"<properties>{properties}</properties></propertiesPolicy></rtps></participant>"
                       "</profiles></dds>")
    base = dict(os.environ, ROS_DOMAIN_ID=str(fresh_domain_id()), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    out, talker_out = tmp_path / "listen.log", tmp_path / "talk.log"
    with open(out, "w") as log, open(talker_out, "w") as talker_log:
        listener = subprocess.Popen([sys.executable, PROBE, "listen"], env=base, stdout=log, stderr=subprocess.STDOUT)
        talker = subprocess.Popen([sys.executable, PROBE, "talk"], env=dict(base, FASTDDS_DEFAULT_PROFILES_FILE=str(profile)),
                                  stdout=talker_log, stderr=subprocess.STDOUT)
        try:
            assert wait_until(lambda: sum(line[:1].isdigit() for line in out.read_text().splitlines()) >= 3, 60)
        finally:
            for proc in (talker, listener):
                proc.kill()
                proc.wait()
    assert "XMLPARSER" not in talker_out.read_text()  # the profile was read (a broken one is reported so)
