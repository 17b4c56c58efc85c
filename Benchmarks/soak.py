#!/usr/bin/python3
"""Soak test: anydns under steady valid load, hostile traffic and reloads; memory and descriptors.

    Benchmarks/soak.py [--anydns PATH] [--duration 600] [--qps 2000] ...     (make soak)

What runs, all on loopback, for --duration seconds:

* Valid load: dnsperf at a fixed rate (-Q --qps) with the query file of Benchmarks/gen_zone.py
  (a --names zone: existing names, CNAMEs, NXDOMAIN, NODATA (MX at a host) and wildcard names).
* Hostile UDP (a thread of its own, --udp-rate packets/s): random bytes, short headers, QR=1,
  bad label lengths, compression loops, bad OPT records (two OPTs, OPT not at the root, OPT with
  a bad RDLENGTH or option length, OPT in the answer section), truncated records and wrong
  section counts. Replies are read and counted, never checked: the point is that the server
  survives and stays flat.
* TCP abuse (another thread): up to --abuse-connections connections kept open at once, cycled
  (each lives a random 2-20 s, so some outlive the server's idle timeout): ones that send
  nothing, ones that send a 2-byte length prefix and stop, and ones that send --pipeline
  queries at once with a small receive buffer and never read the answers.
* Reloads: every --reload-every seconds the zone file is replaced (new file + rename) by the
  other of two versions (version B changes the address of every 100th host and adds a few
  names), with the next SOA serial, and anydns gets SIGHUP (README: SIGHUP re-reads every file
  zone and swaps it in).
* Sampling: every second VmRSS (/proc/PID/status) and the number of open descriptors
  (/proc/PID/fd). A table row every --report-every seconds.

anydns runs with a configuration written here: one listener, the zone, management HTTP on a
free port, limits.tcp-connections = --tcp-cap (default 100, below --abuse-connections so the
cap is exercised), limits.tcp-idle-timeout = 10 (the default, written out), and
journal.max-entries = 5 (the IXFR journal is full long before warm-up ends, so its growth is
not mistaken for a leak).

Pass criteria (all must hold; the exit status is 1 otherwise, 2 when the run could not start):

1. memory flat after warm-up: max RSS in the last third of the run minus RSS at the end of the
   warm-up (--warmup, 60 s) <= max(8 MiB, 5 % of the warm-up RSS);
2. descriptors: after the abuse connections are closed and the idle timeout has passed, fds <=
   fds at the start + --fd-slack; and fds never above start + --tcp-cap + --fd-slack;
3. dnsperf: zero SERVFAIL and "Queries lost: 0";
4. the server is still running, and serves the serial of the last reload.

Only the standard library; dnspython is not needed.
"""
import argparse
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import DEFAULT_ANYDNS, log  # noqa: E402
from benchlib.dnsperf import dnsperf_totals  # noqa: E402
from benchlib.dnsquery import QTYPE_A, build_query, encode_name, served_serial  # noqa: E402
from benchlib.procstats import status_kib  # noqa: E402
from benchlib.servers import free_port  # noqa: E402
from benchlib.zones import generate_zone, replace_file, with_serial  # noqa: E402

ORIGIN = "soak.test."
IDLE_TIMEOUT = 10.0  # limits.tcp-idle-timeout: anydns's default, written out in the configuration
STARTUP_TIMEOUT = 120.0
FINAL_FD_TIMEOUT = 30.0  # extra seconds (after the idle timeout) for the descriptors to come back


# ---------------------------------------------------------------------------------------------
# Malformed packets: each function returns one datagram


def header(flags=0, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", random.randrange(65536), flags, qd, an, ns, ar)


def question(name=ORIGIN, qtype=QTYPE_A):
    return encode_name(name) + struct.pack("!HH", qtype, 1)


def opt_record(payload=1232, rdata=b"", owner=b"\0", rdlength=None):
    length = len(rdata) if rdlength is None else rdlength
    return owner + struct.pack("!HHIH", 41, payload, 0, length) + rdata


def bad_random(rng):
    return rng.randbytes(rng.randrange(0, 600))


def bad_short_header(rng):
    return rng.randbytes(rng.randrange(0, 12))


def bad_qr_set(rng):
    return header(flags=0x8000) + question(f"h{rng.randrange(1000)}.{ORIGIN}")


def bad_label_length(rng):
    kind = rng.randrange(3)
    if kind == 0:  # label claims 63 bytes, 4 follow
        return header() + b"\x3fabcd"
    if kind == 1:  # reserved label types 01 and 10
        return header() + bytes([rng.choice([0x40, 0x80, 0x7F, 0xBF])]) + b"abc\0" + struct.pack("!HH", 1, 1)
    return header() + b"\x05ab"  # cut inside a label


def bad_compression_loop(rng):
    kind = rng.randrange(3)
    if kind == 0:  # QNAME is a pointer to itself
        return header() + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    if kind == 1:  # label then a pointer back to its own start
        return header() + b"\x03abc\xc0\x0c" + struct.pack("!HH", 1, 1)
    # answer owner points forward past the end of the message
    return header(an=1) + question() + b"\xc3\xff" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x7f\0\0\1"


def bad_opt(rng):
    kind = rng.randrange(5)
    if kind == 0:  # two OPT records
        return header(ar=2) + question() + opt_record() + opt_record()
    if kind == 1:  # OPT owner is not the root
        return header(ar=1) + question() + opt_record(owner=encode_name("x." + ORIGIN))
    if kind == 2:  # RDLENGTH beyond the end
        return header(ar=1) + question() + opt_record(rdlength=200)
    if kind == 3:  # option length beyond the RDATA (NSID code 3, claims 40 bytes)
        return header(ar=1) + question() + opt_record(rdata=struct.pack("!HH", 3, 40) + b"ab")
    return header(an=1) + question() + opt_record()  # OPT in the answer section


def bad_truncated_record(rng):
    kind = rng.randrange(4)
    whole = header(ar=1) + question() + opt_record(rdata=struct.pack("!HH", 3, 0))
    if kind == 0:  # cut inside the additional record
        return whole[:rng.randrange(len(whole) - 12, len(whole))]
    if kind == 1:  # counts claim records that are not there
        return header(an=3, ns=2, ar=1) + question()
    if kind == 2:  # question without QTYPE/QCLASS
        return header() + encode_name(ORIGIN) + b"\0"
    return header(qd=rng.choice([0, 2, 65535])) + question()  # wrong question count


MALFORMED = [bad_random, bad_short_header, bad_qr_set, bad_label_length, bad_compression_loop, bad_opt,
             bad_truncated_record]


class HostileUdp(threading.Thread):
    """Sends malformed datagrams at a fixed rate (paced by the clock) and counts the replies."""

    def __init__(self, port, rate):
        super().__init__(name="hostile-udp", daemon=True)
        self.port, self.rate = port, rate
        self.stop_event = threading.Event()
        self.sent = {function.__name__: 0 for function in MALFORMED}
        self.replies = 0
        self.errors = 0

    def total_sent(self):
        return sum(self.sent.values())

    def run(self):
        rng = random.Random(7)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        started = time.monotonic()
        count = 0
        while not self.stop_event.is_set():
            due = started + count / self.rate
            delay = due - time.monotonic()
            if delay > 0:  # pacing, not synchronisation
                self.stop_event.wait(delay)
                continue
            function = MALFORMED[count % len(MALFORMED)]
            try:
                sock.sendto(function(rng), ("127.0.0.1", self.port))
                self.sent[function.__name__] += 1
            except OSError:
                self.errors += 1
            count += 1
            while True:  # drain replies so the socket buffer never fills
                try:
                    sock.recv(65535)
                    self.replies += 1
                except OSError:
                    break
        sock.close()


# ---------------------------------------------------------------------------------------------
# TCP abuse


class TcpAbuse(threading.Thread):
    """Keeps up to `limit` abusive TCP connections open, cycling them.

    Kinds, in turn: "silent" (sends nothing), "prefix" (sends a 2-byte length and stops),
    "pipeline" (sends `pipeline` queries at once, with a 4 KiB receive buffer, and never reads).
    Each connection lives a random 2-20 s; a silent or prefix one that the server closes first
    (idle timeout, or refused over the connection cap) is noticed and replaced.
    """

    KINDS = ("silent", "prefix", "pipeline")

    def __init__(self, port, limit, open_rate, pipeline):
        super().__init__(name="tcp-abuse", daemon=True)
        self.port, self.limit, self.open_rate, self.pipeline = port, limit, open_rate, pipeline
        self.stop_event = threading.Event()
        self.open = {}  # socket -> (kind, deadline)
        self.opened = {kind: 0 for kind in self.KINDS}
        self.closed_by_server = 0
        self.connect_failures = 0
        self.pipelined_queries = 0
        self.max_open = 0

    def run(self):
        rng = random.Random(11)
        queries = b"".join(struct.pack("!H", len(query)) + query for query in
                           (build_query(i % 65536, f"h{i % 1000}.{ORIGIN}", QTYPE_A) for i in range(self.pipeline)))
        query_size = len(queries) // self.pipeline
        started = time.monotonic()
        attempts = 0
        while not self.stop_event.is_set():
            now = time.monotonic()
            for sock, (_kind, deadline) in list(self.open.items()):
                if now >= deadline:
                    self.close(sock)
            self.reap_closed_by_server()
            while len(self.open) < self.limit and attempts < (now - started) * self.open_rate:
                kind = self.KINDS[attempts % len(self.KINDS)]
                attempts += 1
                self.connect(kind, rng.uniform(2, 20), queries, query_size)
            self.max_open = max(self.max_open, len(self.open))
            self.stop_event.wait(0.05)  # pacing of the cycle, not synchronisation
        for sock in list(self.open):
            self.close(sock)

    def connect(self, kind, lifetime, queries, query_size):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if kind == "pipeline":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(1.0)
        try:
            sock.connect(("127.0.0.1", self.port))
            sock.setblocking(False)
            if kind == "prefix":
                sock.send(b"\x00\x40")
            elif kind == "pipeline":
                try:
                    sent = sock.send(queries)
                except BlockingIOError:
                    sent = 0
                self.pipelined_queries += sent // query_size
        except OSError:
            self.connect_failures += 1
            sock.close()
            return
        self.opened[kind] += 1
        self.open[sock] = (kind, time.monotonic() + lifetime)

    def reap_closed_by_server(self):
        """Closes (and counts) the silent and prefix connections the server has closed."""
        watched = [sock for sock, (kind, _) in self.open.items() if kind != "pipeline"]
        if not watched:
            return
        readable, _, _ = select.select(watched, [], [], 0)
        for sock in readable:
            try:
                data = sock.recv(512)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self.closed_by_server += 1
                self.close(sock)

    def close(self, sock):
        self.open.pop(sock, None)
        sock.close()

    def total_opened(self):
        return sum(self.opened.values())


# ---------------------------------------------------------------------------------------------
# The server, its zone, and what it reports


class SoakZone:
    """Two versions of a generated zone; write() puts the next one in place with a new serial."""

    def __init__(self, names, workdir):
        self.path = os.path.join(workdir, "soak.test.zone")
        self.query_file = os.path.join(workdir, "soak.test.queries")
        generate_zone(ORIGIN, names, self.path, self.query_file)
        with open(self.path) as zone_file:
            self.version_a = zone_file.read()
        changed = re.sub(r"^(h\d*00) A 10\.(\d+)\.(\d+)\.(\d+)$", r"\1 A 172.16.\3.\4", self.version_a,
                         flags=re.MULTILINE)
        self.version_b = changed + "".join(f"soak-b{i} A 192.0.2.{i}\n" for i in range(1, 11))
        self.serial = 1

    def write_next(self):
        """Write the other version with the next serial (new file + rename); return the serial."""
        self.serial += 1
        text = self.version_b if self.serial % 2 == 0 else self.version_a
        replace_file(self.path, with_serial(text, self.serial))
        return self.serial


class AnydnsProcess:
    """anydns serve with a configuration written for the soak."""

    def __init__(self, binary, workdir, zone, tcp_cap):
        self.port, self.http_port = free_port(), free_port()
        self.config = os.path.join(workdir, "anydns.yaml")
        with open(self.config, "w") as config:
            config.write(f"""listen: ["127.0.0.1:{self.port}"]
management:
  http-port: {self.http_port}
zones:
  - origin: {ORIGIN}
    file: {zone.path}
journal:
  max-entries: 5
limits:
  tcp-connections: {tcp_cap}
  tcp-idle-timeout: {IDLE_TIMEOUT:g}
""")
        self.log_path = os.path.join(workdir, "anydns.log")
        with open(self.log_path, "w") as output:
            self.proc = subprocess.Popen([binary, "serve", "--config", self.config, "--log-level", "notice"],
                                         stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=workdir, start_new_session=True)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def wait_ready(self, serial):
        """Polls a SOA query until the zone answers with this serial; raises when it cannot."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"anydns exited with {self.proc.returncode}:\n{self.log_tail()}")
            if served_serial(self.port, ORIGIN, timeout=0.2) == serial:
                return
            try:
                self.proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
        raise RuntimeError(f"anydns did not answer with serial {serial} in {STARTUP_TIMEOUT:.0f} s")

    def rss_mib(self):
        return status_kib(self.pid, "VmRSS") / 1024

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def http(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=2) as response:
                return response.read().decode()
        except OSError as error:
            return f"error: {error}"

    def metrics(self):
        """{metric name with labels: value} from /metrics."""
        values = {}
        for line in self.http("/metrics").splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                try:
                    values[key] = float(value)
                except ValueError:
                    pass
        return values

    def log_tail(self, lines=20):
        with open(self.log_path, errors="replace") as log_file:
            return "\n".join(log_file.read().splitlines()[-lines:])

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Dnsperf:
    """dnsperf at a fixed rate; -S 1 prints the answers per second, read live by a thread."""

    def __init__(self, port, query_file, duration, qps, output_path):
        # stdbuf: line-buffered, so each statistics line arrives when dnsperf prints it.
        command = (["stdbuf", "-oL"] if shutil.which("stdbuf") else []) + ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", query_file, "-l", str(duration),
                   "-Q", str(qps), "-c", "4", "-q", "500", "-t", "5", "-S", "1"]
        self.output_path = output_path
        self.lines = []
        self.answers_so_far = 0.0
        self.intervals = 0
        self.started = time.monotonic()
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     stdin=subprocess.DEVNULL)
        self.reader = threading.Thread(target=self.read, name="dnsperf-reader", daemon=True)
        self.reader.start()

    def read(self):
        """Keeps every line; a "TIMESTAMP: QPS" statistics line adds to the answers so far."""
        for line in self.proc.stdout:
            self.lines.append(line)
            match = re.match(r"^\d+\.\d+: ([\d.]+)$", line.strip())
            if match:
                self.answers_so_far += float(match.group(1))
                self.intervals += 1

    def wait(self):
        self.proc.wait()
        self.reader.join()
        with open(self.output_path, "w") as output:
            output.writelines(self.lines)
        return self.summary()

    def summary(self):
        return {**dnsperf_totals("".join(self.lines)), "status": self.proc.returncode}


# ---------------------------------------------------------------------------------------------
# The run


def table_row(cells, widths):
    return "| " + " | ".join(str(cell).rjust(width) for cell, width in zip(cells, widths)) + " |"


HEADERS = ["t (s)", "RSS MiB", "fds", "dnsperf qps so far", "answers", "hostile UDP sent", "UDP replies",
           "TCP abuse opened", "open now", "reloads"]
WIDTHS = [len(header) for header in HEADERS]


def print_row(elapsed, server, perf, udp, tcp, reloads, samples):
    rss, fds = samples[-1][1], samples[-1][2]
    qps = perf.answers_so_far / perf.intervals if perf.intervals else 0
    print(table_row([f"{elapsed:.0f}", f"{rss:.1f}", fds, f"{qps:,.0f}", f"{perf.answers_so_far:,.0f}",
                     f"{udp.total_sent():,}", f"{udp.replies:,}", f"{tcp.total_opened():,}", len(tcp.open),
                     reloads], WIDTHS), flush=True)


def soak(args, workdir):
    """Runs the soak against a fresh anydns; True when every pass criterion held."""
    log(f"work directory {workdir}; generating a {args.names:,}-name zone")
    zone = SoakZone(args.names, workdir)
    server = AnydnsProcess(args.anydns, workdir, zone, args.tcp_cap)
    try:
        server.wait_ready(1)
        return run_load(args, workdir, zone, server)
    finally:
        server.stop()


def run_load(args, workdir, zone, server):
    """Load, abuse, reloads and sampling against a running server; then the verdict (True: pass)."""
    fds_start, rss_start = server.fds(), server.rss_mib()
    metrics_start = server.metrics()
    fd_ceiling = fds_start + args.tcp_cap + args.fd_slack
    print(f"\n# anydns soak: {args.duration} s, dnsperf -Q {args.qps}, hostile UDP {args.udp_rate}/s, "
          f"up to {args.abuse_connections} abusive TCP connections (cap {args.tcp_cap}), "
          f"reload every {args.reload_every:g} s\n")
    print(f"- binary {args.anydns}; zone {ORIGIN} {args.names:,} names; tcp-idle-timeout {IDLE_TIMEOUT:g} s "
          f"(default); start: RSS {rss_start:.1f} MiB, {fds_start} fds\n")
    print(table_row(HEADERS, WIDTHS))
    print("|" + "|".join("-" * (width + 1) + ":" for width in WIDTHS) + "|", flush=True)

    perf = Dnsperf(server.port, zone.query_file, args.duration, args.qps, os.path.join(workdir, "dnsperf.out"))
    udp = HostileUdp(server.port, args.udp_rate)
    tcp = TcpAbuse(server.port, args.abuse_connections, args.abuse_open_rate, args.pipeline)
    udp.start()
    tcp.start()
    started = perf.started
    samples = []  # (elapsed, rss MiB, fds)
    reloads = 0
    next_sample, next_reload, next_row = started + 1, started + args.reload_every, started + args.report_every
    died = False
    while perf.proc.poll() is None:
        now = time.monotonic()
        if now >= next_reload:
            zone.write_next()
            server.proc.send_signal(signal.SIGHUP)
            reloads += 1
            next_reload += args.reload_every
        if now >= next_sample:
            if not server.alive():
                died = True
                break
            samples.append((now - started, server.rss_mib(), server.fds()))
            next_sample += 1
        if now >= next_row and samples:
            print_row(now - started, server, perf, udp, tcp, reloads, samples)
            next_row += args.report_every
        time.sleep(max(0.0, min(next_sample, next_reload, next_row) - time.monotonic()))  # pacing
    udp.stop_event.set()
    tcp.stop_event.set()
    if died:
        perf.proc.terminate()
    dnsperf_result = perf.wait()
    udp.join()
    tcp.join()
    elapsed = time.monotonic() - started
    if samples and server.alive():
        samples.append((elapsed, server.rss_mib(), server.fds()))
        print_row(elapsed, server, perf, udp, tcp, reloads, samples)

    # Abuse connections are closed; wait out the idle timeout, then poll until the descriptors
    # are back (or a deadline passes) — polling for a condition, never a fixed sleep.
    fds_end = None
    if server.alive():
        idle_over = time.monotonic() + IDLE_TIMEOUT + 1
        deadline = idle_over + FINAL_FD_TIMEOUT
        while True:
            fds_end = server.fds()
            now = time.monotonic()
            if (now >= idle_over and fds_end <= fds_start + args.fd_slack) or now >= deadline:
                break
            samples.append((now - started, server.rss_mib(), fds_end))
            time.sleep(0.5)
    final_serial = served_serial(server.port, ORIGIN, timeout=1.0) if server.alive() else None
    serial_deadline = time.monotonic() + 30
    while server.alive() and final_serial != zone.serial and time.monotonic() < serial_deadline:
        final_serial = served_serial(server.port, ORIGIN, timeout=0.5)
    metrics_end = server.metrics() if server.alive() else {}
    health = server.http("/health") if server.alive() else ""
    return verdict(args, {
        "samples": samples, "dnsperf_result": dnsperf_result, "udp": udp, "tcp": tcp, "server": server,
        "zone": zone, "elapsed": elapsed, "reloads": reloads, "rss_start": rss_start, "fds_start": fds_start,
        "fds_end": fds_end, "fd_ceiling": fd_ceiling, "final_serial": final_serial,
        "metrics_start": metrics_start, "metrics_end": metrics_end, "health": health})


def rss_at(samples, seconds):
    """RSS of the last sample taken at or before `seconds` (the first sample if none)."""
    chosen = samples[0]
    for sample in samples:
        if sample[0] <= seconds:
            chosen = sample
    return chosen[1]


def metric_delta(start, end, prefix):
    """{labels: increase} of every series whose name starts with prefix."""
    return {key[len(prefix):] or "(all)": end[key] - start.get(key, 0.0)
            for key in sorted(end) if key.startswith(prefix) and end[key] - start.get(key, 0.0)}


def verdict(args, run):
    """Prints the summary and the criteria; returns True when everything passed."""
    samples, perf_result = run["samples"], run["dnsperf_result"]
    udp, tcp, server = run["udp"], run["tcp"], run["server"]
    run_samples = [sample for sample in samples if sample[0] <= run["elapsed"] + 0.01]
    criteria = []
    warm_rss = rss_at(run_samples, args.warmup) if run_samples else None
    last_third = [sample[1] for sample in run_samples if sample[0] >= run["elapsed"] * 2 / 3]
    if warm_rss is not None and last_third:
        growth = max(last_third) - warm_rss
        tolerance = max(8.0, 0.05 * warm_rss)
        criteria.append(("memory flat after warm-up", growth <= tolerance,
                         f"max RSS in the last third {max(last_third):.1f} MiB - RSS at {args.warmup} s "
                         f"{warm_rss:.1f} MiB = {growth:+.1f} MiB; tolerance max(8 MiB, 5 %) = {tolerance:.1f} MiB"))
    else:
        criteria.append(("memory flat after warm-up", False, "no samples (server died?)"))
    max_fds = max((sample[2] for sample in samples), default=0)
    criteria.append(("descriptors never above start + cap + slack", max_fds <= run["fd_ceiling"],
                     f"max {max_fds} vs {run['fds_start']} + {args.tcp_cap} + {args.fd_slack} = {run['fd_ceiling']}"))
    fds_end = run["fds_end"]
    criteria.append(("descriptors back after the abuse and the idle timeout",
                     fds_end is not None and fds_end <= run["fds_start"] + args.fd_slack,
                     f"end {fds_end} vs start {run['fds_start']} + slack {args.fd_slack}"))
    servfail = perf_result["rcodes"].get("SERVFAIL", 0)
    criteria.append(("dnsperf: no SERVFAIL", servfail == 0 and bool(perf_result["rcodes"]),
                     f"response codes {perf_result['rcodes'] or 'none parsed'}"))
    criteria.append(("dnsperf: Queries lost: 0", perf_result["lost"] == 0,
                     f"sent {perf_result['sent']:,}, answered {perf_result['answered']:,}, lost {perf_result['lost']}"))
    criteria.append(("server alive and serving the last reloaded serial",
                     server.alive() and run["final_serial"] == run["zone"].serial,
                     f"alive {server.alive()}, serving serial {run['final_serial']}, last written {run['zone'].serial}"
                     f" after {run['reloads']} reloads"))

    start, end = run["metrics_start"], run["metrics_end"]
    print("\n## Summary\n")
    print(f"- dnsperf: sent {perf_result['sent']:,}, answered {perf_result['answered']:,}, "
          f"lost {perf_result['lost']}, {perf_result['qps']:,.0f} QPS, codes {perf_result['rcodes']}")
    print(f"- hostile UDP: {udp.total_sent():,} sent ({', '.join(f'{k[4:]} {v:,}' for k, v in udp.sent.items())}), "
          f"{udp.replies:,} replies, {udp.errors} send errors")
    print(f"- TCP abuse: {tcp.total_opened():,} connections opened ({', '.join(f'{k} {v:,}' for k, v in tcp.opened.items())}),"
          f" at most {tcp.max_open} open at once, {tcp.closed_by_server:,} silent/prefix ones closed by the server, "
          f"{tcp.connect_failures:,} connect failures, {tcp.pipelined_queries:,} pipelined queries never read")
    print(f"- reloads: {run['reloads']} SIGHUPs; anydns_reloads_total increase "
          f"{metric_delta(start, end, 'anydns_reloads_total') or 'n/a'}")
    print(f"- anydns_queries_total increase by rcode: "
          f"{summarise_by_label(metric_delta(start, end, 'anydns_queries_total'), 'rcode') or 'n/a'}")
    print(f"- anydns_queries_dropped_total increase: {metric_delta(start, end, 'anydns_queries_dropped_total') or 0}; "
          f"anydns_responses_truncated_total increase: "
          f"{metric_delta(start, end, 'anydns_responses_truncated_total') or 0}")
    try:
        health = json.loads(run["health"])
        print(f"- /health at the end: state {health.get('state')}, ready {health.get('ready')}, "
              f"degraded {health.get('degraded')}")
    except ValueError:
        print(f"- /health at the end: {run['health'][:200] or 'unreachable'}")
    rss_values = [sample[1] for sample in samples]
    if rss_values:
        print(f"- RSS: start {run['rss_start']:.1f} MiB, at warm-up end {warm_rss:.1f} MiB, "
              f"max {max(rss_values):.1f} MiB, end {rss_values[-1]:.1f} MiB; fds: start {run['fds_start']}, "
              f"max {max_fds}, end {fds_end}")
    print("\n## Pass criteria\n")
    for name, passed, detail in criteria:
        print(f"- {'PASS' if passed else 'FAIL'}: {name} — {detail}")
    passed = all(ok for _, ok, _ in criteria)
    print(f"\nverdict: {'PASS' if passed else 'FAIL'}")
    if not server.alive():
        print(f"\nanydns log tail:\n{server.log_tail()}")
    return passed


def summarise_by_label(deltas, label):
    """Sums {'{a="x",rcode="y"}': n} by one label: {'y': n}."""
    totals = {}
    for labels, value in deltas.items():
        match = re.search(rf'{label}="([^"]*)"', labels)
        key = match.group(1) if match else labels
        totals[key] = totals.get(key, 0) + int(value)
    return totals


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--anydns", default=DEFAULT_ANYDNS)
    parser.add_argument("--duration", type=int, default=600, help="seconds of load (default 600)")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before memory must stay flat")
    parser.add_argument("--qps", type=int, default=2000, help="dnsperf -Q")
    parser.add_argument("--names", type=int, default=10_000, help="hosts in the generated zone")
    parser.add_argument("--udp-rate", type=int, default=500, help="malformed UDP packets per second")
    parser.add_argument("--abuse-connections", type=int, default=150, help="abusive TCP connections open at once")
    parser.add_argument("--abuse-open-rate", type=float, default=50, help="abusive TCP connections opened per second")
    parser.add_argument("--pipeline", type=int, default=2000, help="queries a pipelining connection sends at once")
    parser.add_argument("--tcp-cap", type=int, default=100, help="limits.tcp-connections in anydns's configuration")
    parser.add_argument("--fd-slack", type=int, default=8, help="descriptors allowed above the start")
    parser.add_argument("--reload-every", type=float, default=10)
    parser.add_argument("--report-every", type=float, default=30)
    parser.add_argument("--work", help="work directory (default: a new temporary one, removed at exit)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.duration < args.warmup * 1.2:
        parser.error("--duration must leave room after --warmup")
    return args


def main():
    args = parse_args()
    if not shutil.which("dnsperf"):
        sys.exit("dnsperf missing: apt-get install dnsperf")
    if not os.access(args.anydns, os.X_OK):
        sys.exit(f"no anydns binary at {args.anydns} (make release)")
    workdir = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="anydns-soak-")
    os.makedirs(workdir, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        passed = soak(args, workdir)
    except RuntimeError as error:
        print(f"soak could not run: {error}", file=sys.stderr)
        return 2
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
