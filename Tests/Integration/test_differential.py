"""Differential tests: anydns against NSD 4.6 and Knot 3.2 serving the same zone.

Every corpus entry is one pytest case. The same query goes to anydns, NSD and Knot (all on
loopback, all serving zones/diff.test.zone); anydns passes when its reply matches at least
one reference on rcode, AA, TC, the echoed question, and the ANSWER and AUTHORITY sections
(see dnsprobe.Reply.key). The two references disagree on purpose in places (NSD adds the apex
NS RRset to positive answers, Knot does not): matching either is correct.

Malformed packets are built by hand and sent over raw sockets. anydns passes when its rcode
(or silence) equals NSD's or Knot's, or when it answers FORMERR, or drops the packet; a few
cases are stricter (unknown opcode -> NOTIMP as both references, QR=1 -> no reply). After
every malformed packet anydns must still answer a normal query.

The session ends with `differential: M/N matched` and a table of mismatches
(see conftest.pytest_terminal_summary).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

import dnssec_support
from conftest import DIFF_ZONE, DiffRecord
from dnsprobe import (Query, RawResult, Reply, ask, header, make_query, normalise_rr, opt_rr,
                      question, send_raw, send_raw_frame, wire_name)

# ----------------------------------------------------------------------------- corpus

# (qname, qtype, rule) triples, grouped by the README section 2 rule they exercise.
BASE = [
    # exact match (RFC 1034 4.3.2): AA=1, RRset in ANSWER
    ("diff.test.", "SOA", "exact"), ("diff.test.", "NS", "exact"), ("diff.test.", "A", "exact"),
    ("diff.test.", "AAAA", "exact"), ("diff.test.", "TXT", "exact"), ("diff.test.", "CAA", "exact"),
    ("www.diff.test.", "A", "exact"), ("www.diff.test.", "AAAA", "exact"),
    ("ns1.diff.test.", "AAAA", "exact"), ("ns2.diff.test.", "A", "exact ttl 600"),
    ("txt.diff.test.", "TXT", "exact several strings"), ("longtxt.diff.test.", "TXT", "exact"),
    ("hinfo.diff.test.", "HINFO", "exact"), ("multi.diff.test.", "TXT", "exact"),
    ("unknown.diff.test.", "TYPE65400", "unknown type rfc3597"),
    ("mixed.diff.test.", "A", "case-insensitive owner"),
    ("upper.case.diff.test.", "TXT", "case-insensitive owner"),
    # additional data (RFC 1035 3.3.9, 2782): A/AAAA of in-zone targets
    ("diff.test.", "MX", "additional"), ("mx2.diff.test.", "MX", "additional"),
    ("_sip._tcp.diff.test.", "SRV", "additional"), ("_ldap._tcp.diff.test.", "SRV", "additional"),
    # NODATA (RFC 2308 2.2): SOA with TTL min(SOA TTL, MINIMUM)
    ("www.diff.test.", "TXT", "nodata"), ("www.diff.test.", "MX", "nodata"),
    ("diff.test.", "SRV", "nodata"), ("ns1.diff.test.", "TXT", "nodata"),
    ("unknown.diff.test.", "A", "nodata"), ("hinfo.diff.test.", "A", "nodata"),
    ("www.diff.test.", "TYPE65400", "nodata"), ("diff.test.", "DNAME", "nodata"),
    ("www.diff.test.", "DS", "nodata ds"), ("diff.test.", "DS", "nodata ds at apex"),
    ("www.diff.test.", "CNAME", "nodata"),
    # NXDOMAIN (RFC 2308 2.1)
    ("nx.diff.test.", "A", "nxdomain"), ("nx.nx.diff.test.", "AAAA", "nxdomain"),
    ("www.www.diff.test.", "A", "nxdomain"), ("zz.diff.test.", "MX", "nxdomain"),
    ("_foo._tcp.diff.test.", "SRV", "nxdomain"), ("x.a.b.c.diff.test.", "A", "nxdomain"),
    ("nx.diff.test.", "DS", "nxdomain"), ("nx.diff.test.", "TYPE65400", "nxdomain"),
    # empty non-terminals (RFC 8020): NODATA, not NXDOMAIN
    ("b.c.diff.test.", "A", "ent rfc8020"), ("c.diff.test.", "A", "ent rfc8020"),
    ("b.c.diff.test.", "TXT", "ent rfc8020"), ("_tcp.diff.test.", "SRV", "ent rfc8020"),
    ("dtarget.diff.test.", "A", "ent rfc8020"), ("case.diff.test.", "TXT", "ent rfc8020"),
    ("a.b.c.diff.test.", "A", "exact below ent"),
    # CNAME (RFC 1034 3.6.2, RFC 2181 10.1)
    ("chain1.diff.test.", "A", "cname chain"), ("chain2.diff.test.", "AAAA", "cname chain"),
    ("chain3.diff.test.", "A", "cname chain"), ("chain1.diff.test.", "CNAME", "cname qtype"),
    ("chain1.diff.test.", "TXT", "cname chain to nodata"),
    ("ext.diff.test.", "A", "cname out of zone"), ("loop1.diff.test.", "A", "cname loop"),
    ("loop2.diff.test.", "AAAA", "cname loop"), ("self.diff.test.", "A", "cname self loop"),
    ("cname-nx.diff.test.", "A", "cname to nxdomain"),
    ("cname-sub.diff.test.", "A", "cname into delegation"),
    ("cname-wild.diff.test.", "A", "cname to wildcard"),
    ("cname-dname.diff.test.", "A", "cname to dname"),
    ("cname-mx.diff.test.", "MX", "cname to nodata"), ("cname-mx.diff.test.", "A", "cname"),
    ("chain1.diff.test.", "DS", "cname qtype ds"),
    # wildcards (RFC 4592)
    ("foo.wild.diff.test.", "A", "wildcard"), ("foo.wild.diff.test.", "TXT", "wildcard"),
    ("foo.wild.diff.test.", "MX", "wildcard nodata"), ("a.b.wild.diff.test.", "TXT", "wildcard deep"),
    ("exists.wild.diff.test.", "A", "wildcard blocked by existing"),
    ("exists.wild.diff.test.", "TXT", "wildcard blocked by existing: nodata"),
    ("x.exists.wild.diff.test.", "A", "no synthesis below existing name"),
    ("ent.wild.diff.test.", "A", "ent blocks wildcard"),
    ("y.ent.wild.diff.test.", "A", "no synthesis below ent"),
    ("host.ent.wild.diff.test.", "A", "exact under wildcard parent"),
    ("*.wild.diff.test.", "A", "literal asterisk"), ("wild.diff.test.", "A", "wildcard parent ent"),
    ("foo.cwild.diff.test.", "A", "wildcard cname"), ("foo.cwild.diff.test.", "CNAME", "wildcard cname"),
    ("foo.cwild.diff.test.", "AAAA", "wildcard cname"),
    ("foo.cwild-ext.diff.test.", "A", "wildcard cname out of zone"),
    ("foo.mxwild.diff.test.", "MX", "wildcard additional"),
    ("bar.mxwild.diff.test.", "A", "wildcard nodata"),
    ("foo.wild.diff.test.", "DS", "wildcard ds nodata"),
    # delegations (RFC 1034 4.3.2, RFC 9471 glue, RFC 4035 3.1.4.1 DS)
    ("sub.diff.test.", "NS", "referral"), ("sub.diff.test.", "A", "referral"),
    ("host.sub.diff.test.", "A", "referral"), ("a.b.host.sub.diff.test.", "AAAA", "referral"),
    ("ns1.sub.diff.test.", "A", "referral at glue"), ("sub.diff.test.", "SOA", "referral"),
    ("sub.diff.test.", "DS", "ds parent side nodata"), ("secure.diff.test.", "DS", "ds parent side"),
    ("secure.diff.test.", "NS", "referral"), ("host.secure.diff.test.", "A", "referral"),
    ("host.secure.diff.test.", "DS", "ds below cut: referral"),
    ("insecure.diff.test.", "DS", "ds parent side nodata"),
    ("insecure.diff.test.", "A", "referral no glue"), ("www.insecure.diff.test.", "AAAA", "referral"),
    ("sub.diff.test.", "TXT", "referral"),
    # DNAME (RFC 6672)
    ("dname.diff.test.", "DNAME", "dname owner"), ("dname.diff.test.", "A", "dname owner nodata"),
    ("www.dname.diff.test.", "A", "dname synthesis"), ("www.dname.diff.test.", "AAAA", "dname"),
    ("a.b.dname.diff.test.", "A", "dname to nxdomain"),
    ("www.dname-ext.diff.test.", "A", "dname out of zone"),
    ("dname-ext.diff.test.", "DNAME", "dname owner"), ("www.dname.diff.test.", "CNAME", "dname"),
    # ANY (RFC 8482): one RRset or HINFO
    ("diff.test.", "ANY", "any"), ("www.diff.test.", "ANY", "any"), ("multi.diff.test.", "ANY", "any"),
    ("hinfo.diff.test.", "ANY", "any"), ("chain1.diff.test.", "ANY", "any at cname"),
    ("nx.diff.test.", "ANY", "any nxdomain"), ("b.c.diff.test.", "ANY", "any ent"),
    ("foo.wild.diff.test.", "ANY", "any wildcard"), ("sub.diff.test.", "ANY", "any referral"),
    # out of zone: REFUSED, no referral to the root
    ("example.com.", "A", "refused"), ("test.", "SOA", "refused parent"), (".", "NS", "refused root"),
    ("diff.test.example.", "A", "refused"), ("xdiff.test.", "A", "refused sibling"),
    ("other.test.", "MX", "refused"),
]

MIXED_CASE = [
    ("WwW.DiFf.TeSt.", "A", "case echo rfc4343"), ("MIXED.DIFF.TEST.", "A", "case echo"),
    ("FOO.Wild.Diff.Test.", "TXT", "case echo wildcard"), ("Sub.Diff.Test.", "A", "case echo referral"),
    ("CHAIN1.diff.test.", "A", "case echo cname"), ("NX.Diff.Test.", "A", "case echo nxdomain"),
    ("B.C.DIFF.TEST.", "A", "case echo ent"), ("WWW.DNAME.diff.test.", "A", "case echo dname"),
    ("Upper.Case.Diff.Test.", "TXT", "case echo"), ("DiFf.TeSt.", "MX", "case echo additional"),
]

CHAOS = [("www.diff.test.", "A"), ("diff.test.", "SOA"), ("nx.diff.test.", "A"),
         ("diff.test.", "TXT")]

# Queries repeated over TCP (RFC 7766).
TCP_NAMES = [
    ("diff.test.", "SOA"), ("www.diff.test.", "A"), ("diff.test.", "MX"), ("nx.diff.test.", "A"),
    ("b.c.diff.test.", "A"), ("chain1.diff.test.", "A"), ("loop1.diff.test.", "A"),
    ("foo.wild.diff.test.", "TXT"), ("x.exists.wild.diff.test.", "A"), ("sub.diff.test.", "A"),
    ("secure.diff.test.", "DS"), ("www.dname.diff.test.", "A"), ("unknown.diff.test.", "TYPE65400"),
    ("example.com.", "A"), ("diff.test.", "ANY"), ("www.diff.test.", "ANY"),
    ("multi.diff.test.", "ANY"), ("big.diff.test.", "A"), ("big.diff.test.", "ANY"),
    ("longtxt.diff.test.", "TXT"), ("txt.diff.test.", "TXT"), ("cname-sub.diff.test.", "A"),
]


def build_corpus() -> list:
    """All well-formed queries; dig and kdig alternate except where dig is required."""
    out = []

    def add(qname, qtype="A", rule="", tool=None, **kw):
        chosen = tool or ("dig" if len(out) % 2 == 0 else "kdig")
        out.append(Query(qname, qtype, tool=chosen, rule=rule, **kw))

    for qname, qtype, rule in BASE:
        add(qname, qtype, rule)
    for qname, qtype, rule in MIXED_CASE:  # kdig lowercases the QNAME it sends: dig only
        add(qname, qtype, rule, tool="dig")
        add(qname, qtype, rule + " tcp", tool="dig", tcp=True)
    for qname, qtype in CHAOS:
        add(qname, qtype, "chaos class in-zone name", qclass="CH")
    for qname, qtype in TCP_NAMES:
        add(qname, qtype, "tcp", tcp=True)
    # EDNS(0) (RFC 6891): absent, payload sizes, version 1, DO bit; truncation (RFC 1035 4.2.1)
    for qname, qtype in [("www.diff.test.", "A"), ("big.diff.test.", "A"),
                         ("longtxt.diff.test.", "TXT"), ("diff.test.", "MX"),
                         ("nx.diff.test.", "A"), ("sub.diff.test.", "A"),
                         ("diff.test.", "ANY"), ("big.diff.test.", "ANY")]:
        add(qname, qtype, "no edns", edns="none")
        add(qname, qtype, "no edns tcp", edns="none", tcp=True)
        add(qname, qtype, "bufsize 512", bufsize=512)
        add(qname, qtype, "bufsize 1232", bufsize=1232)
        add(qname, qtype, "bufsize 4096", bufsize=4096)
        add(qname, qtype, "edns version 1: badvers", edns="1")
        add(qname, qtype, "do bit", dnssec=True)
    for qname, qtype in [("secure.diff.test.", "DS"), ("host.secure.diff.test.", "A"),
                         ("foo.wild.diff.test.", "A"), ("www.dname.diff.test.", "A")]:
        add(qname, qtype, "do bit", dnssec=True)
    add("big.diff.test.", "A", "bufsize 100 treated as 512", bufsize=100)
    add("www.diff.test.", "A", "edns version 1 tcp: badvers", edns="1", tcp=True)
    return out


CORPUS = build_corpus()


# ------------------------------------------------------------------------ comparison

def zone_rrsets() -> dns.zone.Zone:
    """diff.test.zone parsed by dnspython, for the ANY rule."""
    return dns.zone.from_file(str(DIFF_ZONE.path), origin=DIFF_ZONE.origin, relativize=False)


_ZONE = None


def rrsets_at(qname: str, zone: dns.zone.Zone | None = None, dnssec: bool = False) -> list:
    """Normalised RRsets a server may return for ANY at qname (wildcard-expanded), from
    diff.test.zone or the given zone; with dnssec each RRset comes with its RRSIG."""
    global _ZONE
    if zone is None:
        if _ZONE is None:
            _ZONE = zone_rrsets()
        zone = _ZONE
    name = dns.name.from_text(qname)
    node = zone.get_node(name)
    if node is None:
        node = zone.get_node(dns.name.from_text("*", name.parent()))
    if node is None:
        return []

    def texts(rds) -> list:
        return [normalise_rr(f"{qname.lower()} {rds.ttl} IN {dns.rdatatype.to_text(rds.rdtype)} "
                             f"{rd.to_text()}") for rd in rds]

    out = []
    for rds in node.rdatasets:
        if rds.rdtype == dns.rdatatype.RRSIG:
            continue
        rrs = texts(rds)
        if dnssec:
            sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rds.rdtype)
            rrs += texts(sigs) if sigs is not None else []
        out.append(tuple(sorted(rrs)))
    return out


def is_hinfo_rfc8482(answer: tuple, qname: str) -> bool:
    """A single synthesized HINFO owned by QNAME (RFC 8482 4.2)."""
    return (len(answer) == 1 and answer[0].split()[0] == qname.lower()
            and answer[0].split()[3] == "HINFO")


def any_reply_acceptable(q: Query, got: Reply, refs: list, zone: dns.zone.Zone | None = None) -> bool:
    """RFC 8482: for ANY, any single RRset of the node (or HINFO) is as good as the refs'.
    `zone`: the zone the query is about (default diff.test.zone); with DO=1 the RRset's RRSIG
    must come with it."""
    if q.qtype != "ANY":
        return False
    for ref in refs:
        if not (ref.rcode == "NOERROR" and ref.answer and not ref.tc):
            continue
        same_frame = (got.rcode, got.aa, got.tc, got.question) == \
                     (ref.rcode, ref.aa, ref.tc, ref.question)
        auth_ok = tuple(sorted(got.authority)) in {tuple(sorted(r.authority)) for r in refs}
        answer = tuple(sorted(got.answer))
        if same_frame and auth_ok and (answer in rrsets_at(q.qname, zone, q.dnssec)
                                       or is_hinfo_rfc8482(answer, q.qname)):
            return True
    return False


def ask_server(handle, q: Query) -> Reply:
    server = handle.get()
    return ask(q, server.host, server.port)


# ----------------------------------------------------------------------- query tests

def _corpus_id(q: Query) -> str:
    return q.label()


@pytest.mark.parametrize("q", CORPUS, ids=_corpus_id)
def test_query_matches_nsd_or_knot(q, subject_server, reference_servers, diff_collector):
    """The reply to a well-formed query equals NSD's or Knot's on rcode, AA, TC, question,
    ANSWER and AUTHORITY (rule named in the case id's corpus entry)."""
    nsd = ask_server(reference_servers["nsd"], q)
    knot = ask_server(reference_servers["knot"], q)
    try:
        got = ask_server(subject_server, q)
    except BaseException as e:  # record the failure (e.g. binary missing) in the summary too
        diff_collector.add(DiffRecord("query", q.label(), False, f"unavailable: {e}",
                                      nsd.brief(), knot.brief(), q.rule))
        raise
    matched = got.key() in (nsd.key(), knot.key()) or any_reply_acceptable(q, got, [nsd, knot])
    diff_collector.add(DiffRecord("query", q.label(), matched, got.brief(), nsd.brief(),
                                  knot.brief(), q.rule))
    assert got.rcode != "NO REPLY", f"no reply to {q.label()}:\n{got.raw}"
    assert matched, (
        f"{q.label()} ({q.rule}) matches neither reference\n"
        f"subject: {got.key()}\nnsd:     {nsd.key()}\nknot:    {knot.key()}")


def test_corpus_is_large_enough():
    """The corpus keeps at least 150 well-formed queries (brief for this suite)."""
    assert len(CORPUS) >= 150, len(CORPUS)
    assert len({q.label() for q in CORPUS}) == len(CORPUS), "duplicate corpus entries"


# -------------------------------------------------------------------- malformed packets

Q = question()  # www.diff.test. IN A


@dataclass(frozen=True)
class Malformed:
    """A hand-built packet and what counts as a correct reaction.

    strict: only the references' outcomes are accepted (no FORMERR/drop fallback);
    must_drop: no reply is the only correct reaction.
    """
    name: str
    packet: bytes
    tcp: bool = False
    raw_frame: bool = False   # packet already carries its (possibly lying) TCP length prefix
    strict: bool = False
    must_drop: bool = False


MALFORMED = [
    Malformed("qdcount-0", header(qd=0)),
    Malformed("qdcount-0-with-opt", header(qd=0, ar=1) + opt_rr()),
    Malformed("qdcount-2", header(qd=2) + Q + question("diff.test", 6)),
    Malformed("truncated-header", header()[:7]),
    Malformed("empty-datagram", b""),
    Malformed("header-only-qdcount-1", header()),
    Malformed("truncated-question-no-class", header() + Q[:-2]),
    Malformed("truncated-question-mid-label", header() + wire_name("www.diff.test")[:6]),
    Malformed("trailing-garbage-after-question", header() + Q + b"\xde\xad\xbe\xef"),
    Malformed("trailing-garbage-after-opt", header(ar=1) + Q + opt_rr() + b"\xde\xad"),
    Malformed("compression-pointer-forward",
              header() + b"\xc0\x10" + b"\x00\x01\x00\x01" + wire_name("www.diff.test")),
    Malformed("compression-pointer-to-itself", header() + b"\xc0\x0c" + b"\x00\x01\x00\x01"),
    Malformed("compression-pointer-loop",
              header() + b"\x01a\xc0\x0c" + b"\x00\x01\x00\x01"),
    Malformed("label-longer-than-63", header() + bytes([64]) + b"a" * 64
              + wire_name("diff.test") + b"\x00\x01\x00\x01"),
    Malformed("name-longer-than-255", header() + (bytes([63]) + b"a" * 63) * 4
              + wire_name("diff.test") + b"\x00\x01\x00\x01"),
    Malformed("reserved-label-type-0x40", header() + b"\x41abc" + wire_name("diff.test")
              + b"\x00\x01\x00\x01"),
    Malformed("two-opt-records", header(ar=2) + Q + opt_rr() + opt_rr()),
    Malformed("opt-with-non-root-owner", header(ar=1) + Q + opt_rr(owner=wire_name("diff.test"))),
    Malformed("opt-with-truncated-option",
              header(ar=1) + Q + opt_rr(rdata=b"\x00\x0a\x00\x08abc")),
    Malformed("opt-rdlength-past-end", header(ar=1) + Q + opt_rr(rdlength=20)),
    Malformed("arcount-1-but-nothing", header(ar=1) + Q),
    Malformed("opt-in-answer-section", header(an=1) + Q + opt_rr()),
    Malformed("unknown-opcode-3", header(flags=3 << 11) + Q, strict=True),
    Malformed("unknown-opcode-15", header(flags=15 << 11) + Q, strict=True),
    Malformed("unknown-opcode-3-with-opt", header(flags=3 << 11, ar=1) + Q + opt_rr(), strict=True),
    Malformed("qr-bit-set", header(flags=0x8000) + Q, must_drop=True),
    Malformed("qr-bit-set-with-rcode", header(flags=0x8403) + Q, must_drop=True),
    # TCP
    Malformed("tcp-qdcount-2", header(qd=2) + Q + question("diff.test", 6), tcp=True),
    Malformed("tcp-compression-pointer-to-itself",
              header() + b"\xc0\x0c" + b"\x00\x01\x00\x01", tcp=True),
    Malformed("tcp-trailing-garbage", header() + Q + b"\xde\xad\xbe\xef", tcp=True),
    Malformed("tcp-two-opt-records", header(ar=2) + Q + opt_rr() + opt_rr(), tcp=True),
    Malformed("tcp-unknown-opcode-15", header(flags=15 << 11) + Q, tcp=True, strict=True),
    Malformed("tcp-qr-bit-set", header(flags=0x8000) + Q, tcp=True, must_drop=True),
    Malformed("tcp-length-prefix-longer-than-data",
              b"\x00\x40" + header() + Q, tcp=True, raw_frame=True),
]


def exchange(server, m: Malformed) -> RawResult:
    """Send one malformed packet to a running server."""
    if m.raw_frame:
        return send_raw_frame(server.host, server.port, m.packet)
    return send_raw(server.host, server.port, m.packet, tcp=m.tcp)


def assert_still_answers(server, after: str) -> None:
    """A normal query is answered after a malformed one: the server stayed alive."""
    probe = make_query("diff.test", qtype=6, qid=0x5151, edns=True)
    for tcp in (False, True):
        res = send_raw(server.host, server.port, probe, tcp=tcp, timeout=3.0)
        assert res.rcode == "NOERROR", (
            f"after {after} the server no longer answers a normal SOA query over "
            f"{'TCP' if tcp else 'UDP'} ({res.brief()}); alive={server.alive()}\n"
            f"log:\n{server.log_tail()}")


def malformed_acceptable(m: Malformed, got: RawResult, nsd: RawResult, knot: RawResult) -> bool:
    if m.must_drop:
        return got.rcode == "DROP"
    allowed = {nsd.rcode, knot.rcode}
    if not m.strict:
        allowed |= {"FORMERR", "DROP"}
    return got.rcode in allowed


@pytest.mark.parametrize("m", MALFORMED, ids=lambda m: m.name)
def test_malformed_packet_handled_like_references_rfc1035(m, subject_server, reference_servers,
                                                          diff_collector):
    """FORMERR, drop, or the references' rcode; NOTIMP for unknown opcodes; QR=1 dropped;
    and the server keeps answering afterwards."""
    nsd = exchange(reference_servers["nsd"].get(), m)
    knot = exchange(reference_servers["knot"].get(), m)
    try:
        server = subject_server.get()
    except BaseException as e:
        diff_collector.add(DiffRecord("malformed", m.name, False, f"unavailable: {e}",
                                      nsd.brief(), knot.brief()))
        raise
    got = exchange(server, m)
    ok = malformed_acceptable(m, got, nsd, knot)
    diff_collector.add(DiffRecord("malformed", m.name, ok, got.brief(), nsd.brief(),
                                  knot.brief()))
    assert_still_answers(server, m.name)
    assert ok, (f"{m.name}: got {got.brief()}, NSD {nsd.brief()}, Knot {knot.brief()}"
                + (" (QR=1 must be dropped)" if m.must_drop else ""))


def test_malformed_corpus_is_large_enough():
    """At least 20 malformed packets over UDP and a few over TCP."""
    assert sum(not m.tcp for m in MALFORMED) >= 20
    assert sum(m.tcp for m in MALFORMED) >= 3


# ------------------------------------------------------------------------ signed zones

# (name relative to the zone, qtype, rule): asked with DO=1 in each of the three signed zones
# (dnssec_support: nsec.test. NSEC, nsec3.test. NSEC3, optout.test. NSEC3 opt-out), which
# anydns, NSD and Knot all load from the same signed file (so RRSIGs are byte-identical).
SIGNED_BASE = [
    # positive (RFC 4035 3.1.1): RRset and its RRSIG
    ("@", "SOA", "exact"), ("@", "NS", "exact"), ("@", "A", "exact"),
    ("@", "MX", "additional"), ("@", "TXT", "exact"), ("www", "A", "exact"),
    ("www", "AAAA", "exact"), ("a.b.c", "A", "exact below ent"), ("big", "A", "large rrset"),
    # NODATA (RFC 4035 3.1.3.1, RFC 5155 7.2.3)
    ("www", "TXT", "nodata"), ("@", "SRV", "nodata apex"), ("@", "DS", "ds at apex: nodata"),
    ("www", "DS", "nodata ds"), ("ns1", "MX", "nodata"),
    # empty non-terminals
    ("b.c", "A", "ent nodata"), ("c", "A", "ent nodata"), ("wild", "A", "wildcard parent ent"),
    ("dtarget", "A", "ent below dname target"),
    # NXDOMAIN (RFC 4035 3.1.3.2, RFC 5155 7.2.2)
    ("nx", "A", "nxdomain"), ("nx.a.b.c", "A", "nxdomain below existing"),
    ("x.y.b.c", "A", "nxdomain below ent"), ("zzzz", "MX", "nxdomain"),
    ("nothere", "AAAA", "nxdomain"), ("nx", "DS", "nxdomain ds"),
    # wildcards (RFC 4035 3.1.3.3-4, RFC 5155 7.2.5-6)
    ("foo.wild", "A", "wildcard"), ("foo.wild", "TXT", "wildcard"),
    ("a.b.wild", "A", "wildcard deep"), ("foo.wild", "MX", "wildcard nodata"),
    ("a.b.wild", "MX", "wildcard nodata deep"), ("foo.wild", "DS", "wildcard ds nodata"),
    ("exists.wild", "A", "wildcard blocked by existing"),
    ("exists.wild", "TXT", "nodata where a wildcard would match"),
    ("x.exists.wild", "A", "nxdomain below existing under wildcard"),
    ("*.wild", "A", "literal asterisk"), ("*.wild", "MX", "literal asterisk nodata"),
    ("foo.cwild", "A", "wildcard cname"), ("foo.cwild", "CNAME", "wildcard cname qtype"),
    ("foo.cwild", "MX", "wildcard cname to nodata"),
    # CNAME and DNAME (RFC 4035 3.1.3, RFC 6672 5.3.3)
    ("cname", "A", "cname"), ("cname", "CNAME", "cname qtype"), ("cname", "TXT", "cname to nodata"),
    ("cname-wild", "A", "cname to wildcard"), ("cname-nx", "A", "cname to nxdomain"),
    ("dname", "DNAME", "dname owner"), ("dname", "A", "dname owner nodata"),
    ("www.dname", "A", "dname synthesis"), ("x.dname", "A", "dname to nxdomain"),
    ("www.dname", "DNAME", "dname synthesis qtype dname"),
    # delegations (RFC 4035 3.1.4, RFC 5155 7.2.7)
    ("secure", "NS", "referral secure"), ("www.secure", "A", "referral secure"),
    ("secure", "A", "referral secure"), ("secure", "DS", "ds secure delegation"),
    ("www.secure", "DS", "ds below cut: referral"),
    ("ns.secure", "A", "glue: referral"), ("ns.secure", "AAAA", "glue: referral"),
    ("insecure", "NS", "referral insecure"), ("host.insecure", "A", "referral insecure"),
    ("insecure", "DS", "ds insecure delegation: nodata"),
    ("ns.insecure", "A", "glue of insecure: referral"),
    ("unsigned", "A", "referral insecure no glue"), ("a.b.unsigned", "TXT", "referral insecure"),
    ("unsigned", "DS", "ds insecure delegation: nodata"),
    ("zz-unsigned", "MX", "referral insecure last"), ("zz-unsigned", "DS", "ds insecure: nodata"),
    # ANY (RFC 8482): one RRset and its RRSIG
    ("@", "ANY", "any"), ("www", "ANY", "any"), ("foo.wild", "ANY", "any wildcard"),
    ("b.c", "ANY", "any ent"), ("nx", "ANY", "any nxdomain"),
    # DNSSEC types asked by type
    ("@", "DNSKEY", "dnskey"), ("@", "NSEC3PARAM", "nsec3param"), ("www", "RRSIG", "rrsig qtype"),
    ("@", "RRSIG", "rrsig qtype apex"), ("www", "NSEC", "nsec qtype"),
    ("nx", "RRSIG", "rrsig qtype nxdomain"), ("b.c", "NSEC", "nsec qtype ent"),
]

# Asked without DO: no RRSIG/NSEC/NSEC3 unless asked for by type.
SIGNED_DO0 = [
    ("www", "A", "do0 positive"), ("nx", "A", "do0 nxdomain"), ("www", "TXT", "do0 nodata"),
    ("foo.wild", "A", "do0 wildcard"), ("foo.wild", "MX", "do0 wildcard nodata"),
    ("www.secure", "A", "do0 referral secure"), ("host.insecure", "A", "do0 referral insecure"),
    ("secure", "DS", "do0 ds"), ("@", "DNSKEY", "do0 dnskey"), ("@", "NSEC3PARAM", "do0 nsec3param"),
    ("www", "RRSIG", "do0 rrsig qtype"), ("www", "NSEC", "do0 nsec qtype"),
    ("@", "RRSIG", "do0 rrsig qtype apex"),
]

SIGNED_MIXED_CASE = [("WwW", "A", "case echo"), ("FOO.Wild", "TXT", "case echo wildcard"),
                     ("NX", "A", "case echo nxdomain"), ("Www.Secure", "A", "case echo referral")]


def _in_zone(relative: str, origin: str) -> str:
    return origin if relative == "@" else f"{relative}.{origin}"


def build_signed_corpus() -> list:
    """Queries for the three signed zones; dig and kdig alternate except where dig is needed."""
    out = []

    def add(qname, qtype, rule, tool=None, **kw):
        chosen = tool or ("dig" if len(out) % 2 == 0 else "kdig")
        out.append(Query(qname, qtype, tool=chosen, rule=rule, **kw))

    for denial, origin in dnssec_support.ORIGINS.items():
        # NSEC3 owner names are a hash of the name (no key involved): known in advance
        hashed = (None if denial == "nsec" else
                  f"{dns.dnssec.nsec3_hash(_in_zone('www', origin), None, 0, 1).lower()}.{origin}")
        for relative, qtype, rule in SIGNED_BASE:
            if qtype == "NSEC" and denial != "nsec":
                continue
            if qtype == "NSEC3PARAM" and denial == "nsec":
                continue
            add(_in_zone(relative, origin), qtype, rule, dnssec=True)
        if hashed:
            add(hashed, "NSEC3", "nsec3 qtype at its hashed owner", dnssec=True)
            add(hashed, "A", "nodata at a hashed owner", dnssec=True)
        for relative, qtype, rule in SIGNED_DO0:
            if (qtype == "NSEC" and denial != "nsec") or (qtype == "NSEC3PARAM" and denial == "nsec"):
                continue
            add(_in_zone(relative, origin), qtype, rule)
        if hashed:
            add(hashed, "NSEC3", "do0 nsec3 qtype")
        for relative, qtype, rule in SIGNED_MIXED_CASE:  # kdig lowercases the QNAME: dig only
            add(_in_zone(relative, origin).replace(origin, origin.upper()), qtype, rule,
                tool="dig", dnssec=True)
        for relative, qtype in [("big", "A"), ("nx", "A"), ("foo.wild", "MX"), ("www.secure", "A")]:
            add(_in_zone(relative, origin), qtype, "do bit tcp", tcp=True, dnssec=True)
        add(_in_zone("big", origin), "A", "do bit bufsize 512: tc", bufsize=512, dnssec=True)
        add(_in_zone("nx", origin), "A", "do bit bufsize 512", bufsize=512, dnssec=True)
        add(_in_zone("big", origin), "A", "do bit bufsize 512 tcp", bufsize=512, dnssec=True,
            tcp=True)
    return out


SIGNED_CORPUS = build_signed_corpus()


def rrsig_reply_acceptable(q: Query, got: Reply, refs: list, zone: dns.zone.Zone | None) -> bool:
    """An explicit RRSIG query (no RFC says how many): any non-empty set of the node's RRSIGs
    is accepted when the rest of the reply equals a reference's. NSD gives all of them, Knot
    one (as for ANY)."""
    if q.qtype != "RRSIG" or zone is None or not got.answer:
        return False
    node = zone.get_node(dns.name.from_text(q.qname))
    allowed = set()
    for rds in (node.rdatasets if node is not None else []):
        if rds.rdtype == dns.rdatatype.RRSIG:
            allowed |= {normalise_rr(f"{q.qname.lower()} {rds.ttl} IN RRSIG {rd.to_text()}")
                        for rd in rds}
    if not set(got.answer) <= allowed:
        return False
    return any((got.rcode, got.aa, got.tc, got.question, tuple(sorted(got.authority)))
               == (ref.rcode, ref.aa, ref.tc, ref.question, tuple(sorted(ref.authority)))
               and ref.answer and set(ref.answer) <= allowed for ref in refs)


def truncated_reply_acceptable(got: Reply, refs: list) -> bool:
    """A truncated reply (TC=1) is retried over TCP and its records are not used (RFC 2181 9):
    it matches a truncated reference on rcode, AA, TC and question; the references themselves
    cut the sections at different places (NSD empties them, Knot keeps what fits)."""
    return got.tc and any(ref.tc and (got.rcode, got.aa, got.question)
                          == (ref.rcode, ref.aa, ref.question) for ref in refs)


@lru_cache(maxsize=None)
def _parse_zone(path: str, origin: str) -> dns.zone.Zone:
    return dns.zone.from_file(path, origin=origin, relativize=False)


def _signed_zone_of(signed_zones, qname: str):
    """The signed zone (dnspython) a query is about, for the ANY and RRSIG rules."""
    name = dns.name.from_text(qname)
    for z in signed_zones.get().values():
        if name.is_subdomain(dns.name.from_text(z.origin)):
            return _parse_zone(str(z.path), z.origin)
    return None


@pytest.mark.parametrize("q", SIGNED_CORPUS, ids=_corpus_id)
def test_signed_query_matches_nsd_or_knot(q, signed_servers, signed_zones, diff_collector):
    """Signed zones: the reply equals NSD's or Knot's on rcode, AA, TC, question, and ANSWER
    and AUTHORITY including every RRSIG, NSEC and NSEC3 (all three load the same signed file).
    As for diff.test: ANY may give another RRset of the node (with its RRSIG). Also: an RRSIG
    query may give any of the node's RRSIGs, and a truncated reply is compared on its header
    only (rrsig_reply_acceptable, truncated_reply_acceptable)."""
    nsd = ask_server(signed_servers["nsd"], q)
    knot = ask_server(signed_servers["knot"], q)
    try:
        got = ask_server(signed_servers["anydns"], q)
    except BaseException as e:
        diff_collector.add(DiffRecord("signed", q.label(), False, f"unavailable: {e}",
                                      nsd.brief(), knot.brief(), q.rule))
        raise
    refs = [nsd, knot]
    matched = (got.key() in (nsd.key(), knot.key())
               or truncated_reply_acceptable(got, refs)
               or (q.qtype in ("ANY", "RRSIG") and (
                   any_reply_acceptable(q, got, refs, _signed_zone_of(signed_zones, q.qname))
                   or rrsig_reply_acceptable(q, got, refs,
                                             _signed_zone_of(signed_zones, q.qname)))))
    diff_collector.add(DiffRecord("signed", q.label(), matched, got.brief(), nsd.brief(),
                                  knot.brief(), q.rule))
    assert got.rcode != "NO REPLY", f"no reply to {q.label()}:\n{got.raw}"
    assert matched, (
        f"{q.label()} ({q.rule}) matches neither reference\n"
        f"subject: {got.key()}\nnsd:     {nsd.key()}\nknot:    {knot.key()}")


def test_signed_corpus_covers_the_three_zones():
    """Each signed zone gets the whole signed corpus; no duplicate cases."""
    assert len({q.label() for q in SIGNED_CORPUS}) == len(SIGNED_CORPUS), "duplicate entries"
    for origin in dnssec_support.ORIGINS.values():
        mine = [q for q in SIGNED_CORPUS if q.qname.lower().endswith(origin)]
        assert len(mine) >= len(SIGNED_BASE) - 2, origin
        assert sum(q.dnssec for q in mine) > sum(not q.dnssec for q in mine)
