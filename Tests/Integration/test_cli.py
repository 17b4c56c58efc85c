"""End-to-end tests of the real anydns binary: `serve` answered with dig/kdig and raw sockets,
and `check-zone` on deliberately broken zones.

Each serving test asserts on content (records, TTLs, flags), never only on "a reply came".
"""

from __future__ import annotations

import re
import socket
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.rcode
import dns.zone
import pytest

from conftest import ANY_ZONE, DIFF_ZONE, NEG_ZONE, anydns_binary_or_fail
from dnsprobe import Query, ask, normalise_rr, recv_frame
from servers import ZONES, Zone, require_tool

BROKEN = ZONES / "broken"
ANY_NAME = "www.njust.edu.any."


# ------------------------------------------------------------------------------ helpers

def zone_rrset(zone: Zone, name: str, rdtype: str) -> list:
    """Normalised RR strings of one RRset read from a zone file with dnspython."""
    z = dns.zone.from_file(str(zone.path), origin=zone.origin, relativize=False)
    rds = z.get_rdataset(dns.name.from_text(name), dns.rdatatype.from_text(rdtype))
    if rds is None:
        return []
    return sorted(normalise_rr(f"{name.lower()} {rds.ttl} IN {rdtype} {rd.to_text()}")
                  for rd in rds)


def udp_query(server, name: str, rdtype: str, edns: int = -1, payload: int = 1232,
              qid: int | None = None) -> dns.message.Message:
    """One query over UDP with dnspython (edns=-1: no OPT). TC replies are returned as is."""
    q = dns.message.make_query(name, rdtype)
    q.use_edns(edns, payload=payload)  # -1 disables EDNS; 0 or 1 is the EDNS version
    q.flags &= ~dns.flags.RD
    if qid is not None:
        q.id = qid
    return dns.query.udp(q, server.host, port=server.port, timeout=5, ignore_trailing=True)


def tcp_query(server, name: str, rdtype: str, edns: int = -1) -> dns.message.Message:
    """One query over TCP with dnspython."""
    q = dns.message.make_query(name, rdtype)
    q.use_edns(edns)
    q.flags &= ~dns.flags.RD
    return dns.query.tcp(q, server.host, port=server.port, timeout=5)


def rrset_texts(section) -> list:
    """Normalised RR strings of a dnspython message section."""
    return sorted(normalise_rr(line) for rrset in section for line in rrset.to_text().splitlines())


# ------------------------------------------------------------------------ the .any TLD

def any_zone_or_fail() -> Zone:
    """Zones/any.zone must exist: it is the `.any` zone the product ships (README)."""
    if not Path(ANY_ZONE.path).is_file():
        pytest.fail(f"{ANY_ZONE.path} not found: the `.any` zone must be shipped in Zones/",
                    pytrace=False)
    return ANY_ZONE


@pytest.mark.parametrize("rdtype,tool", [("A", "dig"), ("AAAA", "kdig")])
def test_any_tld_name_resolves_to_its_anycast_address(rdtype, tool, any_tld_server):
    """`www.njust.edu.any.` answers with the zone's addresses, TTLs and AA=1 (README)."""
    any_zone_file = any_zone_or_fail()
    expected = zone_rrset(any_zone_file, ANY_NAME, rdtype)
    assert expected, f"{any_zone_file.path} has no {rdtype} record for {ANY_NAME}"
    server = any_tld_server.get()
    reply = ask(Query(ANY_NAME, rdtype, tool=tool), server.host, server.port)
    assert reply.rcode == "NOERROR", reply.raw
    assert reply.aa, f"AA flag missing:\n{reply.raw}"
    assert sorted(reply.answer) == expected, reply.raw


def test_any_zone_passes_check_zone():
    """The shipped `.any` zone is clean for `anydns check-zone`."""
    any_zone_file = any_zone_or_fail()
    r = run_check_zone(anydns_binary_or_fail(), Path(any_zone_file.path), any_zone_file.origin)
    assert r.returncode == 0, r.stderr
    assert "error:" not in r.stderr


# --------------------------------------------------------------------------- serving

def test_tcp_pipelined_queries_on_one_connection_rfc7766(cli_server):
    """Three queries written at once on one TCP connection get three framed answers,
    matched by ID (RFC 7766 6.2.1: pipelining; replies may come in any order)."""
    server = cli_server.get()
    queries = {
        0x1001: ("www.diff.test.", "A", "NOERROR", ["www.diff.test. 3600 IN A 192.0.2.80"]),
        0x1002: ("diff.test.", "MX", "NOERROR", ["diff.test. 3600 IN MX 10 mail.diff.test.",
                                                  "diff.test. 3600 IN MX 20 mail2.outside.example."]),
        0x1003: ("nx.diff.test.", "A", "NXDOMAIN", []),
    }
    wire = b""
    for qid, (name, rdtype, _, _) in queries.items():
        q = dns.message.make_query(name, rdtype)
        q.id = qid
        q.flags &= ~dns.flags.RD
        data = q.to_wire()
        wire += struct.pack(">H", len(data)) + data
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(wire)
        replies = {}
        for _ in queries:
            frame = recv_frame(s)
            assert frame is not None, f"connection closed after {len(replies)} replies"
            msg = dns.message.from_wire(frame)
            replies[msg.id] = msg
    assert sorted(replies) == sorted(queries)
    for qid, (name, rdtype, rcode, answer) in queries.items():
        msg = replies[qid]
        assert msg.question[0].name == dns.name.from_text(name)
        assert dns.rdatatype.to_text(msg.question[0].rdtype) == rdtype
        assert dns.rcode.to_text(msg.rcode()) == rcode
        assert rrset_texts(msg.answer) == sorted(answer)


def test_udp_without_edns_truncates_and_tcp_gives_full_rrset_rfc1035(cli_server):
    """40 A records do not fit 512 bytes: UDP without EDNS sets TC=1 and keeps the question
    (RFC 1035 4.2.1, RFC 2181 9); the same query over TCP returns all 40 (RFC 7766)."""
    server = cli_server.get()
    udp = udp_query(server, "big.diff.test.", "A")
    assert udp.flags & dns.flags.TC, "TC not set on an oversized UDP answer"
    assert len(udp.to_wire()) <= 512
    assert [str(q.name) for q in udp.question] == ["big.diff.test."]
    tcp = tcp_query(server, "big.diff.test.", "A")
    assert not tcp.flags & dns.flags.TC
    expected = [f"big.diff.test. 3600 IN A 192.0.2.{i}" for i in range(1, 41)]
    assert rrset_texts(tcp.answer) == sorted(expected)


def test_udp_with_edns_1232_is_not_truncated_rfc6891(cli_server):
    """With EDNS and a 1232-byte buffer the 40 A records (~700 bytes) fit: no TC."""
    server = cli_server.get()
    reply = udp_query(server, "big.diff.test.", "A", edns=0, payload=1232)
    assert not reply.flags & dns.flags.TC
    assert len(reply.answer[0]) == 40
    assert reply.edns == 0 and reply.payload == 1232, "OPT must be echoed, payload 1232"


def test_qname_case_echoed_exactly_rfc4343(cli_server):
    """The question is echoed byte for byte (`WwW.DiFf.TeSt.`); matching ignores case."""
    server = cli_server.get()
    q = dns.message.make_query("WwW.DiFf.TeSt.", "A")
    q.flags &= ~dns.flags.RD
    sent = q.to_wire()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(sent, (server.host, server.port))
        got = s.recv(65535)
    question_len = len(dns.name.from_text("WwW.DiFf.TeSt.").to_wire()) + 4
    assert got[12:12 + question_len] == sent[12:12 + question_len], "question not echoed as sent"
    msg = dns.message.from_wire(got)
    assert rrset_texts(msg.answer) == ["www.diff.test. 3600 IN A 192.0.2.80"]
    reply = ask(Query("WwW.DiFf.TeSt.", "A", tool="dig"), server.host, server.port)
    assert reply.question == "WwW.DiFf.TeSt.", reply.raw


@pytest.mark.parametrize("zone,qname,ttl", [
    (NEG_ZONE, "nx.neg.test.", 60),      # SOA TTL 60 < MINIMUM 600
    (DIFF_ZONE, "nx.diff.test.", 300),   # SOA TTL 7200 > MINIMUM 300
], ids=["soa-ttl-smaller", "minimum-smaller"])
def test_negative_ttl_is_min_of_soa_ttl_and_minimum_rfc2308(cli_server, zone, qname, ttl):
    """NXDOMAIN and NODATA carry the SOA with TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 5)."""
    server = cli_server.get()
    for name, rcode in ((qname, dns.rcode.NXDOMAIN), (zone.origin, dns.rcode.NOERROR)):
        reply = udp_query(server, name, "SRV" if name == zone.origin else "A")
        assert reply.rcode() == rcode
        assert reply.flags & dns.flags.AA
        assert not reply.answer
        soa = [r for r in reply.authority if r.rdtype == dns.rdatatype.SOA]
        assert soa and soa[0].name == dns.name.from_text(zone.origin)
        assert soa[0].ttl == ttl, f"{name}: negative TTL {soa[0].ttl}, expected {ttl}"


def test_edns_version_1_gets_badvers_rfc6891(cli_server):
    """EDNS version 1 is answered BADVERS with an OPT of version 0 (RFC 6891 6.1.3)."""
    server = cli_server.get()
    reply = udp_query(server, "www.diff.test.", "A", edns=1)
    assert reply.rcode() == dns.rcode.BADVERS
    assert reply.edns == 0
    assert not reply.answer


def test_out_of_zone_query_is_refused(cli_server):
    """A name in no loaded zone gets REFUSED, AA=0, no referral to the root."""
    server = cli_server.get()
    reply = udp_query(server, "www.example.com.", "A")
    assert reply.rcode() == dns.rcode.REFUSED
    assert not reply.flags & dns.flags.AA
    assert not reply.answer and not reply.authority


def test_ipv6_loopback_listener_answers(cli_server):
    """`--listen [::1]:PORT` serves the same data as 127.0.0.1 (README 4: IPv4 and IPv6)."""
    server = cli_server.get()
    if not server.v6:
        pytest.fail("IPv6 loopback (::1) is not available on this machine", pytrace=False)
    q = dns.message.make_query("www.diff.test.", "AAAA")
    reply = dns.query.udp(q, "::1", port=server.port, timeout=5)
    assert rrset_texts(reply.answer) == ["www.diff.test. 3600 IN AAAA 2001:db8::80"]


# ----------------------------------------------------------------------------- check-zone

def run_check_zone(binary: Path, zone_file: Path, origin: str, cwd: Path | None = None):
    """Run `anydns check-zone FILE --origin NAME` and return the CompletedProcess."""
    return subprocess.run([str(binary), "check-zone", str(zone_file), "--origin", origin],
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def marker_line(path: Path) -> int:
    """1-based number of the line carrying the `; <--` marker in a broken zone."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if "; <--" in line:
            return number
    raise AssertionError(f"{path} has no '; <--' marker line")


@dataclass(frozen=True)
class BrokenZone:
    """A zone in zones/broken/ and what check-zone must say about it.

    reported_in: the file named in the message (the included file for $INCLUDE errors);
    line: True when the message carries the marker line of `reported_in`.
    """
    file: str
    exit_code: int
    severity: str          # "error" or "warning"
    keyword: str | None
    reported_in: str | None = None
    line: bool = True

    @property
    def where(self) -> str:
        return self.reported_in or self.file


BROKEN_ZONES = [
    BrokenZone("no-soa.zone", 1, "error", "no SOA", line=False),
    BrokenZone("two-soa.zone", 1, "error", "SOA"),
    BrokenZone("cname-and-other.zone", 1, "error", "CNAME and other data"),
    BrokenZone("below-delegation.zone", 0, "warning", "below delegation"),  # NSD and Knot load it
    BrokenZone("outside-zone.zone", 1, "error", "outside the zone"),
    BrokenZone("bad-rdata.zone", 1, "error", None),
    BrokenZone("include-missing.zone", 1, "error", "cannot open"),
    BrokenZone("include-syntax.zone", 1, "error", None, reported_in="include-syntax.inc"),
    BrokenZone("missing-glue.zone", 0, "warning", "glue", line=False),
]


def message_regex(case: BrokenZone, line: int | None) -> re.Pattern:
    """`FILE:LINE: severity: ...` (or `FILE: severity:` without a line); FILE may carry a
    directory prefix."""
    where = r"(?:.*/)?" + re.escape(case.where)
    pos = rf":{line}" if line is not None else (r"(?::\d+)?" if not case.line else "")
    return re.compile(rf"^{where}{pos}: {case.severity}: (.*)$", re.M)


@pytest.mark.parametrize("case", BROKEN_ZONES, ids=lambda c: c.file)
def test_check_zone_reports_file_line_and_reason(case):
    """check-zone exits 1 with `FILE:LINE: error: MESSAGE` for each kind of zone error,
    0 with a `warning:` for missing glue (README)."""
    line = marker_line(BROKEN / case.where) if case.line else None
    r = run_check_zone(anydns_binary_or_fail(), Path(case.file), "broken.test.", cwd=BROKEN)
    assert r.returncode == case.exit_code, (
        f"exit {r.returncode}, expected {case.exit_code}\nstderr:\n{r.stderr}")
    pattern = message_regex(case, line)
    messages = pattern.findall(r.stderr)
    assert messages, (f"no line matching {pattern.pattern!r} in stderr:\n{r.stderr}")
    if case.keyword:
        assert any(case.keyword.lower() in m.lower() for m in messages), (
            f"no {case.severity} mentioning {case.keyword!r}:\n{r.stderr}")
    if case.exit_code == 0:
        assert "error:" not in r.stderr


@pytest.mark.parametrize("zone", [DIFF_ZONE, NEG_ZONE], ids=lambda z: z.origin)
def test_check_zone_accepts_clean_test_zones(zone):
    """The zones the integration tests serve are clean (they also load in NSD and Knot)."""
    r = run_check_zone(anydns_binary_or_fail(), Path(zone.path), zone.origin)
    assert r.returncode == 0, r.stderr
    assert "error:" not in r.stderr


def test_check_zone_follows_include():
    """A zone built with `$INCLUDE` of an existing file is accepted."""
    r = run_check_zone(anydns_binary_or_fail(), Path("include-ok.zone"), "broken.test.",
                       cwd=BROKEN)
    assert r.returncode == 0, r.stderr
    assert "error:" not in r.stderr


@pytest.mark.parametrize("case", [c for c in BROKEN_ZONES
                                  if c.file not in ("below-delegation.zone", "missing-glue.zone")],
                         ids=lambda c: c.file)
def test_broken_zone_expectations_agree_with_nsd_checkzone(case):
    """Harness self-check: NSD's checker flags the same file and line we expect
    (NSD does not check occluded data or glue, so those two are not compared)."""
    r = subprocess.run([require_tool("nsd-checkzone"), "broken.test", case.file],
                       capture_output=True, text=True, cwd=BROKEN, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    if case.line:
        assert f"{case.where}:{marker_line(BROKEN / case.where)}:" in out, out


def test_check_zone_origin_from_origin_directive_else_file_name(tmp_path):
    """Without --origin, check-zone takes the origin from the file's $ORIGIN, else from the
    file name and says so (as kzonecheck)."""
    binary = anydns_binary_or_fail()
    body = "@ 3600 IN SOA ns1 hostmaster 1 3600 900 604800 300\n@ NS ns1\nns1 A 192.0.2.1\n"
    declared = tmp_path / "anything.txt"
    declared.write_text("; a comment first\n$TTL 3600\n$ORIGIN example.org.\n" + body)
    result = subprocess.run([str(binary), "check-zone", str(declared)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "zone example.org.: loaded serial 1, 3 records\n"
    assert result.stderr == ""
    named = tmp_path / "example.net.zone"
    named.write_text(body)
    result = subprocess.run([str(binary), "check-zone", str(named)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "zone example.net.: loaded serial 1, 3 records\n"
    assert result.stderr == (f"{named}: no $ORIGIN and no --origin: origin example.net. "
                             "taken from the file name\n")


def test_a_missing_zone_file_is_one_error(tmp_path):
    result = subprocess.run([str(anydns_binary_or_fail()), "check-zone", str(tmp_path / "nothere.zone"),
                             "--origin", "nothere.test."], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (f"{tmp_path}/nothere.zone: error: cannot open zone file {tmp_path}/nothere.zone: "
                             "No such file or directory\nzone nothere.test.: not loaded, 1 error(s)\n")


def test_a_missing_zones_directory_prints_the_serve_usage(tmp_path):
    result = subprocess.run([str(anydns_binary_or_fail()), "serve", "--zones-dir", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 64  # EX_USAGE
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: cannot read the zones directory {tmp_path}/none (--zones-dir): No such file or directory"
    assert lines[1].startswith("Usage: anydns serve [--config <config>]"), result.stderr
    assert lines[2] == "  See 'anydns serve --help' for more information."
