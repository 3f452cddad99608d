"""A ROS 2 security keystore made with openssl, in the layout ``ros2 security create_keystore`` /
``create_enclave`` produce (the sros2 package is not on PyPI, so the fleet's security trial builds
its own): one CA signs the identity certificates, the governance and every enclave's permissions.

    <keystore>/public/ca.cert.pem, private/ca.key.pem
    <keystore>/enclaves/governance.xml, governance.p7s
    <keystore>/enclaves/<enclave>/{cert.pem, key.pem, identity_ca.cert.pem, permissions_ca.cert.pem,
                                   governance.p7s, permissions.xml, permissions.p7s}
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DOMAINS = "<domains><id_range><min>0</min><max>230</max></id_range></domains>"

GOVERNANCE = f"""<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <domain_access_rules>
    <domain_rule>
      {DOMAINS}
      <allow_unauthenticated_participants>false</allow_unauthenticated_participants>
      <enable_join_access_control>true</enable_join_access_control>
      <discovery_protection_kind>ENCRYPT</discovery_protection_kind>
      <liveliness_protection_kind>ENCRYPT</liveliness_protection_kind>
      <rtps_protection_kind>SIGN</rtps_protection_kind>
      <topic_access_rules>
        <topic_rule>
          <topic_expression>*</topic_expression>
          <enable_discovery_protection>true</enable_discovery_protection>
          <enable_liveliness_protection>true</enable_liveliness_protection>
          <enable_read_access_control>true</enable_read_access_control>
          <enable_write_access_control>true</enable_write_access_control>
          <metadata_protection_kind>ENCRYPT</metadata_protection_kind>
          <data_protection_kind>ENCRYPT</data_protection_kind>
        </topic_rule>
      </topic_access_rules>
    </domain_rule>
  </domain_access_rules>
</dds>
"""

PERMISSIONS = """<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <permissions>
    <grant name="{enclave}">
      <subject_name>CN={common_name}</subject_name>
      <validity><not_before>2020-01-01T00:00:00</not_before><not_after>2035-01-01T00:00:00</not_after></validity>
      <allow_rule>
        {domains}
        <publish><topics><topic>*</topic></topics></publish>
        <subscribe><topics><topic>*</topic></topics></subscribe>
      </allow_rule>
      <default>DENY</default>
    </grant>
  </permissions>
</dds>
"""


def _openssl(*args: str | Path) -> None:
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed: {done.stderr.strip()}")


def _sign(ca: Path, document: Path) -> Path:
    signed = document.with_suffix(".p7s")
    _openssl("smime", "-sign", "-text", "-in", document, "-out", signed,
             "-signer", ca / "public/ca.cert.pem", "-inkey", ca / "private/ca.key.pem")
    return signed


def create_keystore(keystore: Path) -> Path:
    """A CA and the signed governance (everything authenticated, discovery and data encrypted)."""
    for folder in ("public", "private", "enclaves"):
        (keystore / folder).mkdir(parents=True, exist_ok=True)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keystore / "private/ca.key.pem")
    _openssl("req", "-new", "-x509", "-sha256", "-days", "3650", "-subj", "/CN=jsrl_fleet_ca",
             "-key", keystore / "private/ca.key.pem", "-out", keystore / "public/ca.cert.pem")
    governance = keystore / "enclaves/governance.xml"
    governance.write_text(GOVERNANCE)
    _sign(keystore, governance)
    return keystore


def create_enclave(keystore: Path, enclave: str) -> Path:
    """An enclave (e.g. ``/fleet/actor1``): a key, its CA-signed certificate and signed permissions."""
    folder = keystore / "enclaves" / enclave.strip("/")
    folder.mkdir(parents=True, exist_ok=True)
    common_name = enclave.replace("/", "_").strip("_")
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", folder / "key.pem")
    _openssl("req", "-new", "-sha256", "-subj", f"/CN={common_name}", "-key", folder / "key.pem",
             "-out", folder / "request.csr")
    _openssl("x509", "-req", "-sha256", "-days", "3650", "-in", folder / "request.csr", "-out", folder / "cert.pem",
             "-CA", keystore / "public/ca.cert.pem", "-CAkey", keystore / "private/ca.key.pem", "-CAcreateserial")
    (folder / "request.csr").unlink()
    for name in ("identity_ca.cert.pem", "permissions_ca.cert.pem"):
        shutil.copy(keystore / "public/ca.cert.pem", folder / name)
    shutil.copy(keystore / "enclaves/governance.p7s", folder / "governance.p7s")
    permissions = folder / "permissions.xml"
    permissions.write_text(PERMISSIONS.format(enclave=enclave, common_name=common_name, domains=DOMAINS))
    _sign(keystore, permissions)
    return folder
