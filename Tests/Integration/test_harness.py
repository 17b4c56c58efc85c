"""Self-checks of the test harness itself (no servers): output parsing and comparison rules.

The end-to-end check of the harness is to run the suite with a reference server in the
subject's place (`ANYDNS_SUBJECT=knot`: everything must match) and with an altered zone
(`ANYDNS_SUBJECT_ZONE=...`: the alterations must show up as mismatches); see README.md.
"""

import dns.zone

from dnsprobe import Query, Reply, RawResult, normalise_rr, parse_tool_output
from test_differential import (Malformed, any_reply_acceptable, malformed_acceptable,
                               rrsig_reply_acceptable, truncated_reply_acceptable)

DIG_OUTPUT = """\
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4242
;; flags: qr aa; QUERY: 1, ANSWER: 1, AUTHORITY: 2, ADDITIONAL: 2

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
;; QUESTION SECTION:
;WwW.DiFf.TeSt.			IN	A

;; ANSWER SECTION:
WwW.DiFf.TeSt.		3600	IN	A	192.0.2.80

;; AUTHORITY SECTION:
DiFf.TeSt.		3600	IN	NS	ns1.DiFf.TeSt.
DiFf.TeSt.		3600	IN	NS	ns2.DiFf.TeSt.

;; ADDITIONAL SECTION:
ns1.DiFf.TeSt.		3600	IN	A	192.0.2.53
"""

KDIG_OUTPUT = """\
;; ->>HEADER<<- opcode: QUERY; status: NOERROR; id: 4242
;; Flags: qr aa; QUERY: 1; ANSWER: 1; AUTHORITY: 0; ADDITIONAL: 1

;; EDNS PSEUDOSECTION:
;; Version: 0; flags: ; UDP size: 1232 B; ext-rcode: NOERROR

;; QUESTION SECTION:
;; www.diff.test.      		IN	A

;; ANSWER SECTION:
www.diff.test.      	3600	IN	A	192.0.2.80
"""


def test_dig_and_kdig_outputs_parse_to_the_same_fields():
    dig, kdig = parse_tool_output(DIG_OUTPUT), parse_tool_output(KDIG_OUTPUT)
    assert (dig.rcode, dig.aa, dig.tc, dig.edns_version) == ("NOERROR", True, False, 0)
    assert (kdig.rcode, kdig.aa, kdig.tc, kdig.edns_version) == ("NOERROR", True, False, 0)
    assert dig.answer == kdig.answer == ("www.diff.test. 3600 IN A 192.0.2.80",)
    assert dig.question == "WwW.DiFf.TeSt." and kdig.question == "www.diff.test."
    assert dig.authority == ("diff.test. 3600 IN NS ns1.diff.test.",
                             "diff.test. 3600 IN NS ns2.diff.test.")
    assert dig.additional == ("ns1.diff.test. 3600 IN A 192.0.2.53",)


def test_no_reply_is_recognised():
    r = parse_tool_output(";; connection timed out; no servers could be reached\n")
    assert r.rcode == "NO REPLY"


def test_rdata_spellings_normalise_alike():
    """DS digests split by whitespace and uppercase hex, RFC 3597 generic data, name case."""
    digest = "0123456789ABCDEF" * 4
    assert normalise_rr(f"s.diff.test. 60 IN DS 1 13 2 {digest[:56]} {digest[56:]}") == \
        normalise_rr(f"s.diff.test. 60 IN DS 1 13 2 {digest.lower()}")
    assert normalise_rr("u.diff.test. 60 IN TYPE65400 \\# 4 0A000001") == \
        "u.diff.test. 60 IN TYPE65400 \\# 4 0a000001"
    assert normalise_rr("X.diff.test. 60 IN CNAME WWW.Diff.Test.") == \
        "x.diff.test. 60 IN CNAME www.diff.test."
    assert normalise_rr('t.diff.test. 60 IN TXT "A b" "C"') == 't.diff.test. 60 IN TXT "A b" "C"'


def _reply(answer, authority=(), rcode="NOERROR", flags=("qr", "aa"), question="multi.diff.test."):
    return Reply(rcode=rcode, flags=frozenset(flags), question=question, answer=tuple(answer),
                 authority=tuple(authority))


def test_any_accepts_another_single_rrset_of_the_node_rfc8482():
    q = Query("multi.diff.test.", "ANY")
    ref = _reply(["multi.diff.test. 3600 IN A 192.0.2.70"])
    other_rrset = _reply(["multi.diff.test. 3600 IN TXT \"multi\""])
    hinfo = _reply(['multi.diff.test. 3600 IN HINFO "RFC8482" ""'])
    whole_node = _reply(["multi.diff.test. 3600 IN A 192.0.2.70",
                         "multi.diff.test. 3600 IN TXT \"multi\""])
    foreign = _reply(["multi.diff.test. 3600 IN A 192.0.2.71"])
    assert any_reply_acceptable(q, other_rrset, [ref, ref])
    assert any_reply_acceptable(q, hinfo, [ref, ref])
    assert not any_reply_acceptable(q, whole_node, [ref, ref])
    assert not any_reply_acceptable(q, foreign, [ref, ref])
    assert not any_reply_acceptable(Query("multi.diff.test.", "A"), other_rrset, [ref, ref])


def test_malformed_acceptance_rules():
    lenient = Malformed("x", b"")
    strict = Malformed("op", b"", strict=True)
    qr = Malformed("qr", b"", must_drop=True)
    notimp, formerr, drop = RawResult("NOTIMP"), RawResult("FORMERR"), RawResult("DROP")
    noerror = RawResult("NOERROR")
    assert malformed_acceptable(lenient, formerr, noerror, noerror)
    assert malformed_acceptable(lenient, drop, noerror, noerror)
    assert malformed_acceptable(lenient, noerror, noerror, formerr)
    assert not malformed_acceptable(lenient, RawResult("SERVFAIL"), noerror, formerr)
    assert malformed_acceptable(strict, notimp, notimp, notimp)
    assert not malformed_acceptable(strict, formerr, notimp, notimp)
    assert malformed_acceptable(qr, drop, drop, drop)
    assert not malformed_acceptable(qr, formerr, drop, drop)


def test_truncated_replies_compare_on_the_header_only():
    ref = _reply(["x.diff.test. 60 IN A 192.0.2.1"], flags=("qr", "aa", "tc"))
    empty_tc = _reply([], flags=("qr", "aa", "tc"))
    no_tc = _reply([], flags=("qr", "aa"))
    other_rcode = _reply([], rcode="NXDOMAIN", flags=("qr", "aa", "tc"))
    assert truncated_reply_acceptable(empty_tc, [ref])
    assert not truncated_reply_acceptable(no_tc, [ref])
    assert not truncated_reply_acceptable(other_rcode, [ref])
    assert not truncated_reply_acceptable(empty_tc, [_reply([])])  # the reference did not truncate


def test_rrsig_query_accepts_any_of_the_nodes_rrsigs():
    zone = dns.zone.from_text(
        "@ 3600 IN SOA ns h 1 1 1 1 1\n@ 3600 IN NS ns\nns 3600 IN A 192.0.2.1\n"
        "ns 3600 IN RRSIG A 13 3 3600 20300101000000 20200101000000 1 s.test. AAAA\n"
        "ns 3600 IN RRSIG NSEC 13 3 300 20300101000000 20200101000000 1 s.test. BBBB\n",
        origin="s.test.", relativize=False)
    q = Query("ns.s.test.", "RRSIG")
    sig_a = normalise_rr("ns.s.test. 3600 IN RRSIG A 13 3 3600 20300101000000 20200101000000 1 "
                         "s.test. AAAA")
    sig_nsec = normalise_rr("ns.s.test. 3600 IN RRSIG NSEC 13 3 300 20300101000000 "
                            "20200101000000 1 s.test. BBBB")
    forged = normalise_rr("ns.s.test. 3600 IN RRSIG A 13 3 3600 20300101000000 20200101000000 "
                          "2 s.test. AAAA")
    ref = _reply([sig_a], question="ns.s.test.")
    assert rrsig_reply_acceptable(q, _reply([sig_a, sig_nsec], question="ns.s.test."), [ref], zone)
    assert rrsig_reply_acceptable(q, _reply([sig_nsec], question="ns.s.test."), [ref], zone)
    assert not rrsig_reply_acceptable(q, _reply([forged], question="ns.s.test."), [ref], zone)
    assert not rrsig_reply_acceptable(q, _reply([], question="ns.s.test."), [ref], zone)
    assert not rrsig_reply_acceptable(Query("ns.s.test.", "A"), _reply([sig_a]), [ref], zone)
