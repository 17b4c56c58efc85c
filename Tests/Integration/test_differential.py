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

import dns.name
import dns.rdatatype
import dns.zone
import pytest

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


def rrsets_at(qname: str) -> list:
    """Normalised RRsets a server may return for ANY at qname (wildcard-expanded)."""
    global _ZONE
    if _ZONE is None:
        _ZONE = zone_rrsets()
    name = dns.name.from_text(qname)
    node = _ZONE.get_node(name)
    if node is None:
        node = _ZONE.get_node(dns.name.from_text("*", name.parent()))
    if node is None:
        return []
    out = []
    for rds in node.rdatasets:
        out.append(tuple(sorted(
            normalise_rr(f"{qname.lower()} {rds.ttl} IN {dns.rdatatype.to_text(rds.rdtype)} "
                         f"{rd.to_text()}") for rd in rds)))
    return out


def is_hinfo_rfc8482(answer: tuple, qname: str) -> bool:
    """A single synthesized HINFO owned by QNAME (RFC 8482 4.2)."""
    return (len(answer) == 1 and answer[0].split()[0] == qname.lower()
            and answer[0].split()[3] == "HINFO")


def any_reply_acceptable(q: Query, got: Reply, refs: list) -> bool:
    """RFC 8482: for ANY, any single RRset of the node (or HINFO) is as good as the refs'."""
    if q.qtype != "ANY":
        return False
    for ref in refs:
        if not (ref.rcode == "NOERROR" and ref.answer and not ref.tc):
            continue
        same_frame = (got.rcode, got.aa, got.tc, got.question) == \
                     (ref.rcode, ref.aa, ref.tc, ref.question)
        auth_ok = tuple(sorted(got.authority)) in {tuple(sorted(r.authority)) for r in refs}
        answer = tuple(sorted(got.answer))
        if same_frame and auth_ok and (answer in rrsets_at(q.qname)
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
