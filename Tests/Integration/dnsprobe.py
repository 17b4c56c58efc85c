"""Ask DNS servers questions and reduce their replies to comparable values.

Two kinds of probes:

* well-formed queries sent with the real `dig` (BIND 9.18) or `kdig` (Knot 3.2) and their
  text output parsed into a `Reply`;
* hand-built, possibly malformed packets sent over a raw UDP or TCP socket (`send_raw`),
  reduced to an rcode or to "drop".

`Reply.key()` is what the differential test compares: rcode (extended rcodes such as
BADVERS included), the AA and TC flags, the question as echoed, and the ANSWER and AUTHORITY
sections as sorted sets of normalised `owner ttl class type rdata` strings (owner lowercased,
domain names inside rdata lowercased, rdata re-rendered by dnspython so that dig's and
kdig's spellings agree). The ADDITIONAL section is kept for display only.
"""

from __future__ import annotations

import re
import socket
import struct
import subprocess
from dataclasses import dataclass

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rcode

from servers import require_tool

QUERY_TIMEOUT = 3  # seconds dig/kdig wait for one reply (loopback answers take < 10 ms)


# --------------------------------------------------------------------------- queries

@dataclass(frozen=True)
class Query:
    """One well-formed query of the differential corpus.

    edns: "none" (no OPT), "0" (EDNS version 0) or "1" (version 1, expects BADVERS).
    bufsize: advertised UDP payload size with EDNS (None: the tool's default, 1232).
    tool: "dig" or "kdig". kdig lowercases the QNAME, so mixed-case queries use dig.
    """
    qname: str
    qtype: str = "A"
    qclass: str = "IN"
    tcp: bool = False
    edns: str = "0"
    bufsize: int | None = None
    dnssec: bool = False
    tool: str = "dig"
    rule: str = ""

    def label(self) -> str:
        """A short readable id, used as the pytest case id and in the summary table."""
        parts = [self.qname, self.qclass if self.qclass != "IN" else "", self.qtype,
                 "tcp" if self.tcp else "udp"]
        if self.edns == "none":
            parts.append("noedns")
        elif self.edns == "1":
            parts.append("edns1")
        if self.bufsize:
            parts.append(f"bufsize{self.bufsize}")
        if self.dnssec:
            parts.append("do")
        parts.append(self.tool)
        return "/".join(p for p in parts if p)


def dig_argv(q: Query, host: str, port: int) -> list:
    """Command line for BIND's dig: no recursion, no cookie, no AD, no TCP retry on TC."""
    argv = [require_tool("dig"), f"@{host}", "-p", str(port), "+norec", "+noadflag",
            "+nocookie", "+ignore", "+tries=1", f"+time={QUERY_TIMEOUT}", "+nocmd",
            "+nostats", "-c", q.qclass, "-t", q.qtype, "-q", q.qname]
    argv.append("+tcp" if q.tcp else "+notcp")
    if q.edns == "none":
        argv.append("+noedns")
    else:
        argv += [f"+edns={q.edns}", "+noednsneg"]
        if q.bufsize:
            argv.append(f"+bufsize={q.bufsize}")
    if q.dnssec:
        argv.append("+dnssec")
    return argv


def kdig_argv(q: Query, host: str, port: int) -> list:
    """Command line for Knot's kdig with the same query semantics as dig_argv."""
    argv = [require_tool("kdig"), f"@{host}", "-p", str(port), "+norec", "+ignore",
            "+retry=0", f"+time={QUERY_TIMEOUT}", "+nostats",
            "-c", q.qclass, "-t", q.qtype, "-q", q.qname]
    argv.append("+tcp" if q.tcp else "+notcp")
    if q.edns == "none":
        argv.append("+noedns")
    else:
        argv.append(f"+edns={q.edns}")
        if q.bufsize:
            argv.append(f"+bufsize={q.bufsize}")
    if q.dnssec:
        argv.append("+dnssec")
    return argv


# --------------------------------------------------------------------------- replies

@dataclass
class Reply:
    """A parsed reply, or a non-reply (`rcode == "NO REPLY"`)."""
    rcode: str
    flags: frozenset = frozenset()
    question: str = ""
    answer: tuple = ()
    authority: tuple = ()
    additional: tuple = ()
    edns_version: int | None = None
    raw: str = ""

    @property
    def aa(self) -> bool:
        return "aa" in self.flags

    @property
    def tc(self) -> bool:
        return "tc" in self.flags

    def key(self) -> tuple:
        """The fields compared between servers."""
        return (self.rcode, self.aa, self.tc, self.question,
                tuple(sorted(self.answer)), tuple(sorted(self.authority)))

    def brief(self) -> str:
        """One line for tables: rcode, flags, section sizes and the first records."""
        if self.rcode == "NO REPLY":
            return "no reply"
        fl = "".join(f for f in ("aa", "tc") if f in self.flags) or "-"
        ans = "; ".join(sorted(self.answer))
        auth = "; ".join(sorted(self.authority))
        return (f"{self.rcode} {fl} an={len(self.answer)} ns={len(self.authority)}"
                f" [{_clip(ans)}] [{_clip(auth)}]")


def _clip(s: str, n: int = 90) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


SECTION_RE = re.compile(r"^;; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:\s*$")
STATUS_RE = re.compile(r"status: ([A-Z0-9]+)")
FLAGS_RE = re.compile(r"^;; [Ff]lags:([^;]*);", re.M)
DIG_EDNS_RE = re.compile(r"^; EDNS: version: (\d+)", re.M)
KDIG_EDNS_RE = re.compile(r"^;; ?Version: (\d+);", re.M)


def normalise_rr(line: str) -> str:
    """Canonical text of one RR line: lowercased owner and rdata names, dnspython rdata.

    Input is `owner ttl class type rdata...` as printed by dig or kdig.
    """
    parts = line.split(None, 4)
    if len(parts) < 4:
        return line.strip()
    owner, ttl, rdclass, rdtype = parts[:4]
    rdata_text = parts[4] if len(parts) > 4 else ""
    owner = owner.lower()
    try:
        cls = dns.rdataclass.from_text(rdclass)
        typ = dns.rdatatype.from_text(rdtype)
        rd = dns.rdata.from_text(cls, typ, rdata_text, origin=dns.name.root)
        wire = rd.to_digestable(dns.name.root)  # RFC 4034 6.2 canonical: names lowercased
        rd = dns.rdata.from_wire(cls, typ, wire, 0, len(wire), origin=None)
        rdata_text = rd.to_text()
    except Exception:  # keep the printed text when dnspython cannot parse it
        rdata_text = " ".join(rdata_text.split())
    return f"{owner} {ttl} {rdclass.upper()} {rdtype.upper()} {rdata_text}"


def parse_tool_output(text: str) -> Reply:
    """Parse dig or kdig default output into a Reply (works for both spellings)."""
    status = STATUS_RE.search(text)
    if not status:
        return Reply(rcode="NO REPLY", raw=text)
    flags_m = FLAGS_RE.search(text)
    flags = frozenset(flags_m.group(1).split()) if flags_m else frozenset()
    edns = DIG_EDNS_RE.search(text) or KDIG_EDNS_RE.search(text)
    sections = {"QUESTION": [], "ANSWER": [], "AUTHORITY": [], "ADDITIONAL": []}
    current = None
    for line in text.splitlines():
        m = SECTION_RE.match(line)
        if m:
            current = m.group(1)
            continue
        if not line.strip():
            current = None
            continue
        if current == "QUESTION":
            sections["QUESTION"].append(line.lstrip(";").split()[0])
        elif current and not line.startswith(";"):
            sections[current].append(normalise_rr(line))
    return Reply(
        rcode=status.group(1), flags=flags,
        question=" ".join(sections["QUESTION"]),
        answer=tuple(sections["ANSWER"]), authority=tuple(sections["AUTHORITY"]),
        additional=tuple(sections["ADDITIONAL"]),
        edns_version=int(edns.group(1)) if edns else None, raw=text)


def ask(q: Query, host: str, port: int) -> Reply:
    """Send one corpus query with the query's tool and parse the reply."""
    argv = dig_argv(q, host, port) if q.tool == "dig" else kdig_argv(q, host, port)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=QUERY_TIMEOUT * 4)
    return parse_tool_output(proc.stdout + proc.stderr)


# --------------------------------------------------------------------------- raw packets

def wire_name(name: str) -> bytes:
    """Uncompressed wire form of a dotted name (no escapes)."""
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def header(qid: int = 0x4A4A, flags: int = 0, qd: int = 1, an: int = 0, ns: int = 0,
           ar: int = 0) -> bytes:
    """The 12-byte DNS header (RFC 1035 4.1.1)."""
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def question(name: str = "www.diff.test", qtype: int = 1, qclass: int = 1) -> bytes:
    """One question entry."""
    return wire_name(name) + struct.pack(">HH", qtype, qclass)


def opt_rr(payload: int = 1232, version: int = 0, flags: int = 0, rdata: bytes = b"",
           owner: bytes = b"\x00", rdlength: int | None = None) -> bytes:
    """An OPT pseudo-RR (RFC 6891 6.1.2); rdlength may lie on purpose."""
    length = len(rdata) if rdlength is None else rdlength
    return owner + struct.pack(">HHBBHH", 41, payload, 0, version, flags, length) + rdata


def make_query(name: str, qtype: int = 1, qid: int = 0x4A4A, edns: bool = False,
               qclass: int = 1) -> bytes:
    """A well-formed query packet."""
    pkt = header(qid=qid, ar=1 if edns else 0) + question(name, qtype, qclass)
    return pkt + (opt_rr() if edns else b"")


@dataclass
class RawResult:
    """Outcome of a raw exchange: `rcode` is a name like FORMERR, or "DROP"."""
    rcode: str
    packet: bytes = b""
    detail: str = ""

    def brief(self) -> str:
        return self.rcode if not self.detail else f"{self.rcode} ({self.detail})"


def rcode_of(packet: bytes) -> str:
    """Rcode name of a reply, extended with the OPT's upper bits when an OPT parses."""
    if len(packet) < 12:
        return f"SHORT({len(packet)}B)"
    flags = struct.unpack(">H", packet[2:4])[0]
    rcode = flags & 0xF
    try:
        import dns.message
        msg = dns.message.from_wire(packet, ignore_trailing=True)
        rcode = msg.rcode()
    except Exception:
        pass  # e.g. unknown opcode in the echo: dnspython refuses it, header rcode is enough
    try:
        return dns.rcode.to_text(rcode)
    except Exception:
        return f"RCODE{rcode}"


def send_raw(host: str, port: int, packet: bytes, tcp: bool = False,
             timeout: float = 1.5) -> RawResult:
    """Send bytes as one UDP datagram or one TCP frame and wait for one reply.

    A reply is awaited up to `timeout` seconds; silence, a closed or reset connection count
    as "DROP". For TCP the packet is sent with its 2-byte length prefix unless it is
    already a list of pre-framed bytes.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not tcp:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(packet, (host, port))
            try:
                data = s.recv(65535)
            except socket.timeout:
                return RawResult("DROP", detail="no reply")
            return RawResult(rcode_of(data), data)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack(">H", len(packet)) + packet)
        try:
            data = recv_frame(s)
        except socket.timeout:
            return RawResult("DROP", detail="no reply, connection open")
        except ConnectionResetError:
            return RawResult("DROP", detail="reset")
        if data is None:
            return RawResult("DROP", detail="closed")
        return RawResult(rcode_of(data), data)


def send_raw_frame(host: str, port: int, frame: bytes, timeout: float = 1.5) -> RawResult:
    """Send raw TCP bytes (the caller builds the length prefix, possibly a lying one)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(frame)
        s.shutdown(socket.SHUT_WR)
        try:
            data = recv_frame(s)
        except socket.timeout:
            return RawResult("DROP", detail="no reply, connection open")
        except ConnectionResetError:
            return RawResult("DROP", detail="reset")
        if data is None:
            return RawResult("DROP", detail="closed")
        return RawResult(rcode_of(data), data)


def recv_exact(sock: socket.socket, n: int) -> bytes | None:
    """Read exactly n bytes, or None if the peer closes first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_frame(sock: socket.socket) -> bytes | None:
    """Read one length-prefixed DNS message from a TCP stream (RFC 7766 8)."""
    prefix = recv_exact(sock, 2)
    if prefix is None:
        return None
    return recv_exact(sock, struct.unpack(">H", prefix)[0])
