"""Group "rrl": the 10k zone with response rate limiting on, first at a rate nobody reaches, then
under a flood.

Method: each server is started again twice with RRL on (slip 2, IPv4 /24, IPv6 /56; how each
server is configured for it: servers.py).
* "RRL on": the UDP run again with --rrl-rate (1,000,000) responses per second. RRL counts
  responses per netblock and response kind, and all of dnsperf is one netblock: the biggest
  bucket (NXDOMAIN is counted per zone, about 10 % of the queries) stays far below the limit at
  any rate one core can answer, so nothing is dropped or truncated, and the row (with the table
  beside it, RRL off against on per server) shows what the accounting costs.
* "Flood": at --flood-rrl-rate (20) responses per second, dnsperf bound to 127.0.1.2 (-a) asks
  one name as fast as it can (-q 10000 outstanding, -t 0.2 so that dropped queries do not
  throttle it) for --flood-seconds, while a Python client bound to 127.0.2.3, another /24, asks
  the same name --legit-qps (10) times per second (1 s timeout): below the limit, since its own
  /24 is rate limited too (at 50/s against 20/s NSD and Knot limit it by itself). Flood
  responses are dnsperf's completed queries; how many had TC=1 is counted on `lo` by an
  AF_PACKET socket with a BPF filter (root only; otherwise shown as —), with the capture's own
  drops shown.
"""
import ctypes
import os
import select
import socket
import struct
import threading
import time

from benchlib import BenchError, log, size_label
from benchlib.dnsperf import Dnsperf
from benchlib.dnsquery import QTYPE_A, build_query
from benchlib.measure import measure_throughput
from benchlib.report import cost_table, fmt, markdown_table, server_rows, throughput_table
from benchlib.servers import RRL_SLIP

NAME = "rrl"
DESCRIPTION = "10k zone with response rate limiting: UDP, flood"
ZONE = "small"
FLOOD_ADDRESS = "127.0.1.2"  # the flooding source (127/8 is all local on Linux)
LEGIT_ADDRESS = "127.0.2.3"  # a client in another /24, asking at a modest rate


def run(bench):
    args = bench.args
    zone = bench.zone(ZONE)
    bench.measure_each_server(f"{size_label(args.names)} zone with response rate limiting: UDP at "
                              f"{args.rrl_rate:,}/s, then a flood from {FLOOD_ADDRESS} at {args.flood_rrl_rate}/s",
                              measure_server, zone)


def measure_server(server, zone, args, results):
    """The UDP run again with rate limiting on at a rate no benchmark client reaches, then the flood."""
    start_rate_limited(server, zone, "rrl", args.rrl_rate)
    server.check_answers(zone.origin)
    results["throughput"].append(measure_throughput(server, zone, args, "udp-rrl"))
    server.stop()
    start_rate_limited(server, zone, "flood", args.flood_rrl_rate)
    results["flood"].append(measure_flood(server, zone, args))


def start_rate_limited(server, zone, instance, rate):
    """Starts the server on its own copy of the zone with rate limiting at `rate` responses/s."""
    zone_file = os.path.join(server.workdir, f"{server.name}-{instance}.zone")
    zone.write(zone_file, 1)
    server.start(zone.origin, zone_file, instance, rrl=rate)
    server.wait_first_answer(zone.origin, 1)


class LegitClient(threading.Thread):
    """A well-behaved client on LEGIT_ADDRESS: `rate` queries per second for `seconds`.

    Each query has its own id; an answer counts when its id is outstanding, a query with no
    answer after `timeout` seconds is a timeout. Answers with TC=1 are counted apart."""

    def __init__(self, port, name, rate, seconds, timeout=1.0):
        super().__init__(name="legit-client", daemon=True)
        self.port, self.name_asked, self.rate, self.seconds, self.timeout = port, name, rate, seconds, timeout
        self.sent = self.answered = self.truncated = self.timeouts = 0
        self.error = None

    def run(self):
        try:
            self.ask_all()
        except OSError as error:
            self.error = str(error)

    def ask_all(self):
        outstanding = {}  # id -> deadline
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((LEGIT_ADDRESS, 0))
            sock.connect(("127.0.0.1", self.port))
            started = time.monotonic()
            total = int(self.rate * self.seconds)
            while self.sent < total or outstanding:
                now = time.monotonic()
                if self.sent < total and now >= started + self.sent / self.rate:
                    query_id = self.sent % 65536
                    sock.send(build_query(query_id, self.name_asked, QTYPE_A))
                    outstanding[query_id] = now + self.timeout
                    self.sent += 1
                for query_id in [qid for qid, deadline in outstanding.items() if deadline <= now]:
                    del outstanding[query_id]
                    self.timeouts += 1
                next_send = started + self.sent / self.rate if self.sent < total else now + self.timeout
                wait = max(0.0, min([next_send] + list(outstanding.values())) - now)
                readable, _, _ = select.select([sock], [], [], wait)
                if readable:
                    data = sock.recv(4096)
                    if len(data) >= 4:
                        query_id, flags = struct.unpack_from("!HH", data)
                        if flags & 0x8000 and outstanding.pop(query_id, None) is not None:
                            self.answered += 1
                            self.truncated += bool(flags & 0x0200)


class ResponseCapture(threading.Thread):
    """Counts the UDP packets sent to one address on `lo`, and those with TC=1 (needs root).

    An AF_PACKET socket on the loopback interface sees every packet; a classic BPF filter keeps
    only IPv4 UDP from the server's port to `address`, so the flood's queries never reach this
    process. Drops (the socket buffer overflowing) come from PACKET_STATISTICS."""

    SOL_PACKET, PACKET_STATISTICS, SO_ATTACH_FILTER = 263, 6, 26
    PACKET_OUTGOING = 4

    def __init__(self, address, server_port):
        super().__init__(name="response-capture", daemon=True)
        self.responses = self.truncated = self.drops = 0
        self.stop_event = threading.Event()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
        self.sock.bind(("lo", 0x0800))
        destination = struct.unpack("!I", socket.inet_aton(address))[0]
        program = [  # (code, jt, jf, k); the packet starts at the IPv4 header (SOCK_DGRAM)
            (0x30, 0, 0, 9),               # ldb [9]           protocol
            (0x15, 0, 5, 17),              # jeq UDP, else drop
            (0x20, 0, 0, 16),              # ld  [16]          destination address
            (0x15, 0, 3, destination),     # jeq address, else drop
            (0xB1, 0, 0, 0),               # ldxb 4*([0]&0xf)  IP header length
            (0x48, 0, 0, 0),               # ldh [x+0]         UDP source port
            (0x15, 1, 0, server_port),     # jeq port: accept
            (0x06, 0, 0, 0),               # ret 0             drop
            (0x06, 0, 0, 0xFFFF),          # ret 65535         accept
        ]
        code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
        self.code = ctypes.create_string_buffer(code)
        fprog = struct.pack("HL", len(program), ctypes.addressof(self.code))
        self.sock.setsockopt(socket.SOL_SOCKET, self.SO_ATTACH_FILTER, fprog)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE (root)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
        self.sock.settimeout(0.2)
        self.sock.getsockopt(self.SOL_PACKET, self.PACKET_STATISTICS, 8)  # reset the counters

    def run(self):
        buffer = bytearray(64)
        while not self.stop_event.is_set():
            try:
                length, address = self.sock.recvfrom_into(buffer)
            except socket.timeout:
                continue
            if address[2] == self.PACKET_OUTGOING:  # on lo each packet shows twice: out and in
                continue
            header_length = (buffer[0] & 0xF) * 4
            if length >= header_length + 12:
                self.responses += 1
                self.truncated += bool(buffer[header_length + 8 + 2] & 0x02)
        packets, drops = struct.unpack("II", self.sock.getsockopt(self.SOL_PACKET, self.PACKET_STATISTICS, 8))
        self.drops = drops
        self.sock.close()


def measure_flood(server, zone, args):
    """One source floods one name while a client in another /24 asks politely; RRL must tell them apart."""
    flood_name = "h1." + zone.origin
    query_file = os.path.join(server.dir, "flood.queries")
    with open(query_file, "w") as queries:
        queries.write(f"{flood_name} A\n")
    capture, capture_error = None, None
    try:
        capture = ResponseCapture(FLOOD_ADDRESS, server.port)
    except (OSError, PermissionError) as error:  # not root: no TC count
        capture_error = str(error)
    if capture:
        capture.start()
    legit = LegitClient(server.port, flood_name, args.legit_qps, args.flood_seconds)
    output = os.path.join(server.dir, "dnsperf-flood.out")
    # Short timeout and many outstanding queries: dropped queries must not throttle the flood.
    perf = Dnsperf(server.port, query_file, output, args.flood_seconds, args.clients, 10_000, verbose=False,
                   extra=["-a", FLOOD_ADDRESS, "-t", "0.2"])
    legit.start()
    flood = perf.wait()
    legit.join()
    if capture:
        capture.stop_event.set()
        capture.join()
    if not server.alive():
        raise BenchError(f"{server.name} died during the flood:\n{server.log_tail()}")
    if legit.error:
        raise BenchError(f"legitimate client on {LEGIT_ADDRESS}: {legit.error}")
    row = {
        "test": "flood", "server": server.name, "rrl_rate": args.flood_rrl_rate,
        "flood_sent": flood["sent"], "flood_responses": flood["answered"], "flood_lost": flood["lost"],
        "flood_captured": capture.responses if capture else None,
        "flood_truncated": capture.truncated if capture else None,
        "capture_drops": capture.drops if capture else None, "capture_error": capture_error,
        "legit_sent": legit.sent, "legit_answered": legit.answered, "legit_truncated": legit.truncated,
        "legit_timeouts": legit.timeouts,
    }
    log(f"  {server.name} flood: {flood['sent']:,} sent, {flood['answered']:,} answered"
        + (f" ({capture.truncated:,} of {capture.responses:,} captured with TC=1)" if capture else "")
        + f"; legitimate {legit.answered}/{legit.sent} answered, {legit.timeouts} timeouts")
    return row


def report(bench):
    if not bench.ran(NAME):
        return []
    args, results, names = bench.args, bench.results, bench.args.servers
    return [f"\n## UDP with response rate limiting on ({args.rrl_rate:,} responses/s, slip {RRL_SLIP}), "
            f"{size_label(args.names)}-name zone\n\n{throughput_table(results, 'udp-rrl', names)}"
            f"{rrl_cost_table(results, names)}",
            f"\n## Flood: dnsperf from {FLOOD_ADDRESS} asks h1.{bench.zone(ZONE).origin} A as fast as it can for "
            f"{args.flood_seconds} s, {LEGIT_ADDRESS} asks it {args.legit_qps} times/s; RRL "
            f"{args.flood_rrl_rate} responses/s, slip {RRL_SLIP}\n\n{flood_table(results, names)}"]


def targets(bench):
    return []


def rrl_cost_table(results, servers):
    """Each server's UDP run with rate limiting on against its own run with it off."""
    return cost_table(results, servers, "udp-small", "udp-rrl", "RRL off", "RRL on")


def flood_table(results, servers):
    rows = []
    for name, row in server_rows(results["flood"], servers):
        if row["flood_captured"] is None:
            truncated = f"— (no capture: {row['capture_error']})"
        else:
            truncated = f"{row['flood_truncated']:,} of {row['flood_captured']:,} captured"
            if row["capture_drops"]:
                truncated += f" ({row['capture_drops']:,} dropped by the capture)"
        rows.append([name, fmt(row["flood_sent"]), fmt(row["flood_responses"]), truncated,
                     f"{row['legit_answered']} / {row['legit_sent']}", fmt(row["legit_truncated"]),
                     fmt(row["legit_timeouts"])])
    headers = ["server", "flood queries sent", "flood responses received", "of which TC=1",
               "legitimate answered / sent", "legitimate TC=1", "legitimate timeouts"]
    return markdown_table(headers, rows)
