#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets (README "Fuzzing") under Fuzz/corpus/<target>/.

query:    DNS queries made with dnspython, one message per file, against the zone built in
          Fuzz/FuzzQuery/FuzzQuery.swift (example.test., child.example.test., down.test.).
          The low bit of the query ID picks the client address there: even IDs come from inside
          the transfer ACL, odd IDs from outside. TSIG-signed queries are signed with the README's
          key at the fixed time the fuzz target uses as its clock (RFC 8945 §5.2.3).
zonefile: zone files from Zones/ and Tests/Integration/zones/, their origin renamed to the
          fuzz target's example.test.
config:   the YAML configurations of Deploy/ and of the README's examples.

Run from the repository root: /usr/bin/python3 Fuzz/make_corpus.py
"""

import base64
import pathlib
import re
import time

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "Fuzz" / "corpus"

# Must match fuzzNow in Fuzz/FuzzQuery/FuzzQuery.swift.
FUZZ_NOW = 1_750_000_000
KEY_NAME = "transfer-key."
KEY_SECRET = "K2tf3TRjvQkVCmJF3/Z9vA=="
EVEN_ID = 0x1234  # client 192.0.2.53, inside the ACL
ODD_ID = 0x1235  # client 2001:db8::99, outside


def query(name, rdtype, rdclass="IN", qid=EVEN_ID, **kwargs):
    message = dns.message.make_query(name, rdtype, rdclass, **kwargs)
    message.id = qid
    return message


def signed(message, secret=KEY_SECRET, key_name=KEY_NAME, at=FUZZ_NOW):
    """Signs with hmac-sha256 as if the clock read `at` (dnspython reads time.time())."""
    keyring = dns.tsigkeyring.from_text({key_name: secret})
    message.use_tsig(keyring, key_name, algorithm=dns.tsig.HMAC_SHA256)
    real_time = time.time
    time.time = lambda: at
    try:
        return message.to_wire()
    finally:
        time.time = real_time


def ixfr(serial, qid=EVEN_ID):
    message = query("example.test.", "IXFR", qid=qid)
    soa = dns.rrset.from_text(
        "example.test.", 0, "IN", "SOA", f"ns1.example.test. hostmaster.example.test. {serial} 1 1 1 1"
    )
    message.authority.append(soa)
    return message


def notify(serial, qid=EVEN_ID):
    message = dns.message.Message(id=qid)
    message.set_opcode(dns.opcode.NOTIFY)
    message.flags |= dns.flags.AA
    message.find_rrset(message.question, dns.name.from_text("example.test."), dns.rdataclass.IN,
                       dns.rdatatype.SOA, create=True, force_unique=True)
    soa = dns.rrset.from_text(
        "example.test.", 3600, "IN", "SOA", f"ns1.example.test. hostmaster.example.test. {serial} 1 1 1 1"
    )
    message.answer.append(soa)
    return message


def option(code, data):
    return dns.edns.GenericOption(code, data)


def queries():
    cookie = bytes(range(1, 9))
    server_cookie = bytes(range(0x20, 0x30))
    yield "a-www", query("www.example.test.", "A").to_wire()
    yield "aaaa-www", query("www.example.test.", "AAAA").to_wire()
    yield "any-apex", query("example.test.", "ANY").to_wire()
    yield "mx-apex-edns", query("example.test.", "MX", use_edns=0, payload=1232).to_wire()
    yield "srv-sip", query("_sip._tcp.example.test.", "SRV").to_wire()
    yield "txt-big-udp512", query("big.example.test.", "TXT").to_wire()
    yield "txt-big-do", query("big.example.test.", "TXT", want_dnssec=True, payload=4096).to_wire()
    yield "cname-chain", query("alias.example.test.", "A").to_wire()
    yield "cname-loop", query("loop1.example.test.", "A").to_wire()
    yield "dname", query("host.dn.example.test.", "AAAA").to_wire()
    yield "wildcard", query("nothere.wild.example.test.", "MX").to_wire()
    yield "wildcard-cname", query("x.y.wc.example.test.", "A").to_wire()
    yield "referral", query("deep.sub.example.test.", "A").to_wire()
    yield "ds-at-cut", query("secure.example.test.", "DS").to_wire()
    yield "child-zone", query("host.child.example.test.", "A").to_wire()
    yield "ptr", query("80.2.0.192.in-addr.example.test.", "PTR").to_wire()
    yield "caa-apex", query("example.test.", "CAA").to_wire()
    yield "https-svc", query("svc.example.test.", "HTTPS").to_wire()
    # Signed zones (Fuzz/FuzzQuery/zones): DO=1 answers with RRSIGs and NSEC/NSEC3 proofs.
    for zone in ("signed.test.", "nsec.test."):
        tag = zone.split(".")[0]
        for label, name, rdtype in [("nxdomain", "nx.a.b.c", "A"), ("nodata", "www", "TXT"),
                                    ("ent", "b.c", "A"), ("wildcard", "x.wild", "A"),
                                    ("wildcard-nodata", "x.wild", "MX"), ("wildcard-cname", "cw", "A"),
                                    ("referral", "host.sub", "A"), ("secure-referral", "host.secure", "A"),
                                    ("ds-insecure", "sub", "DS"), ("dname", "www.dn", "A"),
                                    ("cname-nx", "nx", "A")]:
            yield f"dnssec-{tag}-{label}", query(f"{name}.{zone}", rdtype, want_dnssec=True,
                                                 payload=1232).to_wire()
    yield "dnssec-signed-udp512", query("nx.nx.signed.test.", "A", want_dnssec=True, payload=512).to_wire()
    yield "nxdomain", query("missing.example.test.", "A").to_wire()
    yield "nodata-ent", query("b.c.example.test.", "A").to_wire()
    yield "unavailable", query("down.test.", "SOA").to_wire()
    yield "refused-outside", query("example.org.", "A").to_wire()
    yield "axfr", query("example.test.", "AXFR").to_wire()
    yield "axfr-refused", query("example.test.", "AXFR", qid=ODD_ID).to_wire()
    yield "ixfr-serial1", ixfr(1).to_wire()
    yield "ixfr-current", ixfr(2).to_wire()
    yield "ixfr-old", ixfr(4000000000).to_wire()
    yield "notify", notify(2).to_wire()
    yield "notify-refused", notify(3, qid=ODD_ID).to_wire()
    yield "edns-nsid", query("www.example.test.", "A", use_edns=0, options=[option(3, b"")]).to_wire()
    yield "edns-cookie-client", query("www.example.test.", "A", use_edns=0,
                                      options=[option(10, cookie)]).to_wire()
    yield "edns-cookie-full", query("www.example.test.", "A", use_edns=0,
                                    options=[option(10, cookie + server_cookie)]).to_wire()
    yield "edns-expire", query("example.test.", "SOA", use_edns=0, options=[option(9, b"")]).to_wire()
    yield "edns-version1", query("www.example.test.", "A", use_edns=1).to_wire()
    yield "edns-all", query("www.example.test.", "TXT", use_edns=0, want_dnssec=True, payload=512,
                            options=[option(3, b""), option(9, b""), option(10, cookie)]).to_wire()
    yield "tsig-a", signed(query("www.example.test.", "A", qid=ODD_ID))
    yield "tsig-axfr", signed(query("example.test.", "AXFR", qid=ODD_ID))
    yield "tsig-ixfr-edns", signed(query("example.test.", "IXFR", qid=ODD_ID, use_edns=0,
                                         options=[option(3, b"")]))
    yield "tsig-notify", signed(notify(2, qid=ODD_ID))
    yield "tsig-child-axfr", signed(query("child.example.test.", "AXFR", qid=ODD_ID))
    yield "tsig-badsig", signed(query("example.test.", "AXFR", qid=ODD_ID),
                                secret=base64.b64encode(b"another secret").decode())
    yield "tsig-badkey", signed(query("example.test.", "SOA"), key_name="unknown-key.")
    yield "tsig-badtime", signed(query("example.test.", "SOA"), at=FUZZ_NOW - 3600)
    yield "chaos-version", query("version.bind.", "TXT", "CH").to_wire()
    yield "chaos-id", query("id.server.", "TXT", "CH").to_wire()
    yield "chaos-hostname", query("hostname.bind.", "TXT", "CH", use_edns=0).to_wire()
    response = query("www.example.test.", "A")
    response.flags |= dns.flags.QR
    yield "response-dropped", response.to_wire()
    yield "short-header", query("www.example.test.", "A").to_wire()[:7]
    status = query("www.example.test.", "A")
    status.set_opcode(dns.opcode.STATUS)
    yield "opcode-status", status.to_wire()


def zone_files():
    sources = sorted((ROOT / "Zones").glob("*.zone")) + sorted((ROOT / "Tests/Integration/zones").rglob("*.zone"))
    for path in sources:
        text = path.read_text()
        found = re.search(r"^\$ORIGIN\s+(\S+)", text, re.MULTILINE)
        # A signer's output has absolute names and no $ORIGIN: the SOA owner comes first.
        origin = found.group(1) if found else re.search(r"^([^;\s]\S*)\s", text, re.MULTILINE).group(1)
        renamed = re.sub(re.escape(origin), "example.test.", text, flags=re.IGNORECASE)
        yield path.stem.replace(".", "-"), renamed.encode()
    include = (ROOT / "Tests/Integration/zones/broken/include-ok.inc").read_text()
    yield "include-relative", b"$ORIGIN example.test.\n$INCLUDE fuzz.zone\n" + include.encode()


def configs():
    for path in sorted((ROOT / "Deploy").glob("*.yaml")):
        yield path.stem, path.read_bytes()
    readme = (ROOT / "README.md").read_text()
    for index, block in enumerate(re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)):
        yield f"readme-{index}", block.encode()


def main():
    for target, items in (("query", queries()), ("zonefile", zone_files()), ("config", configs())):
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            old.unlink()
        count = 0
        for name, data in items:
            (directory / name).write_bytes(data)
            count += 1
        print(f"{target}: {count} files in {directory.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
