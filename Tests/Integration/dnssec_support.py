"""Signed test zones for the DNSSEC tests, made fresh for every session.

`sign_all(workdir)` generates ECDSA P-256 keys with ldns-keygen (a KSK and a ZSK per zone) and
signs with ldns-signzone, from the sources in zones/dnssec/:

* `nsec.test.`    NSEC
* `nsec3.test.`   NSEC3 with the RFC 9276 parameters: SHA-1, 0 extra iterations, empty salt
* `optout.test.`  NSEC3 as above with the opt-out flag; ldns-signzone only sets the flag and
                  still gives every insecure delegation its NSEC3, so those NSEC3 RRs are then
                  removed, the chain relinked and the changed NSEC3 RRs re-signed with the ZSK
                  (dnspython), which makes real opt-out spans (RFC 5155 section 6)

Each parent has a secure delegation to `secure.<parent>`, a child zone signed the same way
with its own keys; the child's DS (SHA-256) is put in the parent before the parent is signed.
Its insecure delegation `insecure.<parent>` has an unsigned child zone too (no DS).

Signatures are valid from one day ago to thirty days ahead (explicit -i/-e), never fixed
dates. Every signed file is checked with ldns-verify-zone before it is used, and a delv
trust-anchor file (`trust-anchors { <zone> static-key 257 3 13 "..."; };`) is written from
each zone's KSK.

Any failure raises servers.HarnessError with the tool's output.
"""

from __future__ import annotations

import base64
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.NSEC3
import dns.zone

from servers import ZONES, HarnessError, Zone, require_tool

SOURCES = ZONES / "dnssec"
PARENT_SOURCE = SOURCES / "parent.zone"
CHILD_SOURCE = SOURCES / "child.zone"
INSECURE_CHILD_SOURCE = SOURCES / "insecure-child.zone"

# denial kind -> zone origin
ORIGINS = {"nsec": "nsec.test.", "nsec3": "nsec3.test.", "optout": "optout.test."}
DENIALS = tuple(ORIGINS)

INCEPTION_AGO = 86400          # signatures valid from one day ago ...
EXPIRATION_AHEAD = 30 * 86400  # ... to thirty days from now
ALGORITHM = "ECDSAP256SHA256"  # DNSSEC algorithm 13


@dataclass
class KeyPair:
    """One key made by ldns-keygen: its file base name (K<name>+013+<tag>) and DNSKEY."""
    base: Path
    tag: int
    flags: int
    public_key: str  # base64 of the DNSKEY's public key field

    @property
    def dnskey_rdata(self) -> str:
        return f"{self.flags} 3 13 {self.public_key}"


@dataclass
class SignedZone:
    """A signed zone file ready to serve, with what the tests need to know about it."""
    denial: str          # "nsec", "nsec3" or "optout"
    origin: str          # e.g. "nsec3.test."
    path: Path           # the signed zone file
    ksk: KeyPair
    zsk: KeyPair
    anchor: Path         # delv trust-anchor file for `origin`
    ds: str              # this zone's DS rdata (what its parent holds), e.g. "123 13 2 ABCD..."
    child: "SignedZone | None" = None
    opted_out: list = field(default_factory=list)  # delegations left out of the NSEC3 chain
    insecure_child: "Zone | None" = None  # the unsigned zone insecure.<origin>

    @property
    def zone(self) -> Zone:
        return Zone(self.origin, self.path)

    def name(self, relative: str) -> str:
        """An absolute name in this zone: name("www") == "www.<origin>"; "@" is the apex."""
        return self.origin if relative in ("@", "") else f"{relative}.{self.origin}"


def _run(argv: list, cwd: Path) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise HarnessError(f"{' '.join(map(str, argv))} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout}{proc.stderr}")
    return proc.stdout


def keygen(origin: str, ksk: bool, workdir: Path) -> KeyPair:
    """ldns-keygen -a ECDSAP256SHA256 [-k] ORIGIN in workdir."""
    argv = [require_tool("ldns-keygen"), "-a", ALGORITHM] + (["-k"] if ksk else []) + [origin]
    base = _run(argv, workdir).strip().splitlines()[-1]
    m = re.fullmatch(r"K.*\+0*13\+0*(\d+)", base)
    if not m:
        raise HarnessError(f"ldns-keygen printed an unexpected key name: {base!r}")
    key_text = (workdir / f"{base}.key").read_text()
    fields = re.search(r"\bDNSKEY\s+(\d+)\s+3\s+13\s+([A-Za-z0-9+/=]+)", key_text)
    if not fields:
        raise HarnessError(f"no DNSKEY in {base}.key:\n{key_text}")
    flags = int(fields.group(1))
    if flags != (257 if ksk else 256):
        raise HarnessError(f"{base}.key has flags {flags}, expected {257 if ksk else 256}")
    return KeyPair(workdir / base, int(m.group(1)), flags, fields.group(2))


def ds_of(key: KeyPair, origin: str) -> str:
    """The SHA-256 DS rdata of a KSK, made by ldns-key2ds."""
    out = _run([require_tool("ldns-key2ds"), "-n", "-2", f"{key.base}.key"], key.base.parent)
    m = re.search(r"\bDS\s+(\d+\s+13\s+2\s+[0-9A-Fa-f]+)", out)
    if not m:
        raise HarnessError(f"ldns-key2ds printed no SHA-256 DS for {origin}:\n{out}")
    return m.group(1)


def signzone_argv(denial: str, source: Path, output: Path, origin: str, keys: list,
                  now: int) -> list:
    """The ldns-signzone command line for one kind of denial."""
    argv = [require_tool("ldns-signzone"), "-o", origin, "-f", str(output),
            "-i", str(now - INCEPTION_AGO), "-e", str(now + EXPIRATION_AHEAD)]
    if denial in ("nsec3", "optout"):
        # RFC 9276: SHA-1 (-a 1), no extra iterations (-t 0); no -s means an empty salt
        # (ldns-signzone rejects `-s -`: "Salt value is not valid hex data").
        argv += ["-n", "-a", "1", "-t", "0"]
    if denial == "optout":
        argv.append("-p")
    return argv + [str(source)] + [str(k.base) for k in keys]


def private_key_of(key: KeyPair):
    """The ECDSA P-256 private key of an ldns .private file, for dnspython's signer."""
    from cryptography.hazmat.primitives.asymmetric import ec
    text = Path(f"{key.base}.private").read_text()
    m = re.search(r"^PrivateKey:\s*(\S+)", text, re.M)
    if not m:
        raise HarnessError(f"no PrivateKey in {key.base}.private")
    return ec.derive_private_key(int.from_bytes(base64.b64decode(m.group(1)), "big"),
                                 ec.SECP256R1())


def prune_opt_out(path: Path, origin: str, zsk: KeyPair, now: int) -> list:
    """Remove the NSEC3 RRs of insecure delegations (no DS) from an ldns-signed opt-out zone,
    relink the chain and re-sign the NSEC3 RRs whose next-hash changed. Returns the names
    whose NSEC3 was removed."""
    zone = dns.zone.from_file(str(path), origin=origin, relativize=False)
    apex = dns.name.from_text(origin)
    param = zone.get_rdataset(apex, dns.rdatatype.NSEC3PARAM)
    if param is None or len(param) != 1:
        raise HarnessError(f"{origin}: no single NSEC3PARAM after signing")
    param = param[0]
    dnskey = zone.get_rdataset(apex, dns.rdatatype.DNSKEY)
    zsk_rdata = next((k for k in dnskey if dns.dnssec.key_id(k) == zsk.tag), None)
    if zsk_rdata is None:
        raise HarnessError(f"{origin}: ZSK {zsk.tag} not in the signed DNSKEY RRset")

    def hashed_owner(name: dns.name.Name) -> dns.name.Name:
        h = dns.dnssec.nsec3_hash(name, param.salt or None, param.iterations, param.algorithm)
        return dns.name.from_text(h.lower(), apex)

    removed = []
    for name, node in list(zone.nodes.items()):
        if (name != apex and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)
                and not node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DS)):
            owner = hashed_owner(name)
            if zone.get_node(owner) is None:
                raise HarnessError(f"{origin}: no NSEC3 {owner} for delegation {name}")
            zone.delete_node(owner)
            removed.append(name.to_text())
    if not removed:
        return removed  # e.g. a child zone without delegations: nothing to opt out

    chain = sorted((n for n, node in zone.nodes.items()
                    if node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3)),
                   key=lambda n: n.labels[0])
    private_key = private_key_of(zsk)
    for i, owner in enumerate(chain):
        following = chain[(i + 1) % len(chain)]
        next_hash = base64.b32hexdecode(following.labels[0].upper())
        node = zone.get_node(owner)
        old = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3)
        if old[0].next == next_hash:
            continue
        new = dns.rdataset.Rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3)
        new.update_ttl(old.ttl)
        new.add(old[0].replace(next=next_hash))
        node.replace_rdataset(new)
        rrsig = dns.dnssec.sign((owner, new), private_key, apex, zsk_rdata,
                                inception=now - INCEPTION_AGO,
                                expiration=now + EXPIRATION_AHEAD)
        sigs = dns.rdataset.Rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG,
                                     dns.rdatatype.NSEC3)
        sigs.update_ttl(old.ttl)
        sigs.add(rrsig)
        node.replace_rdataset(sigs)
    zone.to_file(str(path), relativize=False, sorted=True)
    return removed


def verify(path: Path, origin: str) -> None:
    """ldns-verify-zone must accept the signed file (signatures, NSEC/NSEC3 chain)."""
    _run([require_tool("ldns-verify-zone"), "-V", "2", str(path)], path.parent)


def write_anchor(path: Path, origin: str, ksk: KeyPair) -> None:
    """A delv trust-anchor file for `origin` (BIND 9.18 `trust-anchors` syntax)."""
    path.write_text(f'trust-anchors {{\n  "{origin}" static-key {ksk.flags} 3 13 '
                    f'"{ksk.public_key}";\n}};\n')


def sign_one(denial: str, origin: str, source_text: str, workdir: Path, now: int) -> SignedZone:
    """Make keys, sign one zone (source text given), verify it, write its trust anchor."""
    zdir = workdir / origin.rstrip(".")
    zdir.mkdir(parents=True)
    ksk = keygen(origin, True, zdir)
    zsk = keygen(origin, False, zdir)
    source = zdir / "unsigned.zone"
    source.write_text(f"$ORIGIN {origin}\n{source_text}")
    signed = zdir / f"{origin}signed"
    _run(signzone_argv(denial, source, signed, origin, [ksk, zsk], now), zdir)
    opted_out = prune_opt_out(signed, origin, zsk, now) if denial == "optout" else []
    verify(signed, origin)
    anchor = zdir / "anchor.conf"
    write_anchor(anchor, origin, ksk)
    return SignedZone(denial, origin, signed, ksk, zsk, anchor, ds_of(ksk, origin),
                      opted_out=opted_out)


def sign_all(workdir: Path) -> dict:
    """Sign the three test zones and their children in workdir: {denial: SignedZone}."""
    for source in (PARENT_SOURCE, CHILD_SOURCE, INSECURE_CHILD_SOURCE):
        if not source.is_file():
            raise HarnessError(f"zone source {source} not found")
    parent_text = PARENT_SOURCE.read_text()
    child_text = CHILD_SOURCE.read_text()
    now = int(time.time())
    out = {}
    for denial, origin in ORIGINS.items():
        child = sign_one(denial, f"secure.{origin}", child_text, workdir, now)
        text = parent_text + f"\n; DS of the signed child zone\nsecure\t\t\tDS\t{child.ds}\n"
        parent = sign_one(denial, origin, text, workdir, now)
        parent.child = child
        insecure = workdir / f"insecure.{origin}zone"
        insecure.write_text(f"$ORIGIN insecure.{origin}\n" + INSECURE_CHILD_SOURCE.read_text())
        parent.insecure_child = Zone(f"insecure.{origin}", insecure)
        if denial == "optout" and len(parent.opted_out) < 2:
            raise HarnessError(f"{origin}: expected insecure delegations to opt out, got "
                               f"{parent.opted_out}")
        out[denial] = parent
    return out
