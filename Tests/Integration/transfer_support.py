"""Helpers for the zone-transfer tests (test_transfer.py): anydns started from a YAML config
with transfer settings, Knot and NSD as primaries or secondaries with TSIG, a tiny scriptable
primary written with dnspython, and a `wait_for` that fails with every server's log tail.

Everything runs on 127.0.0.1, on ports picked by servers.free_port. Waiting is always on a
condition with a deadline; the pause between polls is a bounded wait on a server process
exiting (the other thing we care about), as servers.wait_ready does.
"""
from __future__ import annotations

import json
import random
import re
import os
import signal
import socket
import socketserver
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import dns.zone
import pytest

import servers
from conftest import anydns_binary_or_fail
from servers import LOOPBACK_V4, free_port, require_tool

KEY_NAME = "transfer"
KEY_ALGORITHM = "hmac-sha256"
KEY_SECRET = "K2tf3TRjvQkVCmJF3/Z9vA=="
KEYRING = dns.tsigkeyring.from_text({KEY_NAME: (KEY_ALGORITHM, KEY_SECRET)})
KEY_CONFIG = f"keys:\n  - name: {KEY_NAME}\n    algorithm: {KEY_ALGORITHM}\n    secret: {KEY_SECRET}\n"


# ------------------------------------------------------------------------------ processes

@dataclass
class Proc:
    """A server process we started, in its own session, with its log in a file."""
    name: str
    proc: subprocess.Popen
    log: Path
    port: int
    workdir: Path
    config: Path | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if self.log.exists():
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # NSD's children, or a hung process
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)

    # DNS ----------------------------------------------------------------------------------
    def query(self, name: str, rdtype: str = "SOA", tcp: bool = False, timeout: float = 2.0,
              **make) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype, **make)
        if tcp:
            return dns.query.tcp(q, LOOPBACK_V4, port=self.port, timeout=timeout)
        return dns.query.udp(q, LOOPBACK_V4, port=self.port, timeout=timeout)

    def serial(self, origin: str) -> int | None:
        """The SOA serial served for origin (NOERROR with an answer), or None."""
        try:
            r = self.query(origin, "SOA", timeout=0.5)
        except (OSError, dns.exception.DNSException):
            return None
        if r.rcode() != dns.rcode.NOERROR or not r.answer:
            return None
        return r.answer[0][0].serial

    def rcode(self, name: str, rdtype: str = "SOA") -> int | None:
        try:
            return self.query(name, rdtype, timeout=0.5).rcode()
        except (OSError, dns.exception.DNSException):
            return None


@dataclass
class Anydns(Proc):
    http_port: int = 0

    def http(self, path: str, method: str = "GET") -> tuple[int, str]:
        request = urllib.request.Request(f"http://{LOOPBACK_V4}:{self.http_port}{path}", method=method,
                                         data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=3) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def health(self) -> dict:
        status, body = self.http("/health")
        assert status == 200, f"/health answered {status}: {body}"
        return json.loads(body)

    def zone_health(self, origin: str) -> dict:
        zones = [z for z in self.health()["zones"] if z["origin"] == origin]
        assert zones, f"/health has no zone {origin}: {self.health()}"
        return zones[0]

    def metric(self, line_prefix: str) -> float:
        _, text = self.http("/metrics")
        for line in text.splitlines():
            if line.startswith(line_prefix + " "):
                return float(line.split()[-1])
        return 0.0


def wait_for(condition, what: str, deadline: float = 15.0, watch: tuple = (), describe=None):
    """Poll `condition` until it returns something truthy; fail with `what`, the last value
    (or `describe()`), and the log tail of every server in `watch` when the deadline passes
    or a watched server exits."""
    end = time.monotonic() + deadline
    value = None
    while True:
        try:
            value = condition()
        except (OSError, dns.exception.DNSException, urllib.error.URLError) as error:
            value = None
            last_error = error
        else:
            last_error = None
        if value:
            return value
        dead = [p for p in watch if not p.alive()]
        if dead or time.monotonic() > end:
            why = (f"{', '.join(p.name for p in dead)} exited" if dead
                   else f"timed out after {deadline}s")
            detail = describe() if describe else (last_error or value)
            pytest.fail(f"{why} waiting for {what} (last: {detail})\n" + logs(*watch), pytrace=False)
        pause(watch)


def pause(watch: tuple = ()) -> None:
    """A short bounded wait on a server process exiting, as servers.wait_ready does."""
    for p in watch:
        try:
            p.proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            pass
        return
    threading.Event().wait(0.05)


def logs(*procs: Proc) -> str:
    return "\n".join(f"--- {p.name} log tail ({p.log}):\n{p.log_tail()}" for p in procs)


STARTED: list = []  # every server process started, for the log tails of a failed test


def _spawn(name: str, argv: list, workdir: Path, port: int, cls=Proc, **extra) -> Proc:
    log = workdir / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = cls(name=name, proc=proc, log=log, port=port, workdir=workdir, **extra)
    STARTED.append(server)
    return server


def start_anydns(workdir: Path, config_text: str, name: str = "anydns", port: int | None = None,
                 http_port: int | None = None, attempts: int = 3) -> Anydns:
    """Write `config_text` to workdir/NAME.yaml and run `anydns serve --config` on 127.0.0.1:PORT
    with management HTTP on HTTP_PORT; returns once /livez answers 200. Zone readiness is the
    caller's business (a secondary zone is not served until transferred)."""
    binary = anydns_binary_or_fail()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"{name}.yaml"
    if not re.search(r"^lame-duck:", config_text, re.M):
        config_text = "lame-duck: 0\n" + config_text  # tests stop it at once, no drain period
    config.write_text(config_text)
    fixed = port is not None
    for attempt in range(attempts):
        dns_port = port or free_port()
        hport = http_port or free_port()
        server = _spawn(name, [str(binary), "serve", "--config", str(config),
                               "--listen", f"{LOOPBACK_V4}:{dns_port}", "--http-port", str(hport)],
                        workdir, dns_port, cls=Anydns, config=config, http_port=hport)
        end = time.monotonic() + 20
        while server.alive() and time.monotonic() < end:
            try:
                if server.http("/livez")[0] == 200:
                    return server
            except (OSError, urllib.error.URLError):
                pass
            pause((server,))
        text = server.log_tail(60)
        server.stop()
        clash = any(s in text.lower() for s in ("in use", "bind", "management http"))
        if fixed or not clash or attempt == attempts - 1:
            pytest.fail(f"{name} did not come up (exit {server.proc.returncode}) with config "
                        f"{config}:\n{config_text}\n--- log:\n{text}", pytrace=False)
    raise AssertionError("unreachable")


def wait_answering(server: Proc, origin: str, deadline: float = 20.0) -> None:
    """Until the server answers an SOA query for origin (any rcode) — it is listening."""
    wait_for(lambda: server.rcode(origin) is not None, f"{server.name} to answer DNS",
             deadline, (server,))


def start_knot(workdir: Path, body: str, origin: str, port: int | None = None) -> Proc:
    """knotd with a config of our own: server/control/log/database sections, then `body`
    (keys, remotes, acls, template, zones). Returns once it answers DNS."""
    knotd = require_tool("knotd")
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = workdir / "knot.conf"
    conf.write_text("\n".join(servers.knot_server_sections(workdir, [f"{LOOPBACK_V4}@{port}"]) + [body])
                    + "\n")
    knot = _spawn("knot", [knotd, "-c", str(conf)], workdir, port, config=conf)
    wait_answering(knot, origin)
    return knot


def knotc(knot: Proc, *args: str) -> str:
    result = subprocess.run([require_tool("knotc"), "-c", str(knot.config), *args],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, f"knotc {' '.join(args)}: {result.stdout}{result.stderr}\n{logs(knot)}"
    return result.stdout


def start_nsd(workdir: Path, body: str, origin: str, port: int | None = None) -> Proc:
    """NSD in the foreground with our server section, then `body` (key:, zone: ...)."""
    nsd = require_tool("nsd")
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    lines = servers.nsd_server_section(workdir, port, v6=False, verbosity=2)
    if servers.nsd_supports("rrl-ratelimit"):
        lines.append("  rrl-ratelimit: 0")
    lines += ["remote-control:", "  control-enable: no", body]
    conf = workdir / "nsd.conf"
    conf.write_text("\n".join(lines) + "\n")
    check = subprocess.run([require_tool("nsd-checkconf"), str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, f"generated nsd.conf rejected: {check.stderr}{check.stdout}"
    server = _spawn("nsd", [nsd, "-d", "-c", str(conf)], workdir, port, config=conf)
    wait_answering(server, origin)
    return server


# ------------------------------------------------------------------------------ zone data

def zone_text(origin: str, serial: int, body: str, timers: str = "3600 900 604800 60") -> str:
    return (f"$ORIGIN {origin}\n$TTL 300\n@ SOA ns1 hostmaster {serial} {timers}\n"
            f"@ NS ns1\nns1 A 192.0.2.1\n{body}")


def rrset_texts(rrsets) -> set:
    """Normalised `owner ttl class type rdata` lines of a list of RRsets (one per record)."""
    out = set()
    for rrset in rrsets:
        for rd in rrset:
            out.add(f"{rrset.name.to_text().lower()} {rrset.ttl} "
                    f"{dns.rdataclass.to_text(rrset.rdclass)} {dns.rdatatype.to_text(rrset.rdtype)} "
                    f"{rd.to_text().lower()}")
    return out


def zone_file_records(path: Path, origin: str) -> set:
    """The records of a zone file, normalised like rrset_texts."""
    zone = dns.zone.from_file(str(path), origin=origin, relativize=False, check_origin=False)
    lines = set()
    for name, node in zone.nodes.items():
        for rds in node.rdatasets:
            rrset = dns.rrset.from_rdata_list(name, rds.ttl, list(rds))
            lines |= rrset_texts([rrset])
    return lines


def xfr(server: Proc, origin: str, rdtype: str = "AXFR", serial: int = 0, keyring=None,
        keyname=None, timeout: float = 5.0) -> list:
    """A zone transfer over TCP with dnspython (which follows RFC 1995's IXFR state machine,
    AXFR-style fallback included, and verifies TSIG on every message when a keyring is given).
    Returns the records in order as `owner ttl class type rdata` lines."""
    lines = []
    for message in dns.query.xfr(LOOPBACK_V4, origin, rdtype=rdtype, port=server.port,
                                 serial=serial, keyring=keyring, keyname=keyname,
                                 keyalgorithm=KEY_ALGORITHM, relativize=False, timeout=timeout,
                                 lifetime=timeout * 2):
        for rrset in message.answer:
            for rd in rrset:
                lines.append(f"{rrset.name.to_text().lower()} {rrset.ttl} "
                             f"{dns.rdataclass.to_text(rrset.rdclass)} "
                             f"{dns.rdatatype.to_text(rrset.rdtype)} {rd.to_text().lower()}")
    return lines


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


# ------------------------------------------------------------------------------ a fake primary

class Raw(bytes):
    """Bytes a FakePrimary sends on TCP exactly as they are: no 2-byte length added."""


CLOSE = object()  # in a FakePrimary's answer: close the TCP connection here

# How a FakePrimary can break its transfers (FakePrimary.fault), each only over TCP, each for
# AXFR and IXFR alike; SOA queries are still answered properly.
TRANSFER_FAULTS = {
    "close-after-first-messages": "one RRset a message, the first half of them, then the connection closed",
    "close-inside-a-message": "a length prefix, half the message it announces, then the connection closed",
    "random-bytes": "64 random bytes (not a DNS message) framed with a valid 2-byte length",
    "cut-record": "the request's ID, QR and question, then an answer record whose owner name is cut short",
    "wrong-id": "the whole zone, well formed, in a message whose ID is not the request's",
}


class FakePrimary:
    """A minimal primary on 127.0.0.1 (UDP and TCP, one port) answering SOA and AXFR/IXFR
    (always AXFR-style, RFC 1995 §4 allows it) for one zone, from zone text parsed without any
    checks, so that it can serve what a real primary would refuse to load. Switch versions
    with `set_zone`; break the transfers with `fault` (one of TRANSFER_FAULTS, None to mend).
    Counts the SOA queries (and the serials it answered them with), the transfers served whole
    and the transfers it broke."""

    def __init__(self, origin: str, zone_source: str):
        self.origin = dns.name.from_text(origin)
        self.set_zone(zone_source)
        self.soa_queries = 0
        self.soa_serials: list = []  # the serial of every SOA answer, in order
        self.transfers = 0           # transfers served whole
        self.fault = None            # one of TRANSFER_FAULTS: break every transfer that way
        self.broken_transfers = 0    # transfers broken by `fault`
        self.random = random.Random(1982)
        self.ixfr_rcode = None  # set to an rcode to answer IXFR with it instead of the zone
        self.asked: list = []   # the transfer types asked for, in order
        self.lock = threading.Lock()
        self.connections: list = []
        parent = self

        class TCP(socketserver.BaseRequestHandler):
            def handle(self):
                with parent.lock:
                    parent.connections.append(self.request)
                try:
                    while True:
                        length = struct.unpack("!H", _recv_exact(self.request, 2))[0]
                        query = dns.message.from_wire(_recv_exact(self.request, length))
                        for reply in parent.answer(query, tcp=True):
                            if reply is CLOSE:
                                return  # socketserver shuts the connection down and closes it
                            if isinstance(reply, Raw):
                                self.request.sendall(reply)
                                continue
                            wire = reply.to_wire(max_size=65535)
                            self.request.sendall(struct.pack("!H", len(wire)) + wire)
                except (EOFError, OSError, dns.exception.DNSException):
                    return

        class UDP(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                try:
                    query = dns.message.from_wire(data)
                except dns.exception.DNSException:
                    return
                for reply in parent.answer(query, tcp=False):
                    sock.sendto(reply.to_wire(max_size=65535), self.client_address)

        class TCPServer(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        class UDPServer(socketserver.ThreadingUDPServer):
            daemon_threads = True

        for _ in range(20):
            self.port = free_port()
            try:
                self.tcp = TCPServer((LOOPBACK_V4, self.port), TCP)
            except OSError:
                continue
            try:
                self.udp = UDPServer((LOOPBACK_V4, self.port), UDP)
            except OSError:
                self.tcp.server_close()
                continue
            break
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.tcp, self.udp)]
        for t in self.threads:
            t.start()

    @property
    def address(self) -> str:
        return f"{LOOPBACK_V4}:{self.port}"

    def set_zone(self, text: str) -> None:
        """Parse the zone text WITHOUT checks (dnspython's zone object would object to CNAME
        and other data): one RRset per (owner, type), SOA first."""
        rrsets: dict = {}
        default_ttl = 300
        for line in text.splitlines():
            line = line.split(";")[0].strip()
            if not line or line.startswith("$"):
                continue
            owner, rest = line.split(None, 1)
            name = self.origin if owner == "@" else dns.name.from_text(owner, self.origin)
            rtype, rdata = rest.split(None, 1)
            rd = dns.rdata.from_text("IN", rtype, rdata, origin=self.origin, relativize=False)
            rr = dns.rrset.from_rdata(name, default_ttl, rd)
            key = (name, rr.rdtype)
            if key in rrsets:
                rrsets[key].union_update(rr)
            else:
                rrsets[key] = rr
        soa = [r for r in rrsets.values() if r.rdtype == dns.rdatatype.SOA]
        self.records = soa + [r for r in rrsets.values() if r.rdtype != dns.rdatatype.SOA]

    def answer(self, query: dns.message.Message, tcp: bool) -> list:
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        q = query.question[0]
        soa = self.records[0]
        if q.name != self.origin:
            reply.set_rcode(dns.rcode.REFUSED)
            return [reply]
        if q.rdtype == dns.rdatatype.SOA:
            with self.lock:
                self.soa_queries += 1
                self.soa_serials.append(soa[0].serial)
            reply.answer.append(soa)
            return [reply]
        if q.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR) and tcp:
            with self.lock:
                self.asked.append(dns.rdatatype.to_text(q.rdtype))
            if q.rdtype == dns.rdatatype.IXFR and self.ixfr_rcode is not None:
                reply.set_rcode(self.ixfr_rcode)
                return [reply]
            records = self.records + [soa]
            fault = self.fault
            if fault is not None:
                with self.lock:
                    self.broken_transfers += 1
                return self.broken_transfer(query, records, fault)
            with self.lock:
                self.transfers += 1
            reply.answer.extend(records)
            return [reply]
        reply.set_rcode(dns.rcode.NOTIMP)
        return [reply]

    def broken_transfer(self, query: dns.message.Message, records: list, fault: str) -> list:
        """The answer to a transfer request broken the way TRANSFER_FAULTS[fault] says."""
        def message(rrsets: list) -> dns.message.Message:
            m = dns.message.make_response(query)
            m.flags |= dns.flags.AA
            m.answer.extend(rrsets)
            return m
        if fault == "close-after-first-messages":
            # RFC 5936 §2.2: each message may carry any number of records; these carry one RRset.
            assert len(records) >= 4, "too few RRsets to stop half-way"
            return [message([r]) for r in records[:len(records) // 2]] + [CLOSE]
        if fault == "close-inside-a-message":
            wire = message(records).to_wire(max_size=65535)
            return [Raw(struct.pack("!H", len(wire)) + wire[:len(wire) // 2]), CLOSE]
        if fault == "random-bytes":
            garbage = self.random.randbytes(64)
            return [Raw(struct.pack("!H", len(garbage)) + garbage)]
        if fault == "cut-record":
            q = query.question[0]
            wire = (struct.pack("!HHHHHH", query.id, 0x8400, 1, 1, 0, 0)  # QR AA, 1 question, 1 answer
                    + q.name.to_wire() + struct.pack("!HH", q.rdtype, q.rdclass)
                    + b"\x3fabc")  # a 63-byte label with 3 bytes of it
            return [Raw(struct.pack("!H", len(wire)) + wire)]
        if fault == "wrong-id":
            m = message(records)
            m.id = (query.id + 1) & 0xFFFF
            return [m]
        raise ValueError(f"unknown transfer fault {fault!r}: one of {sorted(TRANSFER_FAULTS)}")

    def stop(self) -> None:
        """Stop listening and close every open connection: the primary is gone."""
        for s in (self.tcp, self.udp):
            s.shutdown()
            s.server_close()
        with self.lock:
            for c in self.connections:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass


# ------------------------------------------------------------------------------ raw TSIG

def udp_exchange(port: int, wire: bytes, timeout: float = 2.0) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(wire, (LOOPBACK_V4, port))
        return s.recvfrom(65535)[0]


@dataclass
class RawReply:
    """A reply parsed without TSIG validation: header rcode, and its TSIG record if any."""
    wire: bytes
    rcode: int
    flags: int
    answer_count: int
    tsig_owner: dns.name.Name | None = None
    tsig: object = None  # dns.rdtypes.ANY.TSIG.TSIG
    tsig_start: int = 0


def parse_raw(wire: bytes) -> RawReply:
    """Walk the message by hand so that a TSIG carrying an error can be inspected (dnspython
    raises PeerBadKey & co. before it returns a message)."""
    import dns.rdata
    import dns.wire
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
    reply = RawReply(wire, flags & 0xF, flags, an)
    parser = dns.wire.Parser(wire, 12)
    for _ in range(qd):
        parser.get_name()
        parser.get_struct("!HH")
    for _ in range(an + ns + ar):
        start = parser.current
        owner = parser.get_name()
        rdtype, rdclass, ttl, rdlen = parser.get_struct("!HHIH")
        if rdtype == dns.rdatatype.TSIG:
            with parser.restrict_to(rdlen):
                reply.tsig = dns.rdata.from_wire_parser(rdclass, rdtype, parser)
            reply.tsig_owner, reply.tsig_start = owner, start
        elif rdtype == dns.rdatatype.OPT:
            reply.rcode |= (ttl >> 24) << 4
            parser.seek(parser.current + rdlen)
        else:
            parser.seek(parser.current + rdlen)
    return reply


def verify_tsig(reply: RawReply, key: "dns.tsig.Key", request_mac: bytes) -> None:
    """Check the reply's MAC (RFC 8945 §5.3 digest: request MAC, message without TSIG, TSIG
    variables) even when it carries a TSIG error; raises dns.tsig.BadSignature when wrong."""
    import dns.tsig
    wire = reply.wire
    adcount = struct.unpack("!H", wire[10:12])[0] - 1
    unsigned = wire[:10] + struct.pack("!H", adcount) + wire[12:reply.tsig_start]
    ctx = dns.tsig._digest(unsigned, key, reply.tsig, None, request_mac, None, False)
    ctx.verify(reply.tsig.mac)
