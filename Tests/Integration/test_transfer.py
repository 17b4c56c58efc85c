"""Zone transfers of the real binary: AXFR/IXFR out with ACLs and TSIG (RFC 5936, 1995, 8945),
NOTIFY (RFC 1996), anydns as a secondary of Knot and as a primary of NSD and Knot, and how a
secondary survives an unreachable primary, expiry, a restart and a bad transfer.

Every server is a real process on 127.0.0.1, except FakePrimary, a dnspython primary in a
thread that can serve what a real primary would refuse to load and counts what it is asked.
Waiting is always on a condition with a deadline (transfer_support.wait_for), and a failed test
shows the log tail of every server involved (see _log_tails_on_failure)."""
from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import time
import types

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import pytest

from servers import free_port, require_tool
from transfer_support import (KEY_ALGORITHM, KEY_CONFIG, KEY_NAME, KEY_SECRET, KEYRING, STARTED,
                              TRANSFER_FAULTS, FakePrimary,
                              knotc, logs, parse_raw, start_anydns, start_knot, start_nsd,
                              udp_exchange, verify_tsig, wait_for, xfr, zone_file_records,
                              zone_text)

BADSIG, BADKEY, BADTIME = 16, 17, 18  # TSIG error codes, RFC 8945 §3


@pytest.fixture(autouse=True)
def _log_tails_on_failure():
    """pytest shows what a test's teardown prints only when the test fails: there, the log tail
    of every server the test started (and of the module's primary, still running)."""
    first = len(STARTED)
    yield
    involved = [p for i, p in enumerate(STARTED) if i >= first or p.alive()]
    if involved:
        print(logs(*involved))


# =============================================================================== anydns primary

PRIMARY_ZONES = {
    "example.com.": "www A 192.0.2.80\nwww AAAA 2001:db8::80\nmail MX 10 mx\nmx A 192.0.2.25\n"
                    "txt TXT \"hello world\"\n",
    "denied.test.": "www A 192.0.2.81\n",
    "keyed.test.": "www A 192.0.2.82\n",
    "closed.test.": "www A 192.0.2.83\n",
    "localkey.test.": "www A 192.0.2.84\n",
    "tenskey.test.": "www A 192.0.2.85\n",
}


@pytest.fixture(scope="module")
def primary(tmp_path_factory):
    """anydns serving four primary zones from files: example.com. transferable to 127/8,
    denied.test. only to 10/8, keyed.test. to anyone with the key, closed.test. to nobody."""
    work = tmp_path_factory.mktemp("primary")
    for origin, body in PRIMARY_ZONES.items():
        (work / f"{origin}zone").write_text(zone_text(origin, 1, body))
    config = KEY_CONFIG + """acls:
  - name: local
    address: [127.0.0.0/8]
  - name: tens
    address: [10.0.0.0/8]
  - name: keyonly
    key: transfer
  - name: local-with-key
    address: [127.0.0.0/8]
    key: transfer
  - name: tens-with-key
    address: [10.0.0.0/8]
    key: transfer
zones:
  - origin: example.com.
    file: example.com.zone
    allow-transfer: [local]
  - origin: denied.test.
    file: denied.test.zone
    allow-transfer: [tens]
  - origin: keyed.test.
    file: keyed.test.zone
    allow-transfer: [keyonly]
  - origin: closed.test.
    file: closed.test.zone
  - origin: localkey.test.
    file: localkey.test.zone
    allow-transfer: [local-with-key]
  - origin: tenskey.test.
    file: tenskey.test.zone
    allow-transfer: [tens-with-key]
"""
    server = start_anydns(work, config)
    wait_for(lambda: server.serial("example.com.") == 1, "example.com. SOA serial 1", watch=(server,))
    yield server
    server.stop()


def test_axfr_allowed_by_address_acl_sends_whole_zone_rfc5936(primary):
    records = xfr(primary, "example.com.")
    assert records[0].split()[3] == "SOA" and records[-1] == records[0], \
        f"AXFR must begin and end with the SOA (RFC 5936 §2.2): {records}"
    expected = zone_file_records(primary.workdir / "example.com.zone", "example.com.")
    assert set(records[:-1]) == expected and len(records) - 1 == len(expected), \
        f"AXFR records differ from the zone file:\nextra {set(records) - expected}\n" \
        f"missing {expected - set(records)}\n{logs(primary)}"


def test_axfr_denied_by_address_acl_or_by_default_is_refused_rfc5936(primary):
    for origin in ("denied.test.", "closed.test."):
        reply = primary.query(origin, "AXFR", tcp=True)
        assert reply.rcode() == dns.rcode.REFUSED, \
            f"AXFR {origin} from 127.0.0.1: {dns.rcode.to_text(reply.rcode())}, want REFUSED"
        assert not reply.answer, f"a refused AXFR must carry no records: {reply.answer}"
    # The zones themselves are still served.
    assert primary.serial("denied.test.") == 1 and primary.serial("closed.test.") == 1


def test_axfr_of_zone_not_served_is_notauth(primary):
    reply = primary.query("not-here.test.", "AXFR", tcp=True)
    assert reply.rcode() == dns.rcode.NOTAUTH, \
        f"AXFR of a zone not served: {dns.rcode.to_text(reply.rcode())}, want NOTAUTH"


def test_axfr_with_tsig_key_acl_rfc8945(primary):
    unsigned = primary.query("keyed.test.", "AXFR", tcp=True)
    assert unsigned.rcode() == dns.rcode.REFUSED, \
        f"unsigned AXFR against a key-only ACL: {dns.rcode.to_text(unsigned.rcode())}, want REFUSED"

    # dig verifies every signed message of the transfer and says so when it cannot.
    dig = require_tool("dig")
    out = subprocess.run([dig, "-y", f"{KEY_ALGORITHM}:{KEY_NAME}:{KEY_SECRET}", "@127.0.0.1",
                          "-p", str(primary.port), "keyed.test.", "AXFR"],
                         capture_output=True, text=True, timeout=20).stdout
    assert "Couldn't verify" not in out and "tsig verify failure" not in out.lower(), out
    assert "Transfer failed" not in out, out
    lines = [l.split() for l in out.splitlines() if l and not l.startswith(";")]
    types_seen = [l[3] for l in lines]
    assert types_seen[0] == "SOA" and types_seen[-1] == "TSIG" and types_seen.count("SOA") == 2, \
        f"signed AXFR should be SOA ... SOA plus TSIG: {out}"
    assert ["www.keyed.test.", "300", "IN", "A", "192.0.2.82"] in lines, out

    # dnspython checks the MAC on every message too (it raises otherwise).
    records = xfr(primary, "keyed.test.", keyring=KEYRING, keyname=KEY_NAME)
    assert "www.keyed.test. 300 IN A 192.0.2.82" in records


def test_axfr_acl_with_address_and_key_needs_both(primary):
    unsigned = primary.query("localkey.test.", "AXFR", tcp=True)
    assert unsigned.rcode() == dns.rcode.REFUSED, \
        f"right address, no key: {dns.rcode.to_text(unsigned.rcode())}, want REFUSED"
    records = xfr(primary, "localkey.test.", keyring=KEYRING, keyname=KEY_NAME)
    assert "www.localkey.test. 300 IN A 192.0.2.84" in records
    with pytest.raises(dns.query.TransferError) as refused:
        xfr(primary, "tenskey.test.", keyring=KEYRING, keyname=KEY_NAME)
    assert refused.value.rcode == dns.rcode.REFUSED, \
        f"right key, wrong address: {dns.rcode.to_text(refused.value.rcode)}, want REFUSED"


def test_axfr_over_udp_is_notimp(primary):
    reply = primary.query("example.com.", "AXFR", tcp=False)
    assert reply.rcode() == dns.rcode.NOTIMP, \
        f"AXFR over UDP: {dns.rcode.to_text(reply.rcode())}, want NOTIMP"
    assert not reply.answer


def test_ixfr_over_udp_answers_with_the_soa_rfc1995(primary):
    q = dns.message.make_query("example.com.", "IXFR")
    q.authority.append(dns.rrset.from_text("example.com.", 0, "IN", "SOA", ". . 0 0 0 0 0"))
    reply = dns.query.udp(q, "127.0.0.1", port=primary.port, timeout=2)
    assert reply.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(reply.rcode())
    assert len(reply.answer) == 1 and reply.answer[0].rdtype == dns.rdatatype.SOA \
        and len(reply.answer[0]) == 1 and reply.answer[0][0].serial == 1, \
        f"IXFR over UDP should answer with the SOA alone (RFC 1995 §2): {reply.answer}"


# =============================================================================== TSIG errors

def _signed_soa_query(keyring, keyname=KEY_NAME, fudge=300) -> dns.message.Message:
    q = dns.message.make_query("example.com.", "SOA")
    q.use_tsig(keyring, keyname, fudge=fudge, algorithm=KEY_ALGORITHM)
    return q


def test_signed_query_gets_signed_answer_rfc8945(primary):
    q = _signed_soa_query(KEYRING)
    reply = dns.query.udp(q, "127.0.0.1", port=primary.port, timeout=2)  # verifies the MAC
    assert reply.had_tsig and reply.rcode() == dns.rcode.NOERROR
    assert reply.answer[0][0].serial == 1


def test_tsig_unknown_key_is_notauth_badkey_unsigned_rfc8945(primary):
    q = _signed_soa_query(dns.tsigkeyring.from_text({"nosuchkey": (KEY_ALGORITHM, KEY_SECRET)}),
                          "nosuchkey")
    reply = parse_raw(udp_exchange(primary.port, q.to_wire()))
    assert reply.rcode == dns.rcode.NOTAUTH, f"rcode {dns.rcode.to_text(reply.rcode)}, want NOTAUTH"
    assert reply.tsig is not None, "the answer must carry a TSIG record with the error"
    assert reply.tsig.error == BADKEY, f"TSIG error {reply.tsig.error}, want BADKEY (17)"
    assert reply.tsig.mac == b"", "a BADKEY answer is unsigned (RFC 8945 §5.2.2): empty MAC"
    assert reply.answer_count == 0


def test_tsig_bad_mac_is_notauth_badsig_rfc8945(primary):
    wrong = dns.tsigkeyring.from_text({KEY_NAME: (KEY_ALGORITHM, "AAAAAAAAAAAAAAAAAAAAAA==")})
    q = _signed_soa_query(wrong)
    reply = parse_raw(udp_exchange(primary.port, q.to_wire()))
    assert reply.rcode == dns.rcode.NOTAUTH, f"rcode {dns.rcode.to_text(reply.rcode)}, want NOTAUTH"
    assert reply.tsig is not None and reply.tsig.error == BADSIG, \
        f"TSIG error {getattr(reply.tsig, 'error', None)}, want BADSIG (16)"
    assert reply.tsig.mac == b"", "a BADSIG answer is unsigned (RFC 8945 §5.2.2): empty MAC"
    assert reply.answer_count == 0
    # dnspython reading the same answer reports the peer's verdict.
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.query.udp(_signed_soa_query(wrong), "127.0.0.1", port=primary.port, timeout=2)


def test_tsig_time_outside_fudge_is_notauth_badtime_signed_rfc8945(primary, monkeypatch):
    signed_at = int(time.time()) - 3600
    monkeypatch.setattr(dns.message, "time", types.SimpleNamespace(time=lambda: signed_at))
    q = _signed_soa_query(KEYRING, fudge=300)
    wire = q.to_wire()
    monkeypatch.undo()
    assert q.tsig[0].time_signed == signed_at, "the query should carry the faked signing time"
    before = int(time.time())
    reply = parse_raw(udp_exchange(primary.port, wire))
    after = int(time.time())
    assert reply.rcode == dns.rcode.NOTAUTH, f"rcode {dns.rcode.to_text(reply.rcode)}, want NOTAUTH"
    assert reply.tsig is not None and reply.tsig.error == BADTIME, \
        f"TSIG error {getattr(reply.tsig, 'error', None)}, want BADTIME (18)"
    assert reply.tsig.mac, "a BADTIME answer is signed (RFC 8945 §5.2.3)"
    verify_tsig(reply, KEYRING[dns.name.from_text(KEY_NAME)], q.mac)
    assert len(reply.tsig.other) == 6, f"other data should be the 48-bit server time: {reply.tsig.other!r}"
    server_time = int.from_bytes(reply.tsig.other, "big")
    assert before - 2 <= server_time <= after + 2, \
        f"other data {server_time} is not the server's time (now {before})"


# =============================================================================== IXFR out

IXFR_V1 = "www A 192.0.2.80\nmail A 192.0.2.25\n"
IXFR_V2 = "www A 192.0.2.81\nmail A 192.0.2.25\n"


def _ixfr_primary(tmp_path, max_entries: int, storage: bool = False):
    """anydns serving ixfr.test. at serial 1 from a file, transfers allowed from loopback, with a
    journal of `max_entries` versions (kept in tmp_path/storage with `storage`); returns the zone
    file and the server."""
    zone = tmp_path / "ixfr.test.zone"
    zone.write_text(zone_text("ixfr.test.", 1, IXFR_V1))
    return zone, start_anydns(tmp_path, ("storage: storage\n" if storage else "") + """acls:
  - name: local
    address: [127.0.0.0/8]
journal: {max-entries: MAX_ENTRIES, max-bytes: 16777216}
zones:
  - origin: ixfr.test.
    file: ixfr.test.zone
    allow-transfer: [local]
""".replace("MAX_ENTRIES", str(max_entries)))


def test_ixfr_from_sighup_history_rfc1995(tmp_path):
    zone, server = _ixfr_primary(tmp_path, max_entries=100)
    try:
        wait_for(lambda: server.serial("ixfr.test.") == 1, "serial 1", watch=(server,))
        zone.write_text(zone_text("ixfr.test.", 2, IXFR_V2))
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: server.serial("ixfr.test.") == 2, "serial 2 after SIGHUP", watch=(server,))

        soa = lambda n: f"ixfr.test. 300 IN SOA ns1.ixfr.test. hostmaster.ixfr.test. {n} 3600 900 604800 60"
        incremental = xfr(server, "ixfr.test.", "IXFR", serial=1)
        assert incremental == [soa(2), soa(1), "www.ixfr.test. 300 IN A 192.0.2.80",
                               soa(2), "www.ixfr.test. 300 IN A 192.0.2.81", soa(2)], \
            f"IXFR=1 should be the one-step difference (RFC 1995 §4):\n" + "\n".join(incremental) \
            + "\n" + logs(server)

        current = xfr(server, "ixfr.test.", "IXFR", serial=2)
        assert current == [soa(2)], f"IXFR=2 when current: a single SOA, got {current}"

        full = xfr(server, "ixfr.test.", "IXFR", serial=0)  # older than the history
        expected = zone_file_records(zone, "ixfr.test.")
        assert full[0] == soa(2) and full[-1] == soa(2) and set(full[:-1]) == expected \
            and len(full) == len(expected) + 1, \
            f"IXFR from an unknown serial should fall back to the whole zone:\n" + "\n".join(full)
    finally:
        server.stop()


def test_ixfr_history_survives_a_restart_rfc1995(tmp_path):
    """The journal in storage is read back at start: after a restart, IXFR from the serial
    before the last reload is still the one-step difference, not the whole zone."""
    zone, server = _ixfr_primary(tmp_path, max_entries=100, storage=True)
    try:
        wait_for(lambda: server.serial("ixfr.test.") == 1, "serial 1", watch=(server,))
        zone.write_text(zone_text("ixfr.test.", 2, IXFR_V2))
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: server.serial("ixfr.test.") == 2, "serial 2 after SIGHUP", watch=(server,))
        wait_for(lambda: (tmp_path / "storage" / "ixfr.test.journal").exists(), "the journal on disk",
                 watch=(server,))
    finally:
        server.stop()
    server = start_anydns(tmp_path, (tmp_path / "anydns.yaml").read_text())
    try:
        wait_for(lambda: server.serial("ixfr.test.") == 2, "serial 2 after the restart", watch=(server,))
        soa = lambda n: f"ixfr.test. 300 IN SOA ns1.ixfr.test. hostmaster.ixfr.test. {n} 3600 900 604800 60"
        incremental = xfr(server, "ixfr.test.", "IXFR", serial=1)
        assert incremental == [soa(2), soa(1), "www.ixfr.test. 300 IN A 192.0.2.80",
                               soa(2), "www.ixfr.test. 300 IN A 192.0.2.81", soa(2)], \
            "IXFR=1 after a restart should come from the stored journal:\n" + "\n".join(incremental) \
            + "\n" + logs(server)
    finally:
        server.stop()


# =============================================================================== anydns secondary of Knot

KNOT_KEY = f"""key:
  - id: {KEY_NAME}
    algorithm: {KEY_ALGORITHM}
    secret: {KEY_SECRET}"""

NET_V1 = "www A 192.0.2.10\nftp A 192.0.2.21\nalias CNAME www\n"
NET_V2 = "www A 192.0.2.11\nftp A 192.0.2.21\nalias CNAME www\nnew TXT \"added in 2\"\n"


def _secondary_config(primary_address: str, storage: str = "storage", timers_note: str = "",
                      primary_key: bool = True, notify_key: bool = True) -> str:
    return KEY_CONFIG + f"""remotes:
  - name: upstream
    address: [{primary_address}]
""" + ("    key: transfer\n" if primary_key else "") + """acls:
  - name: primary-acl
    address: [127.0.0.0/8]
""" + ("    key: transfer\n" if notify_key else "") + f"""  - name: local
    address: [127.0.0.0/8]
storage: {storage}
zones:
  - origin: example.net.
    primaries: [upstream]
    allow-notify: [primary-acl]
    allow-transfer: [local]
"""


def test_secondary_of_knot_with_tsig_axfr_then_notify_and_ixfr_rfc1996_rfc1995(tmp_path):
    anydns_port = free_port()
    knot_zone = tmp_path / "knot" / "example.net.zone"
    knot_zone.parent.mkdir()
    knot_zone.write_text(zone_text("example.net.", 1, NET_V1))
    knot = start_knot(tmp_path / "knot", KNOT_KEY + f"""
remote:
  - id: anydns
    address: 127.0.0.1@{anydns_port}
    key: {KEY_NAME}
acl:
  - id: xfr_acl
    address: 127.0.0.0/8
    key: {KEY_NAME}
    action: transfer
template:
  - id: default
    storage: "{tmp_path / 'knot'}"
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    semantic-checks: on
zone:
  - domain: example.net.
    file: "{knot_zone}"
    notify: anydns
    acl: xfr_acl
""", "example.net.")
    secondary = None
    try:
        wait_for(lambda: knot.serial("example.net.") == 1, "Knot serving serial 1", watch=(knot,))
        secondary = start_anydns(tmp_path / "anydns", _secondary_config(f"127.0.0.1:{knot.port}"),
                                 port=anydns_port)
        both = (secondary, knot)
        wait_for(lambda: secondary.serial("example.net.") == 1, "anydns to transfer serial 1 from Knot",
                 watch=both)
        knot_records = set(xfr(knot, "example.net.", keyring=KEYRING, keyname=KEY_NAME))
        assert set(xfr(secondary, "example.net.")) == knot_records, \
            "anydns serves different records than Knot\n" + logs(*both)
        assert secondary.metric('anydns_transfers_total{direction="in",type="AXFR",result="ok"}') >= 1

        knot_zone.write_text(zone_text("example.net.", 2, NET_V2))
        knotc(knot, "zone-reload", "example.net.")
        wait_for(lambda: knot.serial("example.net.") == 2, "Knot serving serial 2", watch=both)
        # Refresh is an hour: only Knot's NOTIFY can bring serial 2 this fast.
        wait_for(lambda: secondary.serial("example.net.") == 2, "anydns to follow Knot's NOTIFY to serial 2",
                 deadline=15, watch=both)
        reply = secondary.query("new.example.net.", "TXT")
        assert [r.to_text() for r in reply.answer[0]] == ['"added in 2"']
        assert set(xfr(secondary, "example.net.")) == set(
            xfr(knot, "example.net.", keyring=KEYRING, keyname=KEY_NAME)), logs(*both)
        assert secondary.metric('anydns_notify_total{direction="received",result="accepted"}') >= 1
        ixfr_ok = secondary.metric('anydns_transfers_total{direction="in",type="IXFR",result="ok"}')
        assert ixfr_ok >= 1, "Knot serves IXFR from its journal: anydns should have used it\n" \
            + secondary.http("/metrics")[1] + logs(*both)
        # /health is updated just after the new version is served (after it is stored): wait.
        wait_for(lambda: "serial 2 by IXFR" in (secondary.zone_health("example.net.")["secondary"]
                                                .get("lastRefreshResult") or ""),
                 "/health to report the IXFR", watch=both,
                 describe=lambda: secondary.zone_health("example.net."))
    finally:
        if secondary:
            secondary.stop()
        knot.stop()


# =============================================================================== NSD and Knot secondaries of anydns

COM_V1 = "www A 192.0.2.80\nmail MX 10 mx\nmx A 192.0.2.25\n"
COM_V2 = "www A 192.0.2.88\nmail MX 10 mx\nmx A 192.0.2.25\nnew AAAA 2001:db8::2\n"


def test_nsd_and_knot_follow_anydns_primary_by_notify_rfc1996(tmp_path):
    anydns_port, nsd_port, knot_port = free_port(), free_port(), free_port()
    work = tmp_path / "anydns"
    work.mkdir()
    zone = work / "example.com.zone"
    zone.write_text(zone_text("example.com.", 1, COM_V1))
    primary = start_anydns(work, KEY_CONFIG + f"""remotes:
  - name: site-secondaries
    address: [127.0.0.1:{nsd_port}, 127.0.0.1:{knot_port}]
    key: transfer
acls:
  - name: sites
    address: [127.0.0.0/8]
    key: transfer
journal: {{max-entries: 100, max-bytes: 16777216}}
zones:
  - origin: example.com.
    file: example.com.zone
    allow-transfer: [sites]
    notify: [site-secondaries]
""", port=anydns_port)
    started = [primary]
    try:
        wait_for(lambda: primary.serial("example.com.") == 1, "anydns serial 1", watch=(primary,))
        nsd = start_nsd(tmp_path / "nsd", f"""key:
  name: "{KEY_NAME}"
  algorithm: {KEY_ALGORITHM}
  secret: "{KEY_SECRET}"
zone:
  name: example.com.
  zonefile: "example.com.zone"
  request-xfr: 127.0.0.1@{anydns_port} {KEY_NAME}
  allow-notify: 127.0.0.0/8 {KEY_NAME}
  provide-xfr: 127.0.0.0/8 NOKEY
""", "example.com.", port=nsd_port)
        started.append(nsd)
        knot = start_knot(tmp_path / "knot", KNOT_KEY + f"""
remote:
  - id: anydns
    address: 127.0.0.1@{anydns_port}
    key: {KEY_NAME}
acl:
  - id: notify_from_anydns
    address: 127.0.0.0/8
    key: {KEY_NAME}
    action: notify
  - id: xfr_out
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: "{tmp_path / 'knot'}"
    zonefile-sync: -1
zone:
  - domain: example.com.
    master: anydns
    acl: [notify_from_anydns, xfr_out]
""", "example.com.", port=knot_port)
        started.append(knot)
        watch = tuple(started)
        for secondary in (nsd, knot):
            wait_for(lambda: secondary.serial("example.com.") == 1,
                     f"{secondary.name} to transfer serial 1 from anydns", watch=watch)
        records = set(xfr(primary, "example.com.", keyring=KEYRING, keyname=KEY_NAME))
        for secondary in (nsd, knot):
            assert set(xfr(secondary, "example.com.")) == records, \
                f"{secondary.name} serves different records than anydns\n" + logs(*watch)

        zone.write_text(zone_text("example.com.", 2, COM_V2))
        primary.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: primary.serial("example.com.") == 2, "anydns serial 2 after SIGHUP", watch=watch)
        # Refresh is an hour: only anydns's NOTIFY can bring them to serial 2 this fast.
        for secondary in (nsd, knot):
            wait_for(lambda: secondary.serial("example.com.") == 2,
                     f"{secondary.name} to follow anydns's NOTIFY to serial 2", deadline=15, watch=watch)
        records = set(xfr(primary, "example.com.", keyring=KEYRING, keyname=KEY_NAME))
        assert "new.example.com. 300 IN AAAA 2001:db8::2" in records
        for secondary in (nsd, knot):
            assert set(xfr(secondary, "example.com.")) == records, \
                f"{secondary.name} serves different records than anydns after the change\n" + logs(*watch)
        acknowledged = 'anydns_notify_total{direction="sent",result="acknowledged"}'
        wait_for(lambda: primary.metric(acknowledged) >= 2, "2 acknowledged NOTIFYs in /metrics",
                 watch=watch, describe=lambda: primary.http("/metrics")[1])
        out_ixfr = 'anydns_transfers_total{direction="out",type="IXFR",result="ok"}'
        # NSD and Knot both ask for IXFR after a NOTIFY (their logs say so).
        wait_for(lambda: primary.metric(out_ixfr) >= 2, "2 IXFR sent in /metrics", watch=watch,
                 describe=lambda: primary.http("/metrics")[1])

        # zone-notify on demand: both secondaries acknowledge again.
        before = primary.metric(acknowledged)
        assert primary.http("/zones/example.com./notify", "POST") == (200, "OK\n")
        wait_for(lambda: primary.metric(acknowledged) >= before + 2, "2 more acknowledged NOTIFYs",
                 watch=watch, describe=lambda: primary.metric(acknowledged))
    finally:
        for server in reversed(started):
            server.stop()


# =============================================================================== NOTIFY in, with a fake primary

def _fake_secondary(tmp_path, fake: FakePrimary):
    server = start_anydns(tmp_path / "anydns", _secondary_config(fake.address, primary_key=False))
    serial = fake.records[0][0].serial
    wait_for(lambda: server.serial("example.net.") == serial,
             "anydns to transfer from the fake primary", watch=(server,))
    # /health is told right after DNS serves the transfer: wait for it too.
    wait_for(lambda: f"transferred serial {serial}" in (
        server.zone_health("example.net.")["secondary"].get("lastRefreshResult") or ""),
        "/health to report the transfer", watch=(server,),
        describe=lambda: server.zone_health("example.net."))
    return server


@contextlib.contextmanager
def fake_secondary(tmp_path, zone: str):
    """A FakePrimary serving example.net. as `zone`, and anydns as its secondary once the first
    transfer is served; both stopped at the end, whatever happens."""
    fake = FakePrimary("example.net.", zone)
    server = None
    try:
        server = _fake_secondary(tmp_path, fake)
        yield fake, server
    finally:
        if server:
            server.stop()
        fake.stop()


def _notify(server, keyring=None) -> dns.message.Message:
    q = dns.message.make_query("example.net.", "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    q.flags |= dns.flags.AA
    if keyring:
        q.use_tsig(keyring, KEY_NAME, algorithm=KEY_ALGORITHM)
    return dns.query.udp(q, "127.0.0.1", port=server.port, timeout=2)


def test_notify_allowed_refreshes_once_unallowed_refused_rfc1996(tmp_path):
    with fake_secondary(tmp_path, zone_text("example.net.", 1, NET_V1)) as (fake, server):
        unsigned = _notify(server)
        assert unsigned.rcode() == dns.rcode.REFUSED, \
            f"NOTIFY without the key the ACL requires: {dns.rcode.to_text(unsigned.rcode())}, want REFUSED"
        assert server.serial("example.net.") == 1

        fake.set_zone(zone_text("example.net.", 2, NET_V2))
        transfers_before = fake.transfers
        replies = [_notify(server, KEYRING) for _ in range(5)]
        for reply in replies:
            assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA \
                and reply.opcode() == dns.opcode.NOTIFY, \
                f"allowed NOTIFY: {dns.rcode.to_text(reply.rcode())} flags {dns.flags.to_text(reply.flags)}"
        wait_for(lambda: server.serial("example.net.") == 2, "serial 2 after NOTIFY", watch=(server,))
        assert server.query("new.example.net.", "TXT").answer[0][0].to_text() == '"added in 2"'
        # Let any further (coalesced) refresh finish: /health says the last refresh is done.
        wait_for(lambda: "serial 2" in (server.zone_health("example.net.")["secondary"]
                                         .get("lastRefreshResult") or ""),
                 "the refresh result in /health", watch=(server,),
                 describe=lambda: server.zone_health("example.net."))
        assert fake.transfers - transfers_before == 1, \
            f"5 NOTIFYs should cause one transfer, the fake primary served {fake.transfers - transfers_before}\n" \
            + logs(server)
        assert server.metric('anydns_notify_total{direction="received",result="accepted"}') >= 5


# =============================================================================== secondary survival

def test_secondary_with_unreachable_primary_at_start_servfails_and_is_not_ready(tmp_path):
    dead_port = free_port()  # nobody listens here
    server = start_anydns(tmp_path, _secondary_config(f"127.0.0.1:{dead_port}", primary_key=False))
    try:
        wait_for(lambda: server.rcode("example.net.") == dns.rcode.SERVFAIL,
                 "SERVFAIL for the untransferred zone", watch=(server,),
                 describe=lambda: server.rcode("example.net."))
        status, body = server.http("/readyz")
        assert status == 503 and "zone example.net. not yet transferred" in body, (status, body)
        assert server.rcode("www.example.net.", "A") == dns.rcode.SERVFAIL
        secondary = wait_for(lambda: (lambda z: z if z.get("lastRefreshResult") else None)(
            server.zone_health("example.net.")["secondary"]), "a failed refresh in /health",
            watch=(server,))
        assert secondary["primaries"] and str(dead_port) in " ".join(secondary["primaries"]), secondary
        assert secondary["lastRefreshAttempt"] is not None, secondary
        assert str(dead_port) in secondary["lastRefreshResult"], \
            f"lastRefreshResult should name the unreachable primary: {secondary}"
        assert server.zone_health("example.net.")["role"] == "secondary"
    finally:
        server.stop()


def test_secondary_keeps_serving_when_primary_stops_then_expires_rfc1034(tmp_path):
    with fake_secondary(tmp_path, zone_text("example.net.", 1, NET_V1, timers="2 1 4 60")) as (fake, server):
        wait_for(lambda: server.http("/readyz")[0] == 200, "/readyz 200 after the transfer", watch=(server,),
                 describe=lambda: server.http("/readyz"))
        left = server.zone_health("example.net.")["secondary"]["secondsToExpiry"]
        assert left is not None and 0 < left <= 4, f"secondsToExpiry should count down from 4: {left}"
        fake.stop()
        assert server.serial("example.net.") == 1, "a secondary keeps serving while the primary is down"
        # Refresh 2, retry 1: it keeps retrying, and /health says the refresh fails and when it tried.
        first = wait_for(lambda: (lambda s: s if "transferred" not in (s.get("lastRefreshResult") or "")
                                  and "up to date" not in (s.get("lastRefreshResult") or "") else None)(
            server.zone_health("example.net.")["secondary"]), "a failed refresh in /health", watch=(server,),
            describe=lambda: server.zone_health("example.net."))
        assert str(fake.port) in first["lastRefreshResult"], f"the failure should name the primary: {first}"
        served = server.serial("example.net.")
        now = server.zone_health("example.net.")["secondary"]
        if not now["expired"]:  # it was not expired when `served` was asked either
            assert served == 1, f"a failed refresh must not stop the service before expiry: {now}"
        wait_for(lambda: server.zone_health("example.net.")["secondary"]["lastRefreshAttempt"]
                 != first["lastRefreshAttempt"], "a retry (a later lastRefreshAttempt)", watch=(server,))
        wait_for(lambda: server.rcode("example.net.") == dns.rcode.SERVFAIL, "SERVFAIL once expired (4 s)",
                 deadline=12, watch=(server,), describe=lambda: server.zone_health("example.net."))
        status, body = server.http("/readyz")
        assert status == 503 and "zone example.net. expired" in body, (status, body)
        assert server.zone_health("example.net.")["secondary"]["expired"] is True


def test_restarted_secondary_serves_stored_copy_with_primary_down(tmp_path):
    fake = FakePrimary("example.net.", zone_text("example.net.", 7, NET_V1))
    server = None
    try:
        server = _fake_secondary(tmp_path, fake)
        storage = tmp_path / "anydns" / "storage"
        wait_for(lambda: (storage / "example.net.timers").exists(), "timers in storage", watch=(server,))
        stored = (storage / "example.net.zone").read_text()
        assert re.search(r"SOA\s.*\b7\b", stored), f"stored copy lacks serial 7:\n{stored}"
        timers = json.loads((storage / "example.net.timers").read_text())
        assert timers, "timers file is empty"
        server.stop()
        fake.stop()

        server = start_anydns(tmp_path / "anydns", server.config.read_text())
        # Served from the stored copy "at once": the first answers after start, no primary.
        wait_for(lambda: server.serial("example.net.") == 7, "the stored copy served after restart",
                 deadline=3, watch=(server,), describe=lambda: server.rcode("example.net."))
        assert server.query("www.example.net.", "A").answer[0][0].to_text() == "192.0.2.10"
        # Not expired, so the site is ready although the primary is down.
        wait_for(lambda: server.http("/readyz") == (200, "ready\n"), "/readyz 200 on the stored copy",
                 watch=(server,), describe=lambda: server.http("/readyz"))
        assert server.zone_health("example.net.")["secondary"]["expired"] is False
    finally:
        if server:
            server.stop()
        fake.stop()


@pytest.mark.parametrize("bad_body, why", [
    (NET_V1.replace("alias CNAME www", "alias CNAME www\nalias A 192.0.2.99"), "CNAME"),
    ("NO_NS", "NS"),
], ids=["cname-and-other-data", "no-apex-ns"])
def test_transfer_failing_zone_checks_is_refused_old_version_served(tmp_path, bad_body, why):
    with fake_secondary(tmp_path, zone_text("example.net.", 1, NET_V1)) as (fake, server):
        if bad_body == "NO_NS":
            bad = zone_text("example.net.", 2, NET_V2).replace("@ NS ns1\n", "")
        else:
            bad = zone_text("example.net.", 2, bad_body)
        fake.set_zone(bad)
        before = fake.transfers
        assert server.http("/zones/example.net./refresh", "POST") == (200, "OK\n")
        result = wait_for(lambda: (lambda r: r if fake.transfers > before and r and "serial 1" not in r
                                   else None)(server.zone_health("example.net.")["secondary"]
                                              .get("lastRefreshResult")),
                          "the rejected transfer in /health's lastRefreshResult", watch=(server,),
                          describe=lambda: server.zone_health("example.net."))
        assert why in result, f"lastRefreshResult should say why the transfer was refused: {result!r}"
        assert server.serial("example.net.") == 1, "the old version must keep being served\n" + logs(server)
        assert server.query("alias.example.net.", "CNAME").answer[0][0].to_text() == "www.example.net."
        assert server.rcode("www.example.net.", "A") == dns.rcode.NOERROR


# =============================================================================== a primary misbehaving

SHORT_TIMERS = "2 1 30 60"  # refresh 2 s, retry 1 s, expire 30 s: refreshes come fast, expiry is far


def _secondary_state(server) -> dict:
    return server.zone_health("example.net.")["secondary"]


def _wait_failed_refresh(server, fake: FakePrimary, pattern: str, what: str) -> dict:
    """Until the fake primary has broken a transfer and /health's lastRefreshResult matches the
    regular expression `pattern`; returns the zone's /health secondary object."""
    return wait_for(lambda: (lambda s: s if fake.broken_transfers and re.search(
        pattern, s.get("lastRefreshResult") or "") else None)(_secondary_state(server)),
        what, watch=(server,), describe=lambda: (fake.broken_transfers, fake.asked, _secondary_state(server)))


def _assert_old_version_served(server, state: dict, serial: int = 1) -> None:
    """Serial `serial` of NET_V1 still served, none of NET_V2, the zone not expired."""
    assert server.alive(), "anydns exited\n" + logs(server)
    assert server.serial("example.net.") == serial, \
        f"the old version must be served: SOA serial {server.serial('example.net.')}\n" + logs(server)
    assert [r.to_text() for r in server.query("www.example.net.", "A").answer[0]] == ["192.0.2.10"]
    assert server.rcode("new.example.net.", "TXT") == dns.rcode.NXDOMAIN, \
        "nothing of the broken transfer may be served\n" + logs(server)
    assert server.zone_health("example.net.")["serial"] == serial
    assert state["expired"] is False and 0 < state["secondsToExpiry"] <= 30, \
        f"a failed refresh must not expire the zone (expire 30 s): {state}"


@pytest.mark.parametrize("fault", ["close-after-first-messages", "close-inside-a-message"])
def test_primary_closing_mid_transfer_keeps_old_version_and_retries(tmp_path, fault):
    """TRANSFER_FAULTS[fault]; RFC 5936 §2.2: a transfer is complete only at the closing SOA."""
    with fake_secondary(tmp_path, zone_text("example.net.", 1, NET_V1, timers=SHORT_TIMERS)) as (fake, server):
        assert fault in TRANSFER_FAULTS, fault
        fake.fault = fault  # before serial 2 exists: no good transfer of it can slip in
        fake.set_zone(zone_text("example.net.", 2, NET_V2, timers=SHORT_TIMERS))
        state = _wait_failed_refresh(server, fake, "closed", f"a refresh failing on '{fault}' in /health")
        assert fake.address in state["lastRefreshResult"], f"the failure should name the primary: {state}"
        _assert_old_version_served(server, state)
        assert server.metric('anydns_transfers_total{direction="in",type="AXFR",result="failed"}') >= 1, \
            server.http("/metrics")[1]

        # Retry 1 s: it asks again on its own, and is refused again by the same fault.
        broken = fake.broken_transfers
        wait_for(lambda: fake.broken_transfers > broken, "another transfer attempt (retry timer)",
                 deadline=10, watch=(server,), describe=lambda: (fake.asked, _secondary_state(server)))
        _assert_old_version_served(server, _secondary_state(server))

        fake.fault = None  # the primary is mended: the next retry gets serial 2, no restart, no NOTIFY
        wait_for(lambda: server.serial("example.net.") == 2, "serial 2 on the retry timer once mended",
                 deadline=10, watch=(server,), describe=lambda: (fake.asked, _secondary_state(server)))
        assert server.query("new.example.net.", "TXT").answer[0][0].to_text() == '"added in 2"'
        assert [r.to_text() for r in server.query("www.example.net.", "A").answer[0]] == ["192.0.2.11"]
        wait_for(lambda: "transferred serial 2" in (_secondary_state(server).get("lastRefreshResult") or ""),
                 "/health to report serial 2", watch=(server,), describe=lambda: _secondary_state(server))


@pytest.mark.parametrize("fault, why", [
    ("random-bytes", r"message 1 .*(malformed|does not answer our request)"),  # refused at the first check
    ("cut-record", r"malformed message 1"),
    ("wrong-id", r"message 1 does not answer our request \(ID"),
], ids=["random-bytes", "cut-record", "wrong-id"])
def test_primary_sending_garbage_keeps_old_version(tmp_path, fault, why):
    """TRANSFER_FAULTS[fault]: the answer is refused, the old version kept, the server alive."""
    with fake_secondary(tmp_path, zone_text("example.net.", 1, NET_V1, timers=SHORT_TIMERS)) as (fake, server):
        assert fault in TRANSFER_FAULTS, fault
        fake.fault = fault
        fake.set_zone(zone_text("example.net.", 2, NET_V2, timers=SHORT_TIMERS))
        state = _wait_failed_refresh(server, fake, why, f"a refresh failing on '{fault}' in /health")
        assert fake.address in state["lastRefreshResult"], f"the failure should name the primary: {state}"
        _assert_old_version_served(server, state)
        # Alive and answering everything else: other names, TCP, management, its own AXFR out.
        assert server.rcode("nothing.example.net.", "A") == dns.rcode.NXDOMAIN
        assert server.query("alias.example.net.", "CNAME", tcp=True).answer[0][0].to_text() == "www.example.net."
        assert server.http("/livez")[0] == 200
        records = xfr(server, "example.net.")
        assert records[0].split()[3] == "SOA" and records[0].split()[6] == "1" and records[-1] == records[0], \
            f"AXFR out of the secondary should be serial 1: {records}"
        assert "www.example.net. 300 IN A 192.0.2.10" in records
        broken = fake.broken_transfers
        wait_for(lambda: fake.broken_transfers > broken, "another transfer attempt (retry timer)",
                 deadline=10, watch=(server,), describe=lambda: (fake.asked, _secondary_state(server)))
        _assert_old_version_served(server, _secondary_state(server))


NET_BACK = "www A 192.0.2.55\nold TXT \"serial 5\"\n"


def test_primary_serial_going_backwards_is_not_followed_until_retransfer_rfc1982(tmp_path):
    with fake_secondary(tmp_path, zone_text("example.net.", 10, NET_V1, timers=SHORT_TIMERS)) as (fake, server):
        asked = list(fake.asked)
        seen = len(fake.soa_serials)
        # 5 is older than 10 (RFC 1982 §3.2: 10 - 5 < 2^31), whatever the content says.
        fake.set_zone(zone_text("example.net.", 5, NET_BACK, timers=SHORT_TIMERS))
        # Refreshes of a zone do not overlap: once serial 5 was answered twice, the first refresh
        # that saw it has finished and /health has its result.
        state = wait_for(lambda: (lambda s: s if fake.soa_serials[seen:].count(5) >= 2
                                  and "behind ours" in (s.get("lastRefreshResult") or "") else None)(
            _secondary_state(server)), "two refreshes that saw serial 5, 'behind ours' in /health",
            watch=(server,), describe=lambda: (fake.soa_serials[seen:], _secondary_state(server)))
        # An older serial does not confirm our data: the refresh failed and the expiry timer was
        # not renewed, so the zone expires (and is then taken whole) unless fixed before.
        assert "serial 5, behind ours 10" in state["lastRefreshResult"], f"it keeps serial 10: {state}"
        # Two failed refreshes came at least REFRESH (2 s) after the last success, so a renewed
        # timer would show 30 s left.
        assert 0 < state["secondsToExpiry"] < 29, f"the expiry timer was renewed: {state}"
        assert fake.asked == asked, f"no transfer for an older serial: asked {fake.asked[len(asked):]}"
        assert server.serial("example.net.") == 10, logs(server)
        assert [r.to_text() for r in server.query("www.example.net.", "A").answer[0]] == ["192.0.2.10"]
        assert server.rcode("old.example.net.", "TXT") == dns.rcode.NXDOMAIN
        assert state["expired"] is False

        assert server.http("/zones/example.net./retransfer", "POST") == (200, "OK\n")
        wait_for(lambda: server.serial("example.net.") == 5, "serial 5 after POST retransfer", deadline=10,
                 watch=(server,), describe=lambda: (fake.asked, _secondary_state(server)))
        assert fake.asked[len(asked):] == ["AXFR"], f"retransfer is one AXFR: {fake.asked[len(asked):]}"
        assert [r.to_text() for r in server.query("www.example.net.", "A").answer[0]] == ["192.0.2.55"]
        assert server.query("old.example.net.", "TXT").answer[0][0].to_text() == '"serial 5"'
        assert server.rcode("alias.example.net.", "CNAME") == dns.rcode.NXDOMAIN, \
            "the retransferred zone replaces the old one whole"
        wait_for(lambda: "transferred serial 5 by AXFR" in (_secondary_state(server).get("lastRefreshResult") or ""),
                 "/health to report the AXFR of serial 5", watch=(server,),
                 describe=lambda: _secondary_state(server))
        # And it stays there: the next refresh finds the primary's 5 current.
        wait_for(lambda: "up to date at serial 5" in (_secondary_state(server).get("lastRefreshResult") or ""),
                 "a refresh after the retransfer to find serial 5 current", watch=(server,),
                 describe=lambda: _secondary_state(server))
        assert server.serial("example.net.") == 5


def _expire_option(reply: dns.message.Message) -> bytes | None:
    """The data of the EDNS EXPIRE option (code 9, RFC 7314) of a reply, or None."""
    for option in reply.options:
        if option.otype == dns.edns.OptionType.EXPIRE:
            return option.to_wire()
    return None


def test_edns_expire_answered_by_primary_and_counted_down_by_secondary_rfc7314(primary, tmp_path):
    ask = dict(use_edns=0, options=[dns.edns.GenericOption(dns.edns.OptionType.EXPIRE, b"")])
    reply = primary.query("example.com.", "SOA", **ask)
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer[0][0].expire == 604800
    data = _expire_option(reply)
    assert data is not None and len(data) == 4, f"the primary's EXPIRE option: {reply.options}"
    assert int.from_bytes(data, "big") == 604800, \
        f"a primary answers its SOA EXPIRE (RFC 7314 §2): {int.from_bytes(data, 'big')}"
    plain = primary.query("example.com.", "SOA", use_edns=0)
    assert _expire_option(plain) is None, f"EXPIRE only when asked: {plain.options}"

    with fake_secondary(tmp_path, zone_text("example.net.", 1, NET_V1, timers="3600 900 3000 60")) as (fake, server):
        reply = server.query("example.net.", "SOA", **ask)
        data = _expire_option(reply)
        assert data is not None and len(data) == 4, f"the secondary's EXPIRE option: {reply.options}"
        left = int.from_bytes(data, "big")
        assert 0 < left <= 3000, f"a secondary answers the seconds left before expiry (≤ 3000): {left}"


# =============================================================================== management of a secondary

def test_zones_status_and_refresh_retransfer_endpoints(tmp_path):
    with fake_secondary(tmp_path, zone_text("example.net.", 1, NET_V1)) as (fake, server):
        status, text = server.http("/zones")
        assert status == 200
        line = re.compile(r"^\[example\.net\.\] role: slave \| serial: (\d+) \| refresh: \+\d+s \| "
                          r"expiration: \+\d+s \| last: (.+)$")
        match = line.match(text.strip())
        assert match and match.group(1) == "1", f"/zones line shape:\n{text}"
        health = server.zone_health("example.net.")
        assert health["role"] == "secondary" and health["serial"] == 1, health
        assert set(health["secondary"]) >= {"primaries", "lastRefreshAttempt", "lastRefreshResult",
                                            "nextRefresh", "secondsToExpiry", "expired"}, health
        assert health["secondary"]["primaries"] == [fake.address] \
            or fake.address in " ".join(health["secondary"]["primaries"]), health
        assert health["secondary"]["expired"] is False and health["secondary"]["secondsToExpiry"] > 0
        assert server.http("/zones/example.net.")[1] == text

        fake.set_zone(zone_text("example.net.", 2, NET_V2))
        assert server.http("/zones/example.net./refresh", "POST") == (200, "OK\n")
        wait_for(lambda: server.serial("example.net.") == 2, "serial 2 after POST refresh", deadline=10,
                 watch=(server,))
        wait_for(lambda: (lambda m: m and m.group(1) == "2")(line.match(server.http("/zones")[1].strip())),
                 "/zones to show serial 2 in the same shape", watch=(server,),
                 describe=lambda: server.http("/zones"))

        before = fake.transfers
        assert server.http("/zones/example.net./retransfer", "POST") == (200, "OK\n")
        wait_for(lambda: fake.transfers > before, "a transfer after POST retransfer", deadline=10,
                 watch=(server,))
        assert server.serial("example.net.") == 2


def test_ixfr_refused_by_primary_falls_back_to_axfr(tmp_path):
    with fake_secondary(tmp_path, zone_text("example.net.", 1, NET_V1)) as (fake, server):
        assert fake.asked == ["AXFR"], f"the first transfer has no version to diff from: {fake.asked}"
        fake.ixfr_rcode = dns.rcode.NOTIMP
        fake.set_zone(zone_text("example.net.", 2, NET_V2))
        assert server.http("/zones/example.net./refresh", "POST") == (200, "OK\n")
        wait_for(lambda: server.serial("example.net.") == 2, "serial 2 by AXFR after a refused IXFR",
                 deadline=10, watch=(server,))
        assert fake.asked == ["AXFR", "IXFR", "AXFR"], f"IXFR first, then AXFR: {fake.asked}"
        assert server.metric('anydns_transfers_total{direction="in",type="IXFR",result="failed"}') == 1
        assert server.metric('anydns_transfers_total{direction="in",type="AXFR",result="ok"}') == 2
        assert server.query("new.example.net.", "TXT").answer[0][0].to_text() == '"added in 2"'


def test_key_secret_from_file_relative_to_config(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "transfer.b64").write_text(KEY_SECRET + "\n")
    (tmp_path / "example.com.zone").write_text(zone_text("example.com.", 1, COM_V1))
    server = start_anydns(tmp_path, f"""keys:
  - name: {KEY_NAME}
    algorithm: {KEY_ALGORITHM}
    secret-file: keys/transfer.b64
acls:
  - name: keyonly
    key: {KEY_NAME}
zones:
  - origin: example.com.
    file: example.com.zone
    allow-transfer: [keyonly]
""")
    try:
        wait_for(lambda: server.serial("example.com.") == 1, "serial 1", watch=(server,))
        records = xfr(server, "example.com.", keyring=KEYRING, keyname=KEY_NAME)
        assert "www.example.com. 300 IN A 192.0.2.80" in records
        assert server.query("example.com.", "AXFR", tcp=True).rcode() == dns.rcode.REFUSED
    finally:
        server.stop()


def test_ixfr_history_is_bounded_by_journal_max_entries(tmp_path):
    zone, server = _ixfr_primary(tmp_path, max_entries=1)
    try:
        wait_for(lambda: server.serial("ixfr.test.") == 1, "serial 1", watch=(server,))
        for serial, body in ((2, IXFR_V2), (3, IXFR_V2 + "new A 192.0.2.3\n")):
            zone.write_text(zone_text("ixfr.test.", serial, body))
            server.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: server.serial("ixfr.test.") == serial, f"serial {serial} after SIGHUP",
                     watch=(server,))
        soa = lambda n: f"ixfr.test. 300 IN SOA ns1.ixfr.test. hostmaster.ixfr.test. {n} 3600 900 604800 60"
        assert xfr(server, "ixfr.test.", "IXFR", serial=2) == [
            soa(3), soa(2), soa(3), "new.ixfr.test. 300 IN A 192.0.2.3", soa(3)], logs(server)
        full = xfr(server, "ixfr.test.", "IXFR", serial=1)  # 1 -> 2 fell out of a 1-entry journal
        assert full[0] == soa(3) and full[1] != soa(1) and full[-1] == soa(3) \
            and set(full[:-1]) == zone_file_records(zone, "ixfr.test."), \
            "IXFR=1 beyond the journal should be the whole zone:\n" + "\n".join(full)
    finally:
        server.stop()


def test_stalled_axfr_client_holds_up_no_other_tcp_client_rfc7766(tmp_path):
    """A client that asks for a large AXFR and reads nothing costs a bounded buffer: other TCP
    clients of the same listener get their answers, and a second full AXFR completes, meanwhile."""
    hosts = "".join(f"host{n} A 198.51.{n // 250 % 250}.{n % 250}\n" for n in range(50_000))
    (tmp_path / "big.test.zone").write_text(zone_text("big.test.", 1, hosts))
    server = start_anydns(tmp_path, """acls:
  - name: local
    address: [127.0.0.0/8]
zones:
  - origin: big.test.
    file: big.test.zone
    allow-transfer: [local]
""")
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        wait_for(lambda: server.serial("big.test.") == 1, "serial 1", watch=(server,))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        query = dns.message.make_query("big.test.", "AXFR").to_wire()
        stalled.sendall(len(query).to_bytes(2, "big") + query)
        for _ in range(20):
            reply = server.query("host123.big.test.", "A", tcp=True, timeout=2)
            assert [rd.to_text() for rd in reply.answer[0]] == ["198.51.0.123"], reply
        records = xfr(server, "big.test.", timeout=10)
        assert len(records) == 50_000 + 3 + 1, f"SOA, NS, ns1 A, 50,000 hosts, SOA: {len(records)}"
        assert records[0] == records[-1] and " SOA " in records[0]
    finally:
        stalled.close()
        server.stop()
