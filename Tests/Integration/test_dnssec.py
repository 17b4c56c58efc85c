"""DNSSEC serving: validation with delv, and the exact RRSIG/NSEC/NSEC3 content of answers.

The zones are signed at session start (dnssec_support.py, fixture `signed_zones`): nsec.test.
(NSEC), nsec3.test. (NSEC3, RFC 9276 parameters) and optout.test. (NSEC3 with opt-out spans),
each with a signed child secure.<zone> and an unsigned child insecure.<zone>.

Most tests run against three servers loading the same signed files (`kind`):
  anydns  the server under test (ANYDNS_SUBJECT's kind) -- the real test
  nsd     NSD 4.6 \\ reference rows: prove that the fixtures and the assertions are right
  knot    Knot 3.2 /  (an assertion that fails for a reference is a bug of this file)

Validation uses BIND's delv 9.18 against the server on loopback with the zone's KSK as the
only trust anchor: `delv @127.0.0.1 -p PORT -a ANCHOR +root=ZONE NAME TYPE`. delv treats the
server as a resolver, so it cannot follow a referral ("non-improving referral"): names below a
delegation are validated against a server that also serves the child zones.

Content checks parse kdig's output (dnsprobe) or dnspython messages and compare every
RRSIG/NSEC/NSEC3 with the record in the signed zone file.
"""

from __future__ import annotations

import base64
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from dnsprobe import Query, ask, normalise_rr, send_raw
from dnssec_support import DENIALS, SignedZone
from servers import require_tool

REFERENCE_KINDS = ("nsd", "knot")
KINDS = ("anydns",) + REFERENCE_KINDS

FULL = "fully validated"
NEG_FULL = "negative response, fully validated"
UNSIGNED = "unsigned answer"


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(params=KINDS)
def kind(request):
    """Which server answers: the subject ("anydns") or a reference (fixture self-check)."""
    return request.param


@pytest.fixture(params=DENIALS)
def denial(request):
    """Which signed zone: "nsec", "nsec3" or "optout"."""
    return request.param


class Lazy:
    """Stands for the object `make()` returns, made at first attribute access: inside the test,
    so that a server that cannot start or zones that cannot be signed FAIL the test (pytest
    reports a failure in a fixture as an error)."""

    def __init__(self, make):
        self._make = make
        self._obj = None

    def __getattr__(self, name):
        if self._obj is None:
            self._obj = self._make()
        return getattr(self._obj, name)


@pytest.fixture
def zone(signed_zones, denial) -> SignedZone:
    return Lazy(lambda: signed_zones.get()[denial])


@pytest.fixture
def server(signed_servers, kind):
    """The server of this kind serving the three signed parent zones."""
    return Lazy(signed_servers[kind].get)


@pytest.fixture
def family_server(signed_family_servers, kind):
    """The server of this kind serving the parents and their child zones too."""
    return Lazy(signed_family_servers[kind].get)


# ------------------------------------------------------------------------ zone contents

@lru_cache(maxsize=None)
def _load(path: str, origin: str) -> dns.zone.Zone:
    return dns.zone.from_file(path, origin=origin, relativize=False)


def zone_data(zone: SignedZone) -> dns.zone.Zone:
    """The signed zone file, parsed by dnspython (the truth the answers are compared with)."""
    return _load(str(zone.path), zone.origin)


def zone_rrsig(zone: SignedZone, owner: str, covered: str):
    """The RRSIG rdata over (owner, covered) in the signed file."""
    rds = zone_data(zone).get_rdataset(dns.name.from_text(owner), dns.rdatatype.RRSIG,
                                       dns.rdatatype.from_text(covered))
    assert rds is not None and len(rds) == 1, f"fixture: no single RRSIG {covered} at {owner}"
    return rds[0]


def zone_denial_records(zone: SignedZone) -> list:
    """[(owner Name, NSEC or NSEC3 rdata)] of the signed file."""
    rdtype = dns.rdatatype.NSEC if zone.denial == "nsec" else dns.rdatatype.NSEC3
    out = []
    for name, node in zone_data(zone).nodes.items():
        rds = node.get_rdataset(dns.rdataclass.IN, rdtype)
        if rds is not None:
            out.extend((name, rd) for rd in rds)
    return out


def nsec3_hash_label(zone: SignedZone, name: str) -> str:
    param = zone_data(zone).get_rdataset(dns.name.from_text(zone.origin),
                                         dns.rdatatype.NSEC3PARAM)[0]
    return dns.dnssec.nsec3_hash(name, param.salt or None, param.iterations,
                                 param.algorithm).lower()


def _next_label(rd) -> str:
    """The next hashed owner label of an NSEC3 rdata, lowercase base32hex."""
    return base64.b32hexencode(rd.next).decode().lower()


def denial_record(zone: SignedZone, name: str, how: str) -> str:
    """Owner (lowercase text) of the NSEC/NSEC3 of the signed file that `how` ("matches" or
    "covers") `name`. NSEC3 compares hashes; NSEC uses the canonical order (RFC 4034 6.1)."""
    target = dns.name.from_text(name)
    found = []
    for owner, rd in zone_denial_records(zone):
        if zone.denial == "nsec":
            nxt = rd.next
            if how == "matches":
                hit = owner == target
            else:
                hit = (owner < target < nxt) or (nxt <= owner and (target > owner
                                                                    or target < nxt))
        else:
            h = nsec3_hash_label(zone, name)
            own = owner.labels[0].decode().lower()
            nxt = _next_label(rd)
            if how == "matches":
                hit = own == h
            else:
                hit = (own < h < nxt) or (nxt <= own and (h > own or h < nxt))
        if hit:
            found.append(owner.to_text().lower())
    assert len(found) == 1, f"fixture: {len(found)} {zone.denial} records {how} {name}: {found}"
    return found[0]


def no_ds_proof(zone: SignedZone, cut: str) -> set:
    """The records proving that the insecure delegation `cut` has no DS: its own NSEC/NSEC3, or
    in the opt-out zone (where it has none) the apex's NSEC3 and the one covering it
    (RFC 5155 7.2.7)."""
    if zone.denial == "optout":
        return {denial_record(zone, zone.origin, "matches"), denial_record(zone, cut, "covers")}
    return {denial_record(zone, cut, "matches")}


def rel(zone: SignedZone, relative: str) -> str:
    return zone.name(relative)


# ---------------------------------------------------------------------------- replies

@dataclass
class RR:
    owner: str
    ttl: int
    rdtype: str
    rdata: object
    text: str


def parse_rrs(lines) -> list:
    """Normalised `owner ttl class type rdata` strings (dnsprobe) as RR values."""
    out = []
    for line in lines:
        owner, ttl, rdclass, rdtype, rdata = line.split(None, 4)
        rd = dns.rdata.from_text(dns.rdataclass.from_text(rdclass),
                                 dns.rdatatype.from_text(rdtype), rdata, origin=dns.name.root,
                                 relativize=False)
        out.append(RR(owner.lower(), int(ttl), rdtype, rd, line))
    return out


def kdig(server, name: str, rdtype: str, dnssec: bool = True, **kw):
    """One query with kdig (+dnssec), parsed: (Reply, answer RRs, authority RRs)."""
    reply = ask(Query(name, rdtype, dnssec=dnssec, tool="kdig", **kw), server.host, server.port)
    assert reply.rcode != "NO REPLY", f"no reply to {name} {rdtype}:\n{reply.raw}"
    return reply, parse_rrs(reply.answer), parse_rrs(reply.authority)


def of_type(rrs, rdtype: str, covered: str | None = None) -> list:
    out = [r for r in rrs if r.rdtype == rdtype]
    if covered:
        out = [r for r in out if dns.rdatatype.to_text(r.rdata.type_covered) == covered]
    return out


def denial_owners(zone: SignedZone, rrs) -> set:
    return {r.owner for r in of_type(rrs, "NSEC" if zone.denial == "nsec" else "NSEC3")}


def assert_signed_like_zone(zone: SignedZone, rrs, owner: str, rdtype: str,
                            zone_owner: str | None = None) -> None:
    """`rrs` holds exactly one RRSIG over (owner, rdtype), equal to the file's RRSIG at
    zone_owner (default owner; a wildcard's RRSIG is the one of `*.<...>`)."""
    sigs = [r for r in of_type(rrs, "RRSIG", rdtype) if r.owner == owner.lower()]
    assert len(sigs) == 1, f"expected one RRSIG {rdtype} owned by {owner}, got " \
                           f"{[r.text for r in of_type(rrs, 'RRSIG')]}"
    assert sigs[0].rdata == zone_rrsig(zone, zone_owner or owner, rdtype), (
        f"RRSIG {rdtype} at {owner} differs from the signed zone's:\n{sigs[0].text}")


def assert_denial_set(zone: SignedZone, rrs, expected: set, what: str) -> None:
    """The NSEC/NSEC3 RRs of a section are exactly `expected`, each with its RRSIG from the
    signed file, and each equal to the file's record."""
    got = denial_owners(zone, rrs)
    assert got == expected, (f"{what}: {zone.denial} owners {sorted(got)}, expected "
                             f"{sorted(expected)}\n" + "\n".join(r.text for r in rrs))
    rdtype = "NSEC" if zone.denial == "nsec" else "NSEC3"
    for owner in expected:
        records = [r for r in of_type(rrs, rdtype) if r.owner == owner]
        file_rds = zone_data(zone).get_rdataset(dns.name.from_text(owner),
                                                dns.rdatatype.from_text(rdtype))
        assert len(records) == 1 and records[0].rdata == file_rds[0], \
            f"{what}: {rdtype} at {owner} differs from the signed zone's: {records}"
        assert_signed_like_zone(zone, rrs, owner, rdtype)


def dnspython_query(server, name: str, rdtype: str, dnssec: bool = True, payload: int = 1232,
                    flags: int = 0, tcp: bool = False, edns: bool = True):
    """One query built with dnspython and sent over a raw socket: (message, wire length)."""
    q = dns.message.make_query(name, rdtype, use_edns=0 if edns else False, payload=payload,
                               want_dnssec=dnssec)
    q.flags = flags  # no RD; AD/CD as given
    res = send_raw(server.host, server.port, q.to_wire(), tcp=tcp, timeout=3.0)
    assert res.rcode != "DROP", f"no reply to {name} {rdtype} ({res.detail})"
    return dns.message.from_wire(res.packet), len(res.packet)


# ------------------------------------------------------------------------------- delv

@dataclass
class DelvResult:
    statuses: list   # e.g. ["fully validated"], in output order
    records: list    # "owner TYPE rdata" (no TTL: delv lowers TTLs of some answers)
    negatives: list  # e.g. ["nx.nsec.test. NXDOMAIN"], from `; name ttl IN \-ANY ;-$NXDOMAIN`
    output: str


STATUS_RE = re.compile(r"^; ([a-z][a-z ,]*)$")
NEGATIVE_RE = re.compile(r"^; (\S+)\s+\d+\s+IN\s+\\-\S+\s+;-\$(NXDOMAIN|NXRRSET)")
DELV_FAILURES = ("resolution failed: broken trust chain", "no valid", "insecurity proof failed",
                 "bogus", "validation failed", "FORMERR", "SERVFAIL", "timed out")


def delv(server, zone: SignedZone, name: str, rdtype: str) -> DelvResult:
    """Resolve and validate NAME TYPE through the server with the zone's KSK as trust anchor."""
    argv = [require_tool("delv"), f"@{server.host}", "-p", str(server.port),
            "-a", str(zone.anchor), f"+root={zone.origin}", name, rdtype]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    statuses, records, negatives = [], [], []
    for line in proc.stdout.splitlines():
        m = STATUS_RE.match(line)
        n = NEGATIVE_RE.match(line)
        if m:
            statuses.append(m.group(1))
        elif n:
            negatives.append(f"{n.group(1).lower()} {n.group(2)}")
        elif line.strip() and not line.startswith(";"):
            owner, _ttl, rdclass, rest = line.split(None, 3)
            norm = normalise_rr(f"{owner} 0 {rdclass} {rest}").split(" ", 4)
            records.append(" ".join([norm[0], norm[3], norm[4]]))
    return DelvResult(statuses, records, negatives, out)


@dataclass(frozen=True)
class DelvCase:
    """One delv query (names relative to the zone) and its expected outcome."""
    name: str
    rdtype: str
    statuses: tuple                 # expected status lines, in order
    optout_statuses: tuple = ()     # in optout.test. when different (see OPTOUT_WILDCARD)
    records: tuple = ()             # "relative-owner TYPE rdata" that must be printed
    negative: str = ""              # "relative-owner NXDOMAIN|NXRRSET" that must be printed
    rule: str = ""

    def expected(self, zone: SignedZone) -> list:
        return list(self.optout_statuses if zone.denial == "optout" and self.optout_statuses
                    else self.statuses)


# In optout.test. every NSEC3 carries the opt-out flag, so the NSEC3 that proves "no closer
# match" for a wildcard answer is an opt-out one: BIND then cannot rule out an unsigned
# delegation at the next closer name and calls the answer insecure (delv: "unsigned answer";
# validator: "NSEC3 indicates optout ... optout proof found"). A missing proof is bogus.
OPTOUT_WILDCARD = (UNSIGNED,)

DELV_CASES = [
    DelvCase("@", "SOA", (FULL,), rule="apex"),
    DelvCase("@", "DNSKEY", (FULL,), rule="dnskey signed by the ksk"),
    DelvCase("@", "MX", (FULL,), records=("@ MX 10 mail",), rule="positive"),
    DelvCase("www", "A", (FULL,), records=("www A 192.0.2.80",), rule="positive"),
    DelvCase("a.b.c", "A", (FULL,), records=("a.b.c A 192.0.2.3",), rule="below ent"),
    DelvCase("foo.wild", "A", (FULL,), OPTOUT_WILDCARD, records=("foo.wild A 192.0.2.100",),
             rule="wildcard"),
    DelvCase("a.b.wild", "TXT", (FULL,), OPTOUT_WILDCARD,
             records=('a.b.wild TXT "wildcard text"',), rule="wildcard two labels deep"),
    DelvCase("cname", "A", (FULL,), records=("cname CNAME www", "www A 192.0.2.80"),
             rule="cname to in-zone name"),
    DelvCase("foo.cwild", "A", (FULL,), (UNSIGNED, FULL),
             records=("foo.cwild CNAME www", "www A 192.0.2.80"), rule="wildcard cname"),
    DelvCase("cname-wild", "A", (FULL,), (FULL, UNSIGNED),
             records=("cname-wild CNAME foo.wild", "foo.wild A 192.0.2.100"),
             rule="cname to wildcard"),
    DelvCase("www.dname", "A", (FULL,), records=("www.dtarget A 192.0.2.150",), rule="dname"),
    DelvCase("secure", "DS", (FULL,), rule="ds at secure delegation"),
    DelvCase("cname-nx", "A", (FULL,), records=("cname-nx CNAME nothere",),
             negative="nothere NXDOMAIN", rule="cname to nxdomain"),
    DelvCase("nx", "A", (NEG_FULL,), negative="nx NXDOMAIN", rule="nxdomain"),
    DelvCase("nx.a.b.c", "AAAA", (NEG_FULL,), negative="nx.a.b.c NXDOMAIN",
             rule="nxdomain below existing name"),
    DelvCase("www", "TXT", (NEG_FULL,), negative="www NXRRSET", rule="nodata"),
    DelvCase("b.c", "A", (NEG_FULL,), negative="b.c NXRRSET", rule="nodata ent"),
    DelvCase("c", "MX", (NEG_FULL,), negative="c NXRRSET", rule="nodata ent"),
    DelvCase("wild", "A", (NEG_FULL,), negative="wild NXRRSET", rule="nodata wildcard parent"),
    DelvCase("foo.wild", "MX", (NEG_FULL,), negative="foo.wild NXRRSET", rule="wildcard nodata"),
    DelvCase("exists.wild", "TXT", (NEG_FULL,), negative="exists.wild NXRRSET",
             rule="nodata where a wildcard would match"),
    DelvCase("insecure", "DS", (NEG_FULL,), negative="insecure NXRRSET",
             rule="ds at insecure delegation"),
    DelvCase("unsigned", "DS", (NEG_FULL,), negative="unsigned NXRRSET",
             rule="ds at insecure delegation"),
]


def _relative_record(zone: SignedZone, spec: str) -> str:
    owner, rdtype, rdata = spec.split(None, 2)
    rd = dns.rdata.from_text("IN", rdtype, rdata, origin=dns.name.from_text(zone.origin),
                             relativize=False)
    norm = normalise_rr(f"{zone.name(owner)} 0 IN {rdtype} {rd.to_text()}").split(" ", 4)
    return " ".join([norm[0], norm[3], norm[4]])


def check_delv(result: DelvResult, zone: SignedZone, case: DelvCase) -> None:
    where = f"delv {case.name} {case.rdtype} in {zone.origin} ({case.rule})"
    assert result.statuses == case.expected(zone), (
        f"{where}: statuses {result.statuses}, expected {case.expected(zone)}\n{result.output}")
    bad = [f for f in DELV_FAILURES if f in result.output]
    assert not bad, f"{where}: delv reports {bad}\n{result.output}"
    for spec in case.records:
        want = _relative_record(zone, spec)
        assert want in result.records, f"{where}: {want!r} not in the answer\n{result.output}"
    if case.negative:
        owner, what = case.negative.split()
        want = f"{zone.name(owner).lower()} {what}"
        assert want in result.negatives, f"{where}: no {want}\n{result.output}"
    if case.rdtype == "DS" and case.statuses == (FULL,):
        want = _relative_record(zone, f"{case.name} DS {zone.child.ds}")
        assert want in result.records, f"{where}: DS {zone.child.ds} missing\n{result.output}"


@pytest.mark.parametrize("case", DELV_CASES, ids=lambda c: f"{c.name}/{c.rdtype}")
def test_delv_validates(case, zone, server, kind):
    """delv with the zone's KSK as trust anchor validates the answer (positive: "fully
    validated"; NXDOMAIN/NODATA: "negative response, fully validated"; RFC 4035 5)."""
    check_delv(delv(server, zone, zone.name(case.name), case.rdtype), zone, case)


FAMILY_CASES = [
    DelvCase("www.secure", "A", (FULL,), records=("www.secure A 192.0.2.211",),
             rule="below a secure delegation: DS from the parent, DNSKEY from the child"),
    DelvCase("www.insecure", "A", (UNSIGNED,), records=("www.insecure A 192.0.2.221",),
             rule="below an insecure delegation: the parent proves there is no DS"),
    DelvCase("secure", "DS", (FULL,), rule="ds from the parent side"),
    DelvCase("insecure", "DS", (NEG_FULL,), negative="insecure NXRRSET",
             rule="ds nodata from the parent side"),
]


@pytest.mark.parametrize("case", FAMILY_CASES, ids=lambda c: f"{c.name}/{c.rdtype}")
def test_delv_validates_across_delegations(case, zone, family_server, kind):
    """With the child zones served too, delv validates through the delegation: secure below
    secure.<zone>, insecure ("unsigned answer") below insecure.<zone>."""
    check_delv(delv(family_server, zone, zone.name(case.name), case.rdtype), zone, case)


# ----------------------------------------------------------- exact content (kdig +dnssec)

def wildcard_proof(zone: SignedZone, qname: str, closest_encloser: str) -> set:
    """The no-closer-match proof of a wildcard answer: NSEC covering QNAME (RFC 4035
    3.1.3.3), or NSEC3 covering the next closer name (RFC 5155 7.2.6)."""
    if zone.denial == "nsec":
        return {denial_record(zone, qname, "covers")}
    labels = dns.name.from_text(qname).labels
    ce_labels = len(dns.name.from_text(closest_encloser).labels)
    next_closer = dns.name.Name(labels[-(ce_labels + 1):]).to_text()
    return {denial_record(zone, next_closer, "covers")}


@pytest.mark.parametrize("relative,rdtype,rdata", [
    ("foo.wild", "A", "192.0.2.100"), ("a.b.wild", "TXT", '"wildcard text"')])
def test_wildcard_answer_carries_rrsig_and_no_closer_match_proof(relative, rdtype, rdata, zone,
                                                                 server, kind):
    """Wildcard expansion with DO=1 (RFC 4035 3.1.3.3, RFC 5155 7.2.6): the RRSIG is owned by
    QNAME, its labels field is the wildcard owner's label count without `*` (not QNAME's), it
    is the signed zone's RRSIG of the wildcard; AUTHORITY proves no closer match (regression:
    servers have shipped wildcard answers without the proof or without the RRSIG)."""
    qname = zone.name(relative)
    reply, answer, authority = kdig(server, qname, rdtype)
    assert (reply.rcode, reply.aa) == ("NOERROR", True), reply.raw
    data = of_type(answer, rdtype)
    assert [(r.owner, r.rdata.to_text()) for r in data] == [(qname, rdata)], reply.raw
    sig = of_type(answer, "RRSIG", rdtype)
    assert len(sig) == 1 and sig[0].owner == qname, f"no RRSIG owned by {qname}:\n{reply.raw}"
    wildcard_owner = zone.name("*.wild")
    assert sig[0].rdata.labels == len(dns.name.from_text(wildcard_owner).labels) - 2, (
        f"RRSIG labels {sig[0].rdata.labels}: must count {wildcard_owner} without '*' and "
        f"the root, not {qname}")
    assert sig[0].rdata.labels < len(dns.name.from_text(qname).labels) - 1
    assert_signed_like_zone(zone, answer, qname, rdtype, zone_owner=wildcard_owner)
    assert_denial_set(zone, authority, wildcard_proof(zone, qname, zone.name("wild")),
                      f"wildcard answer {qname} {rdtype}")


def nxdomain_proof(zone: SignedZone, qname: str, closest_encloser: str) -> set:
    """RFC 4035 3.1.3.2 (NSEC covering QNAME and NSEC covering the wildcard) or RFC 5155
    7.2.2 (NSEC3 matching the closest encloser, covering the next closer name, covering the
    wildcard at the closest encloser)."""
    wildcard = f"*.{closest_encloser}"
    if zone.denial == "nsec":
        return {denial_record(zone, qname, "covers"), denial_record(zone, wildcard, "covers")}
    labels = dns.name.from_text(qname).labels
    ce_labels = len(dns.name.from_text(closest_encloser).labels)
    next_closer = dns.name.Name(labels[-(ce_labels + 1):]).to_text()
    return {denial_record(zone, closest_encloser, "matches"),
            denial_record(zone, next_closer, "covers"),
            denial_record(zone, wildcard, "covers")}


@pytest.mark.parametrize("relative,encloser", [("nx", "@"), ("nx.a.b.c", "a.b.c"),
                                               ("x.y.b.c", "b.c")])
def test_nxdomain_proof(relative, encloser, zone, server, kind):
    """NXDOMAIN with DO=1: SOA and its RRSIG, and exactly the NSEC/NSEC3 records of the proof
    (NSEC3: 2 or 3 distinct, RFC 5155 7.2.2), each with the signed zone's RRSIG."""
    qname = zone.name(relative)
    reply, answer, authority = kdig(server, qname, "A")
    assert (reply.rcode, reply.aa, answer) == ("NXDOMAIN", True, []), reply.raw
    soa = of_type(authority, "SOA")
    assert [r.owner for r in soa] == [zone.origin], reply.raw
    assert_signed_like_zone(zone, authority, zone.origin, "SOA")
    expected = nxdomain_proof(zone, qname, zone.name(encloser))
    assert len(expected) in ((1, 2) if zone.denial == "nsec" else (2, 3))
    assert_denial_set(zone, authority, expected, f"NXDOMAIN {qname}")
    assert {r.rdtype for r in authority} == {"SOA", "RRSIG", of_denial(zone)}, reply.raw


@pytest.mark.parametrize("denial", ["nsec3", "optout"])  # overrides the fixture: NSEC3 zones
@pytest.mark.parametrize("rdtype", ["NSEC3", "A"])
def test_nsec3_owner_name_is_nxdomain(rdtype, zone, server, kind):
    """A query for the owner name of an NSEC3 RR (a hash label, no data there or below) is
    answered as a Name Error (RFC 5155 7.2.8), with the NXDOMAIN proof -- even for QTYPE
    NSEC3: the NSEC3 RRs are not data of that name."""
    qname = f"{nsec3_hash_label(zone, zone.name('www'))}.{zone.origin}"
    reply, answer, authority = kdig(server, qname, rdtype)
    assert (reply.rcode, reply.aa, answer) == ("NXDOMAIN", True, []), reply.raw
    assert [r.owner for r in of_type(authority, "SOA")] == [zone.origin], reply.raw
    assert_denial_set(zone, authority, nxdomain_proof(zone, qname, zone.origin),
                      f"NXDOMAIN {qname} {rdtype}")


def of_denial(zone: SignedZone) -> str:
    return "NSEC" if zone.denial == "nsec" else "NSEC3"


def test_wildcard_nodata_proof(zone, server, kind):
    """Wildcard NODATA (foo.wild MX) with DO=1: NSEC3 matching the closest encloser wild.<zone>,
    NSEC3 covering the next closer foo.wild.<zone> and NSEC3 matching *.wild.<zone> without MX
    in its bitmap (RFC 5155 7.2.5); NSEC: NSEC covering QNAME and NSEC of the wildcard without
    MX (RFC 4035 3.1.3.4). Regression: the NSEC3 matching the wildcard has been left out."""
    qname = zone.name("foo.wild")
    wildcard = zone.name("*.wild")
    reply, answer, authority = kdig(server, qname, "MX")
    assert (reply.rcode, reply.aa, answer) == ("NOERROR", True, []), reply.raw
    assert [r.owner for r in of_type(authority, "SOA")] == [zone.origin], reply.raw
    if zone.denial == "nsec":
        expected = {denial_record(zone, qname, "covers"), denial_record(zone, wildcard, "matches")}
    else:
        expected = {denial_record(zone, zone.name("wild"), "matches"),
                    denial_record(zone, qname, "covers"),
                    denial_record(zone, wildcard, "matches")}
    assert_denial_set(zone, authority, expected, f"wildcard NODATA {qname} MX")
    matching = [r for r in of_type(authority, of_denial(zone))
                if r.owner == denial_record(zone, wildcard, "matches")][0]
    types = {dns.rdatatype.to_text(t) for t in _bitmap_types(matching.rdata)}
    assert {"A", "TXT"} <= types and "MX" not in types, matching.text


def _bitmap_types(rd) -> list:
    out = []
    for window, bitmap in rd.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    out.append(window * 256 + i * 8 + bit)
    return out


@pytest.mark.parametrize("relative,rdtype", [("www", "TXT"), ("b.c", "A"), ("insecure", "DS")])
def test_nodata_proof(relative, rdtype, zone, server, kind):
    """NODATA with DO=1: the NSEC/NSEC3 matching QNAME without the type (RFC 4035 3.1.3.1,
    RFC 5155 7.2.3); for a DS query at an insecure delegation in an opt-out zone, where no
    NSEC3 matches, the closest provable encloser proof with an opt-out NSEC3 (7.2.4)."""
    qname = zone.name(relative)
    reply, answer, authority = kdig(server, qname, rdtype)
    assert (reply.rcode, reply.aa, answer) == ("NOERROR", True, []), reply.raw
    assert [r.owner for r in of_type(authority, "SOA")] == [zone.origin], reply.raw
    if zone.denial == "optout" and qname in zone.opted_out:
        expected = {denial_record(zone, zone.origin, "matches"),
                    denial_record(zone, qname, "covers")}
        covering = [r for r in of_type(authority, "NSEC3")
                    if r.owner == denial_record(zone, qname, "covers")][0]
        assert covering.rdata.flags & 1, f"covering NSEC3 without opt-out: {covering.text}"
    elif zone.denial == "nsec" and relative == "b.c":
        # an empty non-terminal has no NSEC: the one covering it, whose next name is below
        # it (a.b.c), proves it exists without data
        expected = {denial_record(zone, qname, "covers")}
        nsec = [r for r in of_type(authority, "NSEC") if r.owner in expected]
        assert nsec and nsec[0].rdata.next.is_subdomain(dns.name.from_text(qname)), reply.raw
    else:
        expected = {denial_record(zone, qname, "matches")}
    assert_denial_set(zone, authority, expected, f"NODATA {qname} {rdtype}")


@pytest.mark.parametrize("relative", ["insecure", "host.insecure", "unsigned"])
def test_insecure_referral_proof(relative, zone, server, kind):
    """Referral to an insecure delegation with DO=1: NS in AUTHORITY, no DS, and the proof
    that there is no DS: the NSEC/NSEC3 of the delegation (RFC 4035 3.1.4.1, RFC 5155 7.2.7)
    or, when it is opted out, the closest provable encloser proof with opt-out (7.2.7)."""
    cut = zone.name(relative.split(".")[-1])
    reply, answer, authority = kdig(server, zone.name(relative), "A")
    assert (reply.rcode, reply.aa, answer) == ("NOERROR", False, []), reply.raw
    assert {r.owner for r in of_type(authority, "NS")} == {cut}, reply.raw
    assert not of_type(authority, "DS") and not of_type(authority, "SOA"), reply.raw
    assert not [r for r in of_type(authority, "RRSIG", "NS")], "NS of a delegation is unsigned"
    expected = no_ds_proof(zone, cut)
    assert_denial_set(zone, authority, expected, f"referral to {cut}")


def test_secure_referral_carries_signed_ds(zone, server, kind):
    """Referral to a secure delegation with DO=1: NS (unsigned), DS and its RRSIG from the
    signed file, no NSEC/NSEC3 (RFC 4035 3.1.4)."""
    cut = zone.name("secure")
    reply, answer, authority = kdig(server, zone.name("www.secure"), "A")
    assert (reply.rcode, reply.aa, answer) == ("NOERROR", False, []), reply.raw
    assert {r.owner for r in of_type(authority, "NS")} == {cut}, reply.raw
    assert [r.rdata.to_text() for r in of_type(authority, "DS")] == [
        dns.rdata.from_text("IN", "DS", zone.child.ds).to_text()], reply.raw
    assert_signed_like_zone(zone, authority, cut, "DS")
    assert not denial_owners(zone, authority), reply.raw


def test_dnskey_signed_by_ksk(zone, server, kind):
    """DNSKEY with DO=1: both keys, the RRSIG made by the KSK (key tag), others by the ZSK."""
    reply, answer, _ = kdig(server, zone.origin, "DNSKEY")
    keys = {(r.rdata.flags, dns.dnssec.key_id(r.rdata)) for r in of_type(answer, "DNSKEY")}
    assert keys == {(257, zone.ksk.tag), (256, zone.zsk.tag)}, reply.raw
    sigs = of_type(answer, "RRSIG", "DNSKEY")
    assert [s.rdata.key_tag for s in sigs] == [zone.ksk.tag], reply.raw
    assert_signed_like_zone(zone, answer, zone.origin, "DNSKEY")
    reply, answer, _ = kdig(server, zone.name("www"), "A")
    assert [s.rdata.key_tag for s in of_type(answer, "RRSIG")] == [zone.zsk.tag], reply.raw


# ------------------------------------------------------------------- DO bit, AD, CD

DNSSEC_TYPES = {dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3}

DO0_QUERIES = [("@", "SOA"), ("www", "A"), ("nx", "A"), ("www", "TXT"), ("b.c", "A"),
               ("foo.wild", "A"), ("foo.wild", "MX"), ("www.secure", "A"), ("insecure", "DS"),
               ("secure", "DS"), ("@", "DNSKEY"), ("www.dname", "A"), ("@", "MX")]


@pytest.mark.parametrize("relative,rdtype", DO0_QUERIES, ids=lambda v: v)
def test_do0_gets_no_dnssec_records(relative, rdtype, zone, server, kind):
    """Without the DO bit no RRSIG, NSEC or NSEC3 appears in any section (RFC 3225 3,
    RFC 4035 3.2.1), whatever the answer."""
    msg, _ = dnspython_query(server, zone.name(relative), rdtype, dnssec=False)
    leaked = [rrset.to_text() for section in (msg.answer, msg.authority, msg.additional)
              for rrset in section if rrset.rdtype in DNSSEC_TYPES]
    assert not leaked, f"DNSSEC records with DO=0:\n" + "\n".join(leaked)
    if rdtype == "DNSKEY":
        assert {rd.flags for rrset in msg.answer for rd in rrset} == {256, 257}


@pytest.mark.parametrize("relative,rdtype", [("www", "RRSIG"), ("@", "RRSIG")])
def test_rrsig_asked_by_type_without_do(relative, rdtype, zone, server, kind):
    """An explicit RRSIG query is answered with RRSIGs of that name even with DO=0 (RFC 4035
    3.2.1 allows one or all of them: Knot gives one, NSD all)."""
    owner = zone.name(relative)
    msg, _ = dnspython_query(server, owner, rdtype, dnssec=False)
    assert msg.rcode() == 0 and msg.flags & dns.flags.AA, msg.to_text()
    sigs = [rd for rrset in msg.answer if rrset.rdtype == dns.rdatatype.RRSIG
            and rrset.name == dns.name.from_text(owner) for rd in rrset]
    assert sigs and len(sigs) == sum(len(r) for r in msg.answer), msg.to_text()
    for rd in sigs:
        assert rd == zone_rrsig(zone, owner, dns.rdatatype.to_text(rd.type_covered)), rd


def test_denial_types_asked_by_type_without_do(zone, server, kind):
    """NSEC (nsec.test.) or NSEC3PARAM (NSEC3 zones) asked by type with DO=0: the record from
    the file, without RRSIG."""
    if zone.denial == "nsec":
        owner, rdtype = zone.name("www"), "NSEC"
    else:
        owner, rdtype = zone.origin, "NSEC3PARAM"
    msg, _ = dnspython_query(server, owner, rdtype, dnssec=False)
    got = [rd for rrset in msg.answer for rd in rrset]
    want = list(zone_data(zone).get_rdataset(dns.name.from_text(owner),
                                             dns.rdatatype.from_text(rdtype)))
    assert got == want and msg.flags & dns.flags.AA, msg.to_text()
    if rdtype == "NSEC3PARAM":
        assert got[0].to_text() == "1 0 0 -"  # RFC 9276: SHA-1, 0 iterations, no salt


AD_QUERIES = [("www", "A"), ("nx", "A"), ("foo.wild", "A"), ("www.secure", "A"),
              ("secure", "DS"), ("@", "DNSKEY")]


@pytest.mark.parametrize("dnssec", [True, False], ids=["do1", "do0"])
@pytest.mark.parametrize("relative,rdtype", AD_QUERIES, ids=lambda v: v)
def test_ad_never_set(relative, rdtype, dnssec, zone, server, kind):
    """An authoritative answer never has AD, even when the query sets AD (RFC 4035 3.1.6,
    RFC 6840 5.7): the server does not validate its own zones for the client."""
    msg, _ = dnspython_query(server, zone.name(relative), rdtype, dnssec=dnssec,
                             flags=dns.flags.AD)
    assert not msg.flags & dns.flags.AD, f"AD set in {dns.flags.to_text(msg.flags)}"


@pytest.mark.parametrize("dnssec", [True, False], ids=["do1", "do0"])
@pytest.mark.parametrize("relative,rdtype", [("www", "A"), ("nx", "A"), ("www.secure", "A")],
                         ids=lambda v: v)
def test_cd_is_echoed(relative, rdtype, dnssec, zone, signed_servers):
    """A query's CD bit is copied into the response (RFC 4035 3.1.6: "the name server MUST
    copy the CD bit from a query into the corresponding response"). Checked on the subject
    only: NSD 4.6 and Knot 3.2 both clear CD in authoritative answers."""
    server = signed_servers["anydns"].get()  # in the test: a start failure FAILS it
    for flags in (dns.flags.CD, dns.flags.CD | dns.flags.AD):
        msg, _ = dnspython_query(server, zone.name(relative), rdtype, dnssec=dnssec, flags=flags)
        assert msg.flags & dns.flags.CD, f"CD not echoed: {dns.flags.to_text(msg.flags)}"
        assert not msg.flags & dns.flags.AD
    msg, _ = dnspython_query(server, zone.name(relative), rdtype, dnssec=dnssec)
    assert not msg.flags & dns.flags.CD, "CD set in a reply to a query without CD"


# --------------------------------------------------------------------------- truncation

def test_signed_answer_over_512_bytes_is_truncated_then_complete_over_tcp(zone, server, kind):
    """big.<zone> A (24 records) fits 512 bytes, with its RRSIG it does not: DO=1 with
    bufsize 512 over UDP gets TC=1 in at most 512 bytes (RFC 4035 3.1.1: an RRSIG that does
    not fit sets TC); over TCP the full RRset and its RRSIG."""
    qname = zone.name("big")
    plain, size = dnspython_query(server, qname, "A", dnssec=False, payload=512)
    assert not plain.flags & dns.flags.TC and size <= 512, "unsigned answer must fit 512"
    assert sum(len(r) for r in plain.answer) == 24
    msg, size = dnspython_query(server, qname, "A", dnssec=True, payload=512)
    assert msg.flags & dns.flags.TC, f"no TC for a {qname} signed answer in 512 bytes"
    assert size <= 512, f"{size}-byte UDP reply with bufsize 512"
    full, size = dnspython_query(server, qname, "A", dnssec=True, payload=512, tcp=True)
    assert not full.flags & dns.flags.TC and size > 512, full.to_text()
    a = full.get_rrset(full.answer, dns.name.from_text(qname), dns.rdataclass.IN,
                       dns.rdatatype.A)
    sig = full.get_rrset(full.answer, dns.name.from_text(qname), dns.rdataclass.IN,
                         dns.rdatatype.RRSIG, dns.rdatatype.A)
    assert a is not None and len(a) == 24, full.to_text()
    assert sig is not None and list(sig) == [zone_rrsig(zone, qname, "A")], full.to_text()


# ------------------------------------------------------------- parent and child together

@pytest.mark.parametrize("dnssec", [True, False], ids=["do1", "do0"])
def test_ds_answered_from_parent_when_serving_child(dnssec, zone, family_server, kind):
    """Serving secure.<zone> and its parent, `DS secure.<zone>` is answered from the parent
    (RFC 4035 3.1.4.1): AA, the DS of the file and, with DO=1, the RRSIG made by the
    parent's ZSK -- not NODATA from the child's apex."""
    cut = zone.name("secure")
    msg, _ = dnspython_query(family_server, cut, "DS", dnssec=dnssec)
    assert msg.rcode() == 0 and msg.flags & dns.flags.AA, msg.to_text()
    ds = msg.get_rrset(msg.answer, dns.name.from_text(cut), dns.rdataclass.IN, dns.rdatatype.DS)
    assert ds is not None and [rd.to_text() for rd in ds] == [
        dns.rdata.from_text("IN", "DS", zone.child.ds).to_text()], msg.to_text()
    sig = msg.get_rrset(msg.answer, dns.name.from_text(cut), dns.rdataclass.IN,
                        dns.rdatatype.RRSIG, dns.rdatatype.DS)
    if dnssec:
        assert sig is not None and list(sig) == [zone_rrsig(zone, cut, "DS")], msg.to_text()
        assert sig[0].signer == dns.name.from_text(zone.origin)
        assert sig[0].key_tag == zone.zsk.tag
    else:
        assert sig is None, msg.to_text()
    assert not [r for r in msg.authority if r.rdtype == dns.rdatatype.SOA], msg.to_text()


def test_ds_nodata_from_parent_when_serving_unsigned_child(zone, family_server, kind):
    """Serving the unsigned insecure.<zone> and its parent, `DS insecure.<zone>` is NODATA from
    the parent: the parent's SOA and its proof that there is no DS."""
    cut = zone.name("insecure")
    reply, answer, authority = kdig(family_server, cut, "DS")
    assert (reply.rcode, reply.aa, answer) == ("NOERROR", True, []), reply.raw
    assert [r.owner for r in of_type(authority, "SOA")] == [zone.origin], reply.raw
    assert_signed_like_zone(zone, authority, zone.origin, "SOA")
    expected = no_ds_proof(zone, cut)
    assert_denial_set(zone, authority, expected, f"DS NODATA {cut}")


def test_child_apex_answers_from_child(zone, family_server, kind):
    """The child's own data comes from the child: secure.<zone> SOA is the child's, signed by
    the child's key."""
    cut = zone.name("secure")
    reply, answer, _ = kdig(family_server, cut, "SOA")
    assert (reply.rcode, reply.aa) == ("NOERROR", True), reply.raw
    sigs = of_type(answer, "RRSIG", "SOA")
    assert [s.rdata.signer.to_text() for s in sigs] == [cut], reply.raw
    assert [s.rdata.key_tag for s in sigs] == [zone.child.zsk.tag], reply.raw


# ------------------------------------------------------------------- the fixture itself

def test_signed_zone_fixtures(zone):
    """The signing fixture did what the tests rely on: NSEC or NSEC3 as named, RFC 9276
    NSEC3 parameters, opt-out spans, signatures valid now for weeks, DS of the child."""
    import time
    data = zone_data(zone)
    apex = dns.name.from_text(zone.origin)
    param = data.get_rdataset(apex, dns.rdatatype.NSEC3PARAM)
    records = zone_denial_records(zone)
    assert records
    if zone.denial == "nsec":
        assert param is None
    else:
        assert [p.to_text() for p in param] == ["1 0 0 -"]
        assert {rd.flags for _, rd in records} == ({1} if zone.denial == "optout" else {0})
        assert all((rd.iterations, rd.salt) == (0, b"") for _, rd in records)
        hashed = {o.labels[0].decode().lower() for o, _ in records}
        for name in ("insecure", "unsigned", "zz-unsigned"):
            in_chain = nsec3_hash_label(zone, zone.name(name)) in hashed
            assert in_chain == (zone.denial != "optout"), name
    now = time.time()
    for name, node in data.nodes.items():
        for rds in node.rdatasets:
            if rds.rdtype == dns.rdatatype.RRSIG:
                for rd in rds:
                    assert rd.inception < now - 3600 and rd.expiration > now + 7 * 86400
    ds = data.get_rdataset(dns.name.from_text(zone.name("secure")), dns.rdatatype.DS)
    assert [rd.to_text() for rd in ds] == [dns.rdata.from_text("IN", "DS", zone.child.ds).to_text()]
    assert zone.anchor.read_text().count("static-key 257 3 13") == 1


# ------------------------------------------------------------------ the bundled example zone

def test_bundled_signed_example_validates_as_the_readme_says():
    """Zones/signed.example.zone with Zones/signed.example.anchor, served from Zones/ like
    `make serve`: the README's delv commands give the results the README shows."""
    from types import SimpleNamespace
    from servers import REPO, Zone, start_anydns
    zones_dir = REPO / "Zones"
    origin = "signed.example."
    server = start_anydns([Zone(origin, zones_dir / "signed.example.zone")])
    try:
        # What delv() reads of a SignedZone: the origin and the trust anchor file.
        example = SimpleNamespace(origin=origin, anchor=zones_dir / "signed.example.anchor")
        positive = delv(server, example, "www.signed.example.", "A")
        assert positive.statuses == ["fully validated"], positive.output
        assert "www.signed.example. CNAME signed.example." in positive.records, positive.output
        assert "signed.example. A 192.0.2.30" in positive.records, positive.output
        negative = delv(server, example, "nx.signed.example.", "A")
        assert negative.statuses == ["negative response, fully validated"], negative.output
        assert negative.negatives == ["nx.signed.example. NXDOMAIN"], negative.output
        wildcard = delv(server, example, "bob.users.signed.example.", "TXT")
        assert wildcard.statuses == ["fully validated"], wildcard.output
        insecure = delv(server, example, "insecure.signed.example.", "DS")
        assert insecure.statuses == ["negative response, fully validated"], insecure.output
    finally:
        server.stop()


# ------------------------------------------------------------------ signed zone by transfer

def test_signed_zone_received_by_transfer_validates(signed_zones, tmp_path):
    """Knot primary of the signed NSEC3 zone, anydns its secondary (AXFR): the transferred zone
    goes through the same checks and index as a file, and validates through anydns."""
    from types import SimpleNamespace
    from transfer_support import start_anydns as start_secondary, start_knot, wait_for
    zone = signed_zones.get()["nsec3"]
    knot = start_knot(tmp_path / "knot", f"""
acl:
  - id: xfr
    address: 127.0.0.0/8
    action: transfer
zone:
  - domain: {zone.origin}
    file: "{zone.path}"
    acl: xfr
""", zone.origin)
    secondary = None
    try:
        secondary = start_secondary(tmp_path / "anydns", f"""remotes:
  - name: primary
    address: [127.0.0.1:{knot.port}]
storage: storage
zones:
  - origin: {zone.origin}
    primaries: [primary]
""")
        wait_for(lambda: secondary.serial(zone.origin) is not None, "anydns to transfer the signed zone",
                 watch=(secondary, knot))
        health = secondary.zone_health(zone.origin)
        assert health["signed"] is True and health["dnssec"]["denial"] == "nsec3", health
        for name, rdtype, status in [(rel(zone, "www"), "A", "fully validated"),
                                     (rel(zone, "nx"), "A", "negative response, fully validated"),
                                     (rel(zone, "x.wild"), "TXT", "fully validated")]:
            result = delv(SimpleNamespace(host="127.0.0.1", port=secondary.port), zone, name, rdtype)
            assert result.statuses == [status], f"{name} {rdtype}\n{result.output}"
    finally:
        if secondary:
            secondary.stop()
        knot.stop()
