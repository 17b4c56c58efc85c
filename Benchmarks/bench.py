#!/usr/bin/python3
"""NSD, Knot DNS and anydns side by side, measured the way README "Tests, lab and benchmarks" describes.

    Benchmarks/bench.py [--anydns PATH] [--servers nsd,knot,anydns] [--quick] [--json FILE] ...
    Benchmarks/bench.py --only dnssec      # just the signed zone rows (--only takes groups, below)

Method
------
* Zones. Benchmarks/gen_zone.py writes a zone with --names hosts (10,000) and one with
  --big-names hosts (1,000,000), each with a dnsperf query file (about 70 % existing names,
  10 % CNAME, 10 % NXDOMAIN, 5 % NODATA, 5 % wildcard). Every server gets its own copy of the
  zone file, with SOA serial 1.
* Servers. The servers run one after the other, never together, in the foreground on
  127.0.0.1 at a free port (UDP and TCP), each with one worker and response rate limiting off
  (NSD: server-count 1, rrl-ratelimit 0; Knot: one UDP, one TCP and one background worker, no
  mod-rrl; anydns: --workers 1 when the binary has that flag), except in the rate-limiting runs. Each runs under `taskset -c 0`,
  so all its processes and threads stay on CPU 0. Everything NSD and Knot write (pid file,
  xfrd state, zone list, control socket, timer database) goes to the work directory.
* Load. dnsperf runs under `taskset -c 1`; this script pins itself to CPU 1 as well, so that
  nothing but the server runs on CPU 0 on its behalf. dnsperf runs with -v, which prints one
  line per answered query with its latency: those give the average and 99th-percentile
  latency; dnsperf's summary gives queries sent, completed, lost, response codes and QPS.
* Server CPU. utime+stime (+cutime+cstime, for children that exited and were reaped) of every
  process in the server's process tree (the root pid and its descendants, found by walking
  /proc), read just before and just after dnsperf. The difference divided by the answered
  queries is the CPU time per answer, the comparable figure when the load generator saturates
  its core. The server's CPU busy % (server CPU seconds / wall seconds) and dnsperf's own CPU %
  (its rusage from wait4) show who was the ceiling: dnsperf near 100 % means the numbers are
  bounded by the load generator, not the server. The total busy % of CPU 0 and CPU 1 (from
  /proc/stat) is printed too: well above the server's and dnsperf's share means something else
  (a compiler, say) was running there and the figures are noisy.
* Runs. With the 10k zone: UDP, then TCP (dnsperf -m tcp keeps its connections open, so these
  are persistent connections). With the 1M zone: seconds from starting the server to the first
  UDP answer to a SOA query that is NOERROR, AA and carries the expected serial; proportional
  memory (sum of Pss in /proc/PID/smaps_rollup over the process tree) measured right after that
  first answer (also shown for the 10k zone); a UDP run; and a reload under load: dnsperf at
  --reload-qps for --reload-seconds while every --reload-every seconds the zone file is
  rewritten (new file + rename, so the mtime changes) with the next SOA serial and the server is
  sent SIGHUP. SIGHUP is what Debian's systemd units for NSD and Knot use for reload, and what
  each server documents: NSD 4.6 rereads zone files whose mtime changed; Knot 3.2 reloads its
  configuration and modified zone files (same as `knotc reload`); anydns reloads its zones.
  After the run the script waits until the last serial is served (with a timeout) — that checks
  the reloads really happened.
* Response rate limiting (unless --skip-rrl), 10k zone, each server started again twice with
  RRL on (slip 2, IPv4 /24, IPv6 /56; NSD: rrl-ratelimit, rrl-slip, rrl-ipv4/6-prefix-length;
  Knot: a mod-rrl instance as the default template's global-module (Knot 3.2 groups sources by
  /24 and /56, fixed); anydns: the `rate-limit:` section of a --config file):
  - "RRL on": the UDP run again with --rrl-rate (1,000,000) responses per second. RRL counts
    responses per netblock and response kind, and all of dnsperf is one netblock: the biggest
    bucket (NXDOMAIN is counted per zone, about 10 % of the queries) stays far below the limit at
    any rate one core can answer, so nothing is dropped or truncated, and the row (with the
    table beside it, RRL off against on per server) shows what the accounting costs.
  - "Flood": at --flood-rrl-rate (20) responses per second, dnsperf bound to 127.0.1.2 (-a) asks
    one name as fast as it can (-q 10000 outstanding, -t 0.2 so that dropped queries do not
    throttle it) for --flood-seconds, while a Python client bound to 127.0.2.3, another /24,
    asks the same name --legit-qps (10) times per second (1 s timeout): below the limit, since
    its own /24 is rate limited too (at 50/s against 20/s NSD and Knot limit it by itself). Flood responses are dnsperf's
    completed queries; how many had TC=1 is counted on `lo` by an AF_PACKET socket with a BPF
    filter (root only; otherwise shown as —), with the capture's own drops shown.
* Signed zones (groups dnssec-udp and dnssec-big, unless --skip-dnssec). The 10k and the 1M
  zone signed by ldns-signzone: NSEC3 (SHA-1, 0 extra iterations, no salt, no opt-out, as RFC
  9276 advises), an ECDSA P-256 KSK and ZSK from ldns-keygen, signatures valid from a day ago for
  30 days. A signed zone and its keys are kept in --cache (~/.cache/anydns-bench/signed/
  ORIGIN-SIZE-DIGEST/, the digest covering the unsigned zone, the signing parameters and the ldns
  version), and signed again only when that changes or fewer than 7 days of validity are left;
  meta.json there records how long ldns-signzone took. Each server gets a copy of the signed file
  (NSD and Knot serve a pre-signed zone as it is, with no signing configuration).
  - "UDP DO=1" (dnssec-udp): the signed 10k zone, the UDP run with dnsperf -D (EDNS, DO=1) and
    the same query file as the unsigned UDP row (10 % NXDOMAIN, answered with NSEC3 proofs; 5 %
    NODATA and 5 % wildcard, with NSEC3 records too), then, when the small group ran too, each
    server's unsigned UDP run against its signed DO=1 run. dnsperf's average response size is printed (with DNSSEC records it is
    several times the unsigned one).
  - Signed 1M zone (dnssec-big; --skip-big or --skip-signed-big leave it out): seconds from start
    to the first SOA answer, then PSS and RSS (summed over the process tree, so pages shared
    between NSD's processes count once per process in RSS), next to the unsigned 1M zone's figures
    when that group ran too.
  Before measuring, one DO=1 query for h1 A must bring an RRSIG, and one for a missing name an
  NXDOMAIN with at least two NSEC3 records, their RRSIGs and the SOA's; the tables show the
  result, and the targets whether anydns passed it (a server failing it is still measured).
* Groups. --only small,rrl,big,dnssec-udp,dnssec-big (dnssec = both signed groups; default: all)
  picks what runs; --skip-big, --skip-rrl, --skip-dnssec and --skip-signed-big take groups away.
* Output. Markdown tables per test, ratios to NSD and Knot, then the targets (MET / MISSED)
  and a note naming the runs during which other processes used CPU 0 or CPU 1.
  These are benchmark figures printed as tables, never assertions; the exit status is non-zero
  only when a tool is missing or a server fails to start or to answer.

--json FILE writes everything: {"settings", "throughput": [rows with test "udp-small",
"tcp-small", "udp-rrl", "udp-big" or "udp-dnssec", server, sent, answered, lost, qps, response_bytes, ...,
and for udp-dnssec dnssec_check], "startup": [rows with zone "small", "big" or "signed-big", server,
first_answer_s, pss_mib, and for signed-big rss_mib and dnssec_check], "zones" ("small", "big",
"signed-small" and "signed-big", these with path, cached, sign_seconds, records, RRSIG, NSEC3, bytes), "reload": [rows with server, sent,
answered, lost, servfail, ...], "flood": [rows with server, flood_sent, flood_responses,
flood_captured, flood_truncated, capture_drops, legit_sent, legit_answered, legit_truncated,
legit_timeouts], "targets", "noisy_runs", "errors"}.
"""
import argparse
import atexit
import ctypes
import hashlib
import json
import os
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN_ZONE = os.path.join(REPO, "Benchmarks", "gen_zone.py")
SERVER_CPU = "0"
LOAD_CPU = "1"
SERVER_ORDER = ["nsd", "knot", "anydns"]
SMALL_ORIGIN = "bench.test."
BIG_ORIGIN = "big.test."
STARTUP_TIMEOUT = 900.0  # seconds to wait for a server's first answer
RELOAD_SETTLE_TIMEOUT = 180.0  # seconds to wait for the last serial after a reload run
NOISE_POINTS = 10  # CPU busy % above the server's (CPU 0) or dnsperf's (CPU 1): something else ran
CLK_TCK = os.sysconf("SC_CLK_TCK")
QTYPE_A, QTYPE_SOA = 1, 6
QTYPE_OPT, QTYPE_RRSIG, QTYPE_NSEC3 = 41, 46, 50
EDNS_DO = 0x8000  # DNSSEC OK, in the OPT record's TTL field
RRL_SLIP = 2  # every second rate-limited query gets a TC=1 answer, the others none
RRL_IPV4_PREFIX, RRL_IPV6_PREFIX = 24, 56
FLOOD_ADDRESS = "127.0.1.2"  # the flooding source (127/8 is all local on Linux)
LEGIT_ADDRESS = "127.0.2.3"  # a client in another /24, asking at a modest rate
# DNSSEC rows: ldns-signzone with an ECDSA P-256 KSK and ZSK, NSEC3 with SHA-1, 0 extra
# iterations and no salt (RFC 9276), signatures from a day ago to SIGNATURE_DAYS ahead.
DNSSEC_ALGORITHM = "ECDSAP256SHA256"
NSEC3_ITERATIONS = 0
SIGNATURE_DAYS = 30
RESIGN_MARGIN_DAYS = 7  # a cached signed zone whose signatures expire sooner is signed again
# What a run can contain (--only, --skip-*): README "Tests, lab and benchmarks".
GROUPS = {
    "small": "10k zone: start-up, UDP, TCP",
    "rrl": "10k zone with response rate limiting: UDP, flood",
    "big": "1M zone: start-up, UDP, reload under load",
    "dnssec-udp": "signed 10k zone (NSEC3): UDP with DO=1",
    "dnssec-big": "signed 1M zone (NSEC3): start-up and memory",
}
GROUP_ALIASES = {"dnssec": ["dnssec-udp", "dnssec-big"], "all": list(GROUPS)}

# Servers and load generators still running; stopped at exit whatever happens.
LIVE_SERVERS = []
LIVE_PROCESSES = []


class BenchError(Exception):
    """A server did not start, did not answer, or answered wrongly."""


# ---------------------------------------------------------------------------------------------
# Small helpers


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    """A port that is free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def find_binary(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def size_label(count):
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1000 and count % 1000 == 0:
        return f"{count // 1000}k"
    return str(count)


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


# ---------------------------------------------------------------------------------------------
# DNS over UDP from Python: just enough to ask for a SOA and read its serial


def encode_name(name):
    """Uncompressed wire form of a domain name."""
    labels = [label for label in name.rstrip(".").split(".") if label]
    return b"".join(bytes([len(label)]) + label.encode() for label in labels) + b"\0"


def build_query(query_id, name, qtype, flags=0, dnssec_ok=False):
    """A one-question query (no RD by default: an authoritative question); with dnssec_ok, an
    OPT record (4096-octet payload) with the DO bit, as dnsperf -D sends."""
    question = encode_name(name) + struct.pack("!HH", qtype, 1)
    if not dnssec_ok:
        return struct.pack("!HHHHHH", query_id, flags, 1, 0, 0, 0) + question
    opt = b"\0" + struct.pack("!HHIH", QTYPE_OPT, 4096, EDNS_DO, 0)
    return struct.pack("!HHHHHH", query_id, flags, 1, 0, 0, 1) + question + opt


def skip_name(data, pos):
    """Position just after the (possibly compressed) domain name starting at pos."""
    while True:
        length = data[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length


def parse_response(data):
    """(id, rcode, aa, answers, soa_serial) of a response, or None when it is not one."""
    try:
        query_id, flags, qdcount, ancount = struct.unpack_from("!HHHH", data)
        if not flags & 0x8000:
            return None
        pos = 12
        for _ in range(qdcount):
            pos = skip_name(data, pos) + 4
        serial = None
        for _ in range(ancount):
            pos = skip_name(data, pos)
            rtype, _rclass, _ttl, rdlength = struct.unpack_from("!HHIH", data, pos)
            pos += 10
            if rtype == QTYPE_SOA and serial is None:
                serial_pos = skip_name(data, skip_name(data, pos))  # after MNAME and RNAME
                serial = struct.unpack_from("!I", data, serial_pos)[0]
            pos += rdlength
        return query_id, flags & 0xF, bool(flags & 0x0400), ancount, serial
    except (IndexError, struct.error):
        return None


def response_sections(data):
    """(rcode, aa, {section: [record types]}) of a whole response, sections "answer",
    "authority" and "additional"; None when it cannot be read."""
    try:
        _, flags, qdcount, *counts = struct.unpack_from("!HHHHHH", data)
        pos = 12
        for _ in range(qdcount):
            pos = skip_name(data, pos) + 4
        sections = {}
        for section, count in zip(("answer", "authority", "additional"), counts):
            types = sections.setdefault(section, [])
            for _ in range(count):
                pos = skip_name(data, pos)
                rtype, _rclass, _ttl, rdlength = struct.unpack_from("!HHIH", data, pos)
                types.append(rtype)
                pos += 10 + rdlength
        return flags & 0xF, bool(flags & 0x0400), sections
    except (IndexError, struct.error):
        return None


def exchange(port, query, query_id, timeout=1.0):
    """Sends one UDP query to 127.0.0.1:port; the first reply with its ID, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(("127.0.0.1", port))
            sock.send(query)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                data = sock.recv(65535)
                if len(data) >= 12 and struct.unpack_from("!H", data)[0] == query_id:
                    return data
        except OSError:  # timeout, or connection refused (nothing listening yet)
            return None
    return None


def ask_dnssec(port, name, qtype, timeout=1.0):
    """One UDP question with DO=1; response_sections() of the answer, or None."""
    query_id = int.from_bytes(os.urandom(2), "big")
    data = exchange(port, build_query(query_id, name, qtype, dnssec_ok=True), query_id, timeout)
    return response_sections(data) if data else None


def ask(port, name, qtype, timeout=1.0):
    """One UDP question to 127.0.0.1:port; (rcode, aa, answers, serial) or None."""
    query_id = int.from_bytes(os.urandom(2), "big")
    data = exchange(port, build_query(query_id, name, qtype), query_id, timeout)
    response = parse_response(data) if data else None
    return response[1:] if response else None


def served_serial(port, origin, timeout=0.5):
    answer = ask(port, origin, QTYPE_SOA, timeout)
    if answer and answer[0] == 0 and answer[1]:
        return answer[3]
    return None


def wait_for_serial(port, origin, serial, timeout):
    """Seconds until origin's SOA carries serial, or None after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if served_serial(port, origin) == serial:
            return time.monotonic() - start
        time.sleep(0.1)
    return None


# ---------------------------------------------------------------------------------------------
# /proc: the server's process tree, its CPU time and its proportional memory


def read_stat(pid):
    """Fields 3.. of /proc/PID/stat (field 3 is at index 0), or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_tree(root):
    """root and all its descendants that are alive (or zombies) now."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = read_stat(entry)
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_cpu_times(root):
    """(user, system) seconds summed over the tree: utime+cutime and stime+cstime (fields 14-17).

    A process that exited and was reaped counts in its parent's cutime/cstime, so the sum keeps
    the CPU time of server processes that came and went (NSD forks on reload).
    """
    user = system = 0
    for pid in process_tree(root):
        fields = read_stat(pid)
        if fields:
            user += int(fields[11]) + int(fields[13])
            system += int(fields[12]) + int(fields[14])
    return user / CLK_TCK, system / CLK_TCK


def tree_pss_mib(root, field="Pss"):
    """Sum of one /proc/PID/smaps_rollup field (Pss, or Rss) over the tree, in MiB."""
    total_kib = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith(field + ":"):
                        total_kib += int(line.split()[1])
                        break
        except OSError:
            pass
    return total_kib / 1024


def cpu_ticks():
    """{cpu index: (busy ticks, total ticks)} from /proc/stat."""
    result = {}
    with open("/proc/stat") as stat:
        for line in stat:
            match = re.match(r"cpu(\d+) (.*)", line)
            if match:
                values = [int(value) for value in match.group(2).split()]
                idle = values[3] + values[4]  # idle + iowait
                result[int(match.group(1))] = (sum(values[:8]) - idle, sum(values[:8]))
    return result


def busy_percent(before, after, cpu):
    if cpu not in before or cpu not in after:
        return None
    busy = after[cpu][0] - before[cpu][0]
    total = after[cpu][1] - before[cpu][1]
    return 100.0 * busy / total if total else None


# ---------------------------------------------------------------------------------------------
# Zones


class Zone:
    """A generated zone (kept in memory so copies with any serial can be written) and queries."""

    def __init__(self, origin, names, workdir):
        self.origin = origin
        self.names = names
        self.query_file = os.path.join(workdir, f"{origin.rstrip('.')}.queries")
        template = os.path.join(workdir, f"{origin.rstrip('.')}.zone")
        started = time.monotonic()
        subprocess.run(
            [sys.executable, GEN_ZONE, origin, str(names), template, self.query_file, "--serial", "1"],
            check=True,
        )
        with open(template) as zone_file:
            self.text = zone_file.read()
        os.unlink(template)
        self.records = sum(1 for line in self.text.splitlines() if line and not line.startswith("$"))
        self.generate_seconds = time.monotonic() - started
        if not re.search(r"^@ SOA ns1 hostmaster 1 ", self.text, re.MULTILINE):
            raise BenchError("gen_zone.py wrote no '@ SOA ns1 hostmaster 1 ...' line")

    def write(self, path, serial):
        """Write the zone with this serial: a new file renamed over path, so the mtime changes."""
        text = re.sub(r"^@ SOA ns1 hostmaster \d+ ", f"@ SOA ns1 hostmaster {serial} ", self.text,
                      count=1, flags=re.MULTILINE)
        temporary = path + ".new"
        with open(temporary, "w") as zone_file:
            zone_file.write(text)
        os.replace(temporary, path)


def ldns_version():
    out = subprocess.run(["ldns-signzone", "-v"], capture_output=True, text=True)
    return (out.stdout + out.stderr).strip()


class SignedZone:
    """A Zone (serial 1) signed by ldns-signzone, kept in a cache directory between runs.

    NSEC3 (SHA-1, NSEC3_ITERATIONS extra iterations, no salt, no opt-out), an ECDSA P-256 KSK
    (signs the DNSKEY set) and ZSK (everything else), signatures valid from a day ago for
    SIGNATURE_DAYS days. The cache entry, CACHE/signed/ORIGIN-SIZE-DIGEST/, is named by a digest
    of the unsigned zone text and these parameters, so a change to gen_zone.py or to them signs
    again; so does a cached zone whose signatures expire within RESIGN_MARGIN_DAYS. It holds
    zone.signed, keys/ (kept when re-signing) and meta.json (signing time, validity, counts).
    Servers get a copy of zone.signed, never the cached file itself."""

    def __init__(self, zone, cache_dir):
        self.origin, self.names, self.query_file = zone.origin, zone.names, zone.query_file
        params = (f"{DNSSEC_ALGORITHM} KSK+ZSK; NSEC3 SHA-1, {NSEC3_ITERATIONS} iterations, no salt; "
                  f"{SIGNATURE_DAYS} days; {ldns_version()}")
        text = zone.text  # serial 1, as generated
        digest = hashlib.sha256((params + "\n" + text).encode()).hexdigest()[:16]
        self.dir = os.path.join(cache_dir, "signed", f"{zone.origin.rstrip('.')}-{size_label(zone.names)}-{digest}")
        self.path = os.path.join(self.dir, "zone.signed")
        meta_path = os.path.join(self.dir, "meta.json")
        self.meta = None
        try:
            with open(meta_path) as meta_file:
                meta = json.load(meta_file)
            if os.path.exists(self.path) and meta["expiration"] - time.time() > RESIGN_MARGIN_DAYS * 86400:
                self.meta = meta
        except (OSError, ValueError, KeyError):
            pass
        self.cached = self.meta is not None
        if self.cached:
            log(f"  signed {self.origin} from the cache: {self.path} (signed in "
                f"{self.meta['sign_seconds']:.1f} s on {time.strftime('%Y-%m-%d', time.localtime(self.meta['signed_at']))})")
            return
        os.makedirs(os.path.join(self.dir, "keys"), exist_ok=True)
        keys = self.keys()
        unsigned = os.path.join(self.dir, "zone.unsigned")
        with open(unsigned, "w") as zone_file:
            zone_file.write(text)
        now = int(time.time())
        inception, expiration = now - 86400, now + SIGNATURE_DAYS * 86400
        temporary = self.path + ".new"
        command = ["ldns-signzone", "-n", "-t", str(NSEC3_ITERATIONS), "-o", zone.origin,
                   "-i", str(inception), "-e", str(expiration), "-f", temporary, unsigned] + keys
        log(f"  signing {self.origin} ({zone.records:,} records) with ldns-signzone into {self.dir}")
        started = time.monotonic()
        run = subprocess.run(command, capture_output=True, text=True)
        sign_seconds = time.monotonic() - started
        os.unlink(unsigned)
        if run.returncode != 0:
            raise BenchError(f"ldns-signzone failed ({run.returncode}): {run.stderr.strip()[-2000:]}")
        counts = {"records": 0, "RRSIG": 0, "NSEC3": 0}
        with open(temporary) as signed:
            for line in signed:
                if line.strip() and not line.startswith(";"):
                    counts["records"] += 1
                    fields = line.split(None, 4)
                    if len(fields) > 3 and fields[3] in counts:
                        counts[fields[3]] += 1
        os.replace(temporary, self.path)
        self.meta = {"params": params, "sign_seconds": sign_seconds, "signed_at": now, "inception": inception,
                     "expiration": expiration, "keys": [os.path.basename(key) for key in keys],
                     "bytes": os.path.getsize(self.path), **counts}
        with open(meta_path, "w") as meta_file:
            json.dump(self.meta, meta_file, indent=2)
        log(f"  signed {self.origin} in {sign_seconds:.1f} s: {counts['records']:,} records "
            f"({counts['RRSIG']:,} RRSIG, {counts['NSEC3']:,} NSEC3), {self.meta['bytes'] / 2**20:,.1f} MiB")

    def keys(self):
        """Base names of the KSK and the ZSK in keys/, made with ldns-keygen the first time."""
        key_dir = os.path.join(self.dir, "keys")
        found = {}
        for entry in sorted(os.listdir(key_dir)):
            if entry.endswith(".key") and os.path.exists(os.path.join(key_dir, entry[:-4] + ".private")):
                with open(os.path.join(key_dir, entry)) as key_file:
                    flags = re.search(r"\sDNSKEY\s+(\d+)", key_file.read())
                if flags:
                    found.setdefault("ksk" if int(flags.group(1)) & 1 else "zsk", entry[:-4])
        for kind in ("ksk", "zsk"):
            if kind not in found:
                command = ["ldns-keygen", "-a", DNSSEC_ALGORITHM] + (["-k"] if kind == "ksk" else []) + [self.origin]
                run = subprocess.run(command, capture_output=True, text=True, cwd=key_dir)
                if run.returncode != 0:
                    raise BenchError(f"ldns-keygen failed: {run.stderr.strip()}")
                found[kind] = run.stdout.strip()
        return [os.path.join(key_dir, found[kind]) for kind in ("ksk", "zsk")]

    def copy_to(self, path):
        shutil.copyfile(self.path, path)


# ---------------------------------------------------------------------------------------------
# Servers


class Server:
    """One server implementation: writes its configuration, starts pinned to CPU 0, reloads."""

    name = "?"
    stop_signal = signal.SIGTERM

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.dir = None
        self.proc = None
        self.port = None
        self.started_at = None
        self.output = None
        self.zone_file = None
        self.rrl = None  # responses per second per netblock while rate limiting is on; None: off

    def configure(self, origin, zone_file):
        """Write the configuration for one zone; return the command line (without taskset).

        With self.rrl set, response rate limiting is on at self.rrl responses per second, slip 2
        (every second limited query gets a TC=1 answer), IPv4 /24 and IPv6 /56 netblocks."""
        raise NotImplementedError

    def log_files(self):
        return [self.output]

    def start(self, origin, zone_file, instance, rrl=None):
        self.rrl = rrl
        self.dir = os.path.join(self.workdir, f"{self.name}-{instance}")
        os.makedirs(self.dir, exist_ok=True)
        self.zone_file = zone_file
        self.port = free_port()
        command = ["taskset", "-c", SERVER_CPU] + self.configure(origin, zone_file)
        self.output = os.path.join(self.dir, "output.log")
        with open(self.output, "w") as output:
            self.started_at = time.monotonic()
            # A session of its own: the whole process tree can be killed by process group.
            self.proc = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.dir, start_new_session=True)
        LIVE_SERVERS.append(self)

    def reload(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, self.stop_signal)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything left in its process group
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self in LIVE_SERVERS:
            LIVE_SERVERS.remove(self)
        self.proc = None

    def log_tail(self, lines=15):
        text = []
        for path in self.log_files():
            try:
                with open(path, errors="replace") as log_file:
                    text.extend(log_file.read().splitlines()[-lines:])
            except OSError:
                pass
        return "\n".join(text[-lines:])

    def wait_first_answer(self, origin, serial):
        """Seconds from Popen to the first NOERROR+AA SOA answer with this serial."""
        deadline = self.started_at + STARTUP_TIMEOUT
        queries_sent = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("127.0.0.1", self.port))
            sock.settimeout(0.02)
            while time.monotonic() < deadline:
                response = None
                try:
                    sock.send(build_query(queries_sent % 65536, origin, QTYPE_SOA))
                    queries_sent += 1
                    response = parse_response(sock.recv(4096))
                except socket.timeout:
                    pass
                except OSError:  # connection refused: nothing bound to the port yet
                    time.sleep(0.01)
                # Any of our query ids: a late answer to an earlier query counts too.
                if response and response[0] < min(queries_sent, 65536):
                    _, rcode, aa, _, answer_serial = response
                    if rcode == 0 and aa and answer_serial == serial:
                        return time.monotonic() - self.started_at
                if not self.alive():
                    raise BenchError(f"{self.name} exited (status {self.proc.returncode}):\n{self.log_tail()}")
        raise BenchError(f"{self.name} gave no answer with serial {serial} in {STARTUP_TIMEOUT:.0f} s:\n"
                         f"{self.log_tail()}")

    def check_answers(self, origin):
        """An existing name is NOERROR+AA with an answer; a missing one is NXDOMAIN+AA."""
        host = ask(self.port, "h1." + origin, QTYPE_A)
        missing = ask(self.port, "no-such-name." + origin, QTYPE_A)
        if not host or host[0] != 0 or not host[1] or host[2] < 1:
            raise BenchError(f"{self.name}: h1.{origin} A answered {host} (want NOERROR, AA, 1 answer)")
        if not missing or missing[0] != 3 or not missing[1]:
            raise BenchError(f"{self.name}: no-such-name.{origin} A answered {missing} (want NXDOMAIN, AA)")


    def dnssec_check(self, origin):
        """What DO=1 answers carry: the RRSIG with h1's A record, and the NSEC3 proof (at least two
        NSEC3 records, each with its RRSIG, and the SOA's RRSIG) in a NXDOMAIN's authority section."""
        positive = ask_dnssec(self.port, "h1." + origin, QTYPE_A)
        negative = ask_dnssec(self.port, "no-such-name." + origin, QTYPE_A)
        authority = negative[2]["authority"] if negative and negative[0] == 3 else []
        check = {"answer_rrsig": bool(positive and QTYPE_RRSIG in positive[2]["answer"]),
                 "nxdomain_nsec3": authority.count(QTYPE_NSEC3), "nxdomain_rrsig": authority.count(QTYPE_RRSIG)}
        check["ok"] = (check["answer_rrsig"] and check["nxdomain_nsec3"] >= 2
                       and check["nxdomain_rrsig"] >= check["nxdomain_nsec3"] + 1)
        if not check["ok"]:
            log(f"  WARNING: {self.name} DO=1 answers lack DNSSEC records: {check}")
        return check


class Nsd(Server):
    name = "nsd"

    def configure(self, origin, zone_file):
        config = os.path.join(self.dir, "nsd.conf")
        with open(config, "w") as conf:
            conf.write(f"""server:
    server-count: 1
    ip-address: 127.0.0.1@{self.port}
    do-ip4: yes
    do-ip6: no
    username: ""
    chroot: ""
    database: ""
    zonesdir: "{self.dir}"
    zonelistfile: "{self.dir}/zone.list"
    xfrdfile: "{self.dir}/xfrd.state"
    xfrdir: "{self.dir}"
    pidfile: "{self.dir}/nsd.pid"
    logfile: "{self.dir}/nsd.log"
    verbosity: 1
{self.rrl_lines()}
remote-control:
    control-enable: no
zone:
    name: "{origin}"
    zonefile: "{zone_file}"
""")
        return [self.binary, "-d", "-c", config]

    def rrl_lines(self):
        """NSD's rrl-* options (Debian builds NSD with --enable-ratelimit; `nsd -V` shows it)."""
        if self.rrl is None:
            return "    rrl-ratelimit: 0"
        return (f"    rrl-ratelimit: {self.rrl}\n    rrl-slip: {RRL_SLIP}\n"
                f"    rrl-ipv4-prefix-length: {RRL_IPV4_PREFIX}\n    rrl-ipv6-prefix-length: {RRL_IPV6_PREFIX}")

    def log_files(self):
        return [self.output, os.path.join(self.dir, "nsd.log")]


class Knot(Server):
    name = "knot"

    def configure(self, origin, zone_file):
        config = os.path.join(self.dir, "knot.conf")
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        with open(config, "w") as conf:
            conf.write(f"""server:
    rundir: "{self.dir}"
    listen: 127.0.0.1@{self.port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{self.dir}/db"
control:
    listen: "{self.dir}/knot.sock"
log:
  - target: stderr
    any: warning
{self.rrl_module()}template:
  - id: default
{self.rrl_global_module()}    storage: "{self.dir}"
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: {origin}
    file: "{zone_file}"
""")
        return [self.binary, "-c", config]

    def rrl_module(self):
        """A mod-rrl instance (Knot 3.2 groups IPv4 sources by /24 and IPv6 by /56, fixed)."""
        if self.rrl is None:
            return ""
        return f"mod-rrl:\n  - id: bench\n    rate-limit: {self.rrl}\n    slip: {RRL_SLIP}\n"

    def rrl_global_module(self):
        """Attaches the mod-rrl instance to every query (global-module of the default template)."""
        return "" if self.rrl is None else "    global-module: mod-rrl/bench\n"


class Anydns(Server):
    name = "anydns"
    stop_signal = signal.SIGINT  # SIGTERM would drain for the lame-duck period first

    def __init__(self, binary, workdir):
        super().__init__(binary, workdir)
        usage = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True)
        self.has_workers_flag = "--workers" in usage.stdout + usage.stderr

    def configure(self, origin, zone_file):
        command = [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}",
                   "--zone", f"{origin}={zone_file}", "--http-port", str(free_port()),
                   "--log-level", "notice"]
        if self.has_workers_flag:
            command += ["--workers", "1"]
        if self.rrl is not None:
            # Only the rate-limit section; listener and zone come from the flags above.
            config = os.path.join(self.dir, "anydns.yaml")
            with open(config, "w") as conf:
                conf.write(f"""rate-limit:
  responses-per-second: {self.rrl}
  slip: {RRL_SLIP}
  ipv4-prefix: {RRL_IPV4_PREFIX}
  ipv6-prefix: {RRL_IPV6_PREFIX}
  exempt: []
  log-only: false
""")
            command += ["--config", config]
        return command


# ---------------------------------------------------------------------------------------------
# dnsperf


def dnsperf_totals(text):
    """The figures of dnsperf's closing statistics: sent, answered, lost (None when dnsperf did
    not say), queries per second, reconnections and the count of each response code."""
    def number(label):
        match = re.search(rf"{label}:\s+([\d.]+)", text)
        return float(match.group(1)) if match else None

    codes_line = re.search(r"Response codes:(.*)", text)
    codes = {code: int(count) for code, count in re.findall(r"([A-Z]+) (\d+) \(", codes_line.group(1))} \
        if codes_line else {}
    lost = number("Queries lost")
    return {"sent": int(number("Queries sent") or 0), "answered": int(number("Queries completed") or 0),
            "lost": None if lost is None else int(lost), "qps": number("Queries per second") or 0.0,
            "reconnections": int(number("Reconnections") or 0), "rcodes": codes}


class Dnsperf:
    """One dnsperf run on CPU 1; its CPU use comes from wait4's rusage."""

    def __init__(self, port, query_file, output_path, seconds, clients, outstanding, tcp=False, qps=None,
                 extra=(), verbose=True):
        command = ["taskset", "-c", LOAD_CPU, "dnsperf", "-s", "127.0.0.1", "-p", str(port),
                   "-d", query_file, "-l", str(seconds), "-c", str(clients), "-q", str(outstanding)]
        command += list(extra) + (["-v"] if verbose else [])
        if tcp:
            command += ["-m", "tcp"]
        if qps:
            command += ["-Q", str(qps)]
        self.seconds = seconds
        self.output_path = output_path
        self.status = None
        self.rusage = None
        with open(output_path, "w") as output:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        LIVE_PROCESSES.append(self.proc)

    def finished(self):
        """True once dnsperf has exited (reaped here with wait4, not Popen.poll, to keep rusage)."""
        if self.rusage is None:
            pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.wall = time.monotonic() - self.started
                self.status, self.rusage = status, rusage
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                LIVE_PROCESSES.remove(self.proc)
        return self.rusage is not None

    def wait(self):
        deadline = self.started + self.seconds + 120
        while not self.finished():
            if time.monotonic() > deadline:
                self.proc.kill()
            time.sleep(0.05)
        if self.proc.returncode != 0:
            raise BenchError(f"dnsperf exited with {self.proc.returncode}: see {self.output_path}")
        return self.parse()

    def parse(self):
        latencies, summary = [], []
        with open(self.output_path) as output:
            for line in output:
                if line.startswith("> "):
                    # "> RCODE NAME TYPE SECONDS" per answer; "> T NAME TYPE" per timeout.
                    fields = line.split()
                    if len(fields) == 5 and fields[1] != "T":
                        latencies.append(float(fields[4]))
                else:
                    summary.append(line)
        text = "".join(summary)
        totals = dnsperf_totals(text)
        max_match = re.search(r"Average Latency \(s\):.*max ([\d.]+)", text)
        size_match = re.search(r"Average packet size:\s+request (\d+), response (\d+)", text)
        latencies.sort()
        cpu = self.rusage.ru_utime + self.rusage.ru_stime
        return {
            "sent": totals["sent"],
            "answered": totals["answered"],
            "lost": totals["lost"] or 0,
            "qps": totals["qps"],
            "rcodes": totals["rcodes"],
            "reconnections": totals["reconnections"],
            "avg_latency_ms": 1000 * sum(latencies) / len(latencies) if latencies else None,
            "p99_latency_ms": 1000 * percentile(latencies, 0.99) if latencies else None,
            "max_latency_ms": 1000 * float(max_match.group(1)) if max_match else None,
            "response_bytes": int(size_match.group(2)) if size_match else None,
            "wall_s": self.wall,
            "dnsperf_cpu_pct": 100 * cpu / self.wall,
        }


# ---------------------------------------------------------------------------------------------
# Measurements


def measure_startup(server, zone, instance):
    """Start the server on a fresh copy of the zone; first-answer time and PSS."""
    zone_file = os.path.join(server.workdir, f"{server.name}-{instance}.zone")
    zone.write(zone_file, 1)
    server.start(zone.origin, zone_file, instance)
    first_answer = server.wait_first_answer(zone.origin, 1)
    pss = tree_pss_mib(server.proc.pid)
    server.check_answers(zone.origin)
    log(f"  {server.name}: first answer after {first_answer:.2f} s, PSS {pss:.1f} MiB")
    return {"server": server.name, "zone": instance, "names": zone.names,
            "first_answer_s": first_answer, "pss_mib": pss}


def measure_throughput(server, zone, args, test, tcp=False, extra=()):
    output = os.path.join(server.dir, f"dnsperf-{test}.out")
    user_before, system_before = tree_cpu_times(server.proc.pid)
    ticks_before = cpu_ticks()
    perf = Dnsperf(server.port, zone.query_file, output, args.seconds, args.clients, args.outstanding, tcp=tcp,
                   extra=extra)
    row = perf.wait()
    ticks_after = cpu_ticks()
    user_after, system_after = tree_cpu_times(server.proc.pid)
    server_user, server_system = user_after - user_before, system_after - system_before
    server_cpu = server_user + server_system
    if not server.alive():
        raise BenchError(f"{server.name} died during {test}:\n{server.log_tail()}")
    server_pct = 100 * server_cpu / row["wall_s"]
    row.update({
        "test": test,
        "server": server.name,
        "server_cpu_s": server_cpu,
        "cpu_us_per_query": 1e6 * server_cpu / row["answered"] if row["answered"] else None,
        # The server's own code against the kernel's work done for it (system calls, and the
        # loopback delivery that runs on the sender's CPU): the kernel part is much the same
        # for every server, so it bounds how far the total can fall.
        "user_us_per_query": 1e6 * server_user / row["answered"] if row["answered"] else None,
        "system_us_per_query": 1e6 * server_system / row["answered"] if row["answered"] else None,
        "server_cpu_pct": server_pct,
        # All that CPU 0 and CPU 1 did (/proc/stat, kernel network work included): well above
        # the server's and dnsperf's own share means something else was running there.
        "cpu0_busy_pct": busy_percent(ticks_before, ticks_after, int(SERVER_CPU)),
        "cpu1_busy_pct": busy_percent(ticks_before, ticks_after, int(LOAD_CPU)),
    })
    log(f"  {server.name} {test}: {row['qps']:,.0f} QPS, "
        f"{row['cpu_us_per_query'] or 0:.2f} µs CPU/answer, lost {row['lost']}, "
        f"server CPU {server_pct:.0f} %, dnsperf CPU {row['dnsperf_cpu_pct']:.0f} %")
    return row


def measure_reload(server, zone, args):
    """dnsperf at a fixed rate while the zone's serial is bumped and the server reloaded."""
    output = os.path.join(server.dir, "dnsperf-reload.out")
    perf = Dnsperf(server.port, zone.query_file, output, args.reload_seconds, args.clients,
                   args.outstanding, qps=args.reload_qps)
    serial, requests, seen = 1, 0, set()
    next_reload = perf.started + args.reload_every
    while not perf.finished():
        if time.monotonic() >= next_reload:
            serial += 1
            zone.write(server.zone_file, serial)
            server.reload()
            requests += 1
            next_reload += args.reload_every
        current = served_serial(server.port, zone.origin, timeout=0.2)
        if current is not None:
            seen.add(current)
        time.sleep(0.2)
    row = perf.wait()
    settle = wait_for_serial(server.port, zone.origin, serial, RELOAD_SETTLE_TIMEOUT)
    if not server.alive():
        raise BenchError(f"{server.name} died during the reload run:\n{server.log_tail()}")
    row.update({
        "test": "reload-big",
        "server": server.name,
        "servfail": row["rcodes"].get("SERVFAIL", 0),
        "reloads_requested": requests,
        "serials_seen_during_run": len(seen - {1}),
        "final_serial": serial,
        "final_serial_served": settle is not None,
        "final_serial_after_s": settle,
    })
    log(f"  {server.name} reload: lost {row['lost']}, SERVFAIL {row['servfail']}, "
        f"{requests} reloads, final serial {serial} {'served' if settle is not None else 'NOT served'}")
    return row


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


def run_rrl(server, zone, args, results):
    """The UDP run again with rate limiting on at a rate no benchmark client reaches, then the flood."""
    try:
        zone_file = os.path.join(server.workdir, f"{server.name}-rrl.zone")
        zone.write(zone_file, 1)
        server.start(zone.origin, zone_file, "rrl", rrl=args.rrl_rate)
        server.wait_first_answer(zone.origin, 1)
        server.check_answers(zone.origin)
        results["throughput"].append(measure_throughput(server, zone, args, "udp-rrl"))
    finally:
        server.stop()
    try:
        zone_file = os.path.join(server.workdir, f"{server.name}-flood.zone")
        zone.write(zone_file, 1)
        server.start(zone.origin, zone_file, "flood", rrl=args.flood_rrl_rate)
        server.wait_first_answer(zone.origin, 1)
        results["flood"].append(measure_flood(server, zone, args))
    finally:
        server.stop()


def run_small(server, zone, args, results):
    try:
        results["startup"].append(measure_startup(server, zone, "small"))
        results["throughput"].append(measure_throughput(server, zone, args, "udp-small"))
        results["throughput"].append(measure_throughput(server, zone, args, "tcp-small", tcp=True))
    finally:
        server.stop()


def run_big(server, zone, args, results):
    try:
        results["startup"].append(measure_startup(server, zone, "big"))
        results["throughput"].append(measure_throughput(server, zone, args, "udp-big"))
        results["reload"].append(measure_reload(server, zone, args))
    finally:
        server.stop()


def signed_copy(server, instance):
    return os.path.join(server.workdir, f"{server.name}-{instance}.zone")


def remove_signed_copy(server, instance):
    try:
        os.unlink(signed_copy(server, instance))  # hundreds of MiB for the big zone
    except FileNotFoundError:
        pass


def start_signed(server, signed, instance):
    """Start the server on a copy of the signed zone; first-answer time, PSS, RSS, DO=1 check."""
    zone_file = signed_copy(server, instance)
    signed.copy_to(zone_file)
    server.start(signed.origin, zone_file, instance)
    first_answer = server.wait_first_answer(signed.origin, 1)
    pss, rss = tree_pss_mib(server.proc.pid), tree_pss_mib(server.proc.pid, "Rss")
    server.check_answers(signed.origin)
    check = server.dnssec_check(signed.origin)
    log(f"  {server.name}: first answer after {first_answer:.2f} s, PSS {pss:.1f} MiB, RSS {rss:.1f} MiB")
    return {"server": server.name, "zone": instance, "names": signed.names, "first_answer_s": first_answer,
            "pss_mib": pss, "rss_mib": rss, "dnssec_check": check}


def run_dnssec_udp(server, signed, args, results):
    """The signed 10k zone: UDP with DO=1 (dnsperf -D), the same queries as the UDP row."""
    try:
        startup = start_signed(server, signed, "signed-small")
        row = measure_throughput(server, signed, args, "udp-dnssec", extra=["-D"])
        row["dnssec_check"] = startup["dnssec_check"]
        results["throughput"].append(row)
    finally:
        server.stop()
        remove_signed_copy(server, "signed-small")


def run_dnssec_big(server, signed, args, results):
    """The signed 1M zone: start to first answer, memory after loading."""
    try:
        results["startup"].append(start_signed(server, signed, "signed-big"))
    finally:
        server.stop()
        remove_signed_copy(server, "signed-big")


# ---------------------------------------------------------------------------------------------
# Tables and targets


def fmt(value, digits=0, suffix=""):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{suffix}"


def ratio(value, reference):
    if value is None or not reference:
        return "—"
    return f"{value / reference:.2f}×"


def markdown_table(headers, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells):
        padded = [str(cell).rjust(width) if index else str(cell).ljust(width)
                  for index, (cell, width) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (width + 1) + ":" if index else "-" * (width + 2)
                          for index, width in enumerate(widths)) + "|"
    return "\n".join([line(headers), rule] + [line(row) for row in rows])


def find_row(rows, server, test=None, zone=None):
    for row in rows:
        if row["server"] == server and (test is None or row.get("test") == test) \
                and (zone is None or row.get("zone") == zone):
            return row
    return None


def codes_text(codes):
    main = [f"{name} {codes[name]:,}" for name in ("NOERROR", "NXDOMAIN") if name in codes]
    other = sum(count for name, count in codes.items() if name not in ("NOERROR", "NXDOMAIN"))
    return ", ".join(main + ([f"other {other:,}"] if other else []))


def throughput_table(results, test, servers):
    rows, notes = [], []
    nsd = find_row(results["throughput"], "nsd", test)
    knot = find_row(results["throughput"], "knot", test)
    for name in servers:
        row = find_row(results["throughput"], name, test)
        if not row:
            continue
        cpu = row["cpu_us_per_query"]
        rows.append([name, fmt(row["qps"]), fmt(cpu, 2), fmt(row.get("user_us_per_query"), 2),
                     fmt(row.get("system_us_per_query"), 2), fmt(row["server_cpu_pct"], 0, " %"),
                     fmt(row["dnsperf_cpu_pct"], 0, " %"), fmt(row["lost"]), fmt(row["avg_latency_ms"], 3),
                     fmt(row["p99_latency_ms"], 3),
                     ratio(cpu, nsd and nsd["cpu_us_per_query"]), ratio(cpu, knot and knot["cpu_us_per_query"]),
                     ratio(row["qps"], nsd and nsd["qps"]), ratio(row["qps"], knot and knot["qps"])])
        notes.append(f"- {name}: {codes_text(row['rcodes'])}; CPU 0 busy {fmt(row['cpu0_busy_pct'], 0, ' %')}, "
                     f"CPU 1 busy {fmt(row['cpu1_busy_pct'], 0, ' %')}"
                     + (f"; TCP reconnections {row['reconnections']}" if test.startswith("tcp") else "")
                     + (f"; average response {row['response_bytes']} octets" if row.get("response_bytes") else "")
                     + (f"; {dnssec_check_text(row['dnssec_check'])}" if row.get("dnssec_check") else ""))
    headers = ["server", "QPS", "CPU µs/query", "of which user", "of which kernel", "server CPU %",
               "dnsperf CPU %", "lost", "avg latency ms",
               "p99 latency ms", "CPU/query vs NSD", "vs Knot", "QPS vs NSD", "vs Knot"]
    return (markdown_table(headers, rows) + "\n\nResponse codes, and all CPU use on the two CPUs (/proc/stat):\n"
            + "\n".join(notes))


def dnssec_check_text(check):
    if not check:
        return "DO=1 check: —"
    verdict = "DNSSEC records present" if check["ok"] else "DNSSEC records MISSING"
    return (f"DO=1 check: {verdict} (h1 A answer with RRSIG: {'yes' if check['answer_rrsig'] else 'no'}; "
            f"NXDOMAIN authority: {check['nxdomain_nsec3']} NSEC3, {check['nxdomain_rrsig']} RRSIG)")


def cost_table(results, servers, off_test, on_test, off_label, on_label):
    """Each server's run of on_test against its own run of off_test, when both ran."""
    rows = []
    for name in servers:
        off, on = find_row(results["throughput"], name, off_test), find_row(results["throughput"], name, on_test)
        if not off or not on or not off["cpu_us_per_query"] or not on["cpu_us_per_query"]:
            continue
        rows.append([name, fmt(off["cpu_us_per_query"], 2), fmt(on["cpu_us_per_query"], 2),
                     fmt(on["cpu_us_per_query"] - off["cpu_us_per_query"], 2), ratio(on["cpu_us_per_query"],
                                                                                      off["cpu_us_per_query"]),
                     fmt(off["qps"]), fmt(on["qps"]), ratio(on["qps"], off["qps"]), fmt(on["lost"])])
    if not rows:
        return ""
    headers = ["server", f"CPU µs/query {off_label}", on_label, "difference µs", "ratio",
               f"QPS {off_label}", on_label, "ratio", f"lost {on_label}"]
    return "\n\n" + markdown_table(headers, rows)


def rrl_cost_table(results, servers):
    """Each server's UDP run with rate limiting on against its own run with it off."""
    return cost_table(results, servers, "udp-small", "udp-rrl", "RRL off", "RRL on")


def signed_startup_table(results, servers, args, signed):
    """The signed 1M zone: start to first answer and memory, next to the unsigned 1M zone when it ran."""
    rows = []
    for name in servers:
        row = find_row(results["startup"], name, zone="signed-big")
        if not row:
            continue
        unsigned = find_row(results["startup"], name, zone="big")
        rows.append([name, fmt(row["first_answer_s"], 2), fmt(row["pss_mib"], 1), fmt(row["rss_mib"], 1),
                     ratio(row["first_answer_s"], unsigned and unsigned["first_answer_s"]),
                     ratio(row["pss_mib"], unsigned and unsigned["pss_mib"]),
                     "yes" if row["dnssec_check"]["ok"] else "NO"])
    label = size_label(args.big_names)
    headers = ["server", f"signed {label} zone: start to first answer (s)", "PSS (MiB)", "RSS (MiB)",
               f"time vs unsigned {label}", f"PSS vs unsigned {label}", "DO=1 answers signed"]
    notes = [f"- {name}: {dnssec_check_text(row['dnssec_check'])}" for name in servers
             for row in [find_row(results["startup"], name, zone="signed-big")] if row]
    return markdown_table(headers, rows) + "\n\n" + signed_zone_text(signed) + "\n" + "\n".join(notes)


def signed_zone_text(signed):
    meta = signed.meta
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(meta["signed_at"]))
    return (f"Zone {signed.origin}: {meta['records']:,} records signed ({meta['RRSIG']:,} RRSIG, "
            f"{meta['NSEC3']:,} NSEC3, {meta['bytes'] / 2**20:,.1f} MiB); ldns-signzone took "
            f"{meta['sign_seconds']:,.1f} s ({'cached, signed ' + when if signed.cached else 'this run'}); "
            f"{signed.path}")


def flood_table(results, servers):
    rows = []
    for name in servers:
        row = find_row(results["flood"], name)
        if not row:
            continue
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


def startup_table(results, servers, args):
    rows = []
    for name in servers:
        small = find_row(results["startup"], name, zone="small")
        big = find_row(results["startup"], name, zone="big")
        rows.append([name, fmt(small and small["first_answer_s"], 2), fmt(small and small["pss_mib"], 1),
                     fmt(big and big["first_answer_s"], 2), fmt(big and big["pss_mib"], 1)])
    small_label, big_label = size_label(args.names), size_label(args.big_names)
    headers = ["server", f"{small_label} zone: start to first answer (s)", f"{small_label} PSS (MiB)",
               f"{big_label} zone: start to first answer (s)", f"{big_label} PSS (MiB)"]
    return markdown_table(headers, rows)


def reload_table(results, servers):
    rows = []
    for name in servers:
        row = find_row(results["reload"], name)
        if not row:
            continue
        served = "yes" if row["final_serial_served"] else "no"
        if row["final_serial_served"]:
            served += f" ({row['final_serial_after_s']:.1f} s after the run)"
        rows.append([name, fmt(row["sent"]), fmt(row["answered"]), fmt(row["lost"]), fmt(row["servfail"]),
                     fmt(row["max_latency_ms"], 1), fmt(row["p99_latency_ms"], 3), row["reloads_requested"],
                     row["serials_seen_during_run"], f"{row['final_serial']}: {served}"])
    headers = ["server", "sent", "answered", "lost", "SERVFAIL", "worst latency ms", "p99 ms",
               "reloads requested", "new serials seen during run", "final serial served"]
    return markdown_table(headers, rows)


def target(results, description, met, detail):
    status = "SKIPPED" if met is None else ("MET" if met else "MISSED")
    results["targets"].append({"target": description, "status": status, "detail": detail})
    return f"- {status}: {description} — {detail}"


def targets_section(results, groups):
    """The performance targets of the groups that ran (README), and whether anydns answers DO=1 queries
    with DNSSEC records when a signed zone ran."""
    lines = []
    throughput, startup = results["throughput"], results["startup"]
    if "small" in groups:
        any_udp, nsd_udp, knot_udp = (find_row(throughput, name, "udp-small") for name in ("anydns", "nsd", "knot"))
        if any_udp and nsd_udp and knot_udp:
            best = min(nsd_udp["cpu_us_per_query"], knot_udp["cpu_us_per_query"])
            lines.append(target(results, "anydns UDP CPU/query ≤ 0.8 × min(NSD, Knot)",
                                any_udp["cpu_us_per_query"] <= 0.8 * best,
                                f"{any_udp['cpu_us_per_query']:.2f} µs vs limit {0.8 * best:.2f} µs "
                                f"(NSD {nsd_udp['cpu_us_per_query']:.2f}, Knot {knot_udp['cpu_us_per_query']:.2f})"))
            ceiling = [row["server"] for row in (any_udp, nsd_udp, knot_udp) if row["dnsperf_cpu_pct"] >= 95]
            note = (f"; dnsperf CPU ≥ 95 % with {', '.join(ceiling)}: the load generator is the ceiling"
                    if ceiling else "")
            lines.append(target(results, "anydns UDP QPS ≥ NSD and Knot",
                                any_udp["qps"] >= nsd_udp["qps"] and any_udp["qps"] >= knot_udp["qps"],
                                f"{any_udp['qps']:,.0f} vs NSD {nsd_udp['qps']:,.0f}, "
                                f"Knot {knot_udp['qps']:,.0f}{note}"))
        else:
            lines.append(target(results, "anydns UDP CPU/query and QPS vs NSD and Knot", None,
                                "needs all three servers"))
        any_tcp, knot_tcp = find_row(throughput, "anydns", "tcp-small"), find_row(throughput, "knot", "tcp-small")
        if any_tcp and knot_tcp:
            lines.append(target(results, "anydns TCP QPS ≥ Knot", any_tcp["qps"] >= knot_tcp["qps"],
                                f"{any_tcp['qps']:,.0f} vs {knot_tcp['qps']:,.0f}"))
        else:
            lines.append(target(results, "anydns TCP QPS ≥ Knot", None, "needs anydns and Knot"))
    if "big" in groups:
        any_big, nsd_big = find_row(startup, "anydns", zone="big"), find_row(startup, "nsd", zone="big")
        if any_big and nsd_big:
            lines.append(target(results, "big zone start to first answer ≤ NSD",
                                any_big["first_answer_s"] <= nsd_big["first_answer_s"],
                                f"{any_big['first_answer_s']:.2f} s vs {nsd_big['first_answer_s']:.2f} s"))
            lines.append(target(results, "big zone PSS ≤ NSD", any_big["pss_mib"] <= nsd_big["pss_mib"],
                                f"{any_big['pss_mib']:.1f} MiB vs {nsd_big['pss_mib']:.1f} MiB"))
        else:
            lines.append(target(results, "big zone start-up and PSS ≤ NSD", None, "needs anydns and NSD, big zone"))
        any_reload = find_row(results["reload"], "anydns")
        if any_reload:
            lines.append(target(results, "reload under load: 0 lost, 0 SERVFAIL (and the last serial served)",
                                any_reload["lost"] == 0 and any_reload["servfail"] == 0
                                and any_reload["final_serial_served"],
                                f"lost {any_reload['lost']}, SERVFAIL {any_reload['servfail']}, final serial "
                                f"{'served' if any_reload['final_serial_served'] else 'not served'}"))
        else:
            lines.append(target(results, "reload under load: 0 lost, 0 SERVFAIL", None, "needs anydns, big zone"))
    if "dnssec-udp" in groups or "dnssec-big" in groups:
        checks = [(row.get("test") or row.get("zone"), row["dnssec_check"])
                  for row in throughput + startup if row["server"] == "anydns" and row.get("dnssec_check")]
        if checks:
            lines.append(target(results, "anydns DO=1 answers from a signed zone carry RRSIGs and NSEC3 proofs",
                                all(check["ok"] for _, check in checks),
                                "; ".join(f"{run}: {dnssec_check_text(check)}" for run, check in checks)))
        else:
            lines.append(target(results, "anydns DO=1 answers carry RRSIGs and NSEC3 proofs", None,
                                "needs anydns, signed zone"))
    return "\n".join(lines)


def noise_section(results):
    """Runs during which CPU 0 or CPU 1 did clearly more than the server and dnsperf did."""
    noisy = []
    for row in results["throughput"]:
        extra_cpu0 = (row["cpu0_busy_pct"] or 0) - row["server_cpu_pct"]
        extra_cpu1 = (row["cpu1_busy_pct"] or 0) - row["dnsperf_cpu_pct"]
        if max(extra_cpu0, extra_cpu1) > NOISE_POINTS:
            noisy.append(f"{row['server']} {row['test']} (CPU 0 +{extra_cpu0:.0f}, CPU 1 +{extra_cpu1:.0f} points)")
    results["noisy_runs"] = noisy
    if not noisy:
        return ""
    return ("\nOther processes used the benchmark CPUs during: " + "; ".join(noisy)
            + ". QPS and latency of these runs are unreliable; CPU µs/query holds up better. "
              "Rerun on a quiet machine for figures to quote.")


# ---------------------------------------------------------------------------------------------
# Set-up, clean-up, main


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--anydns", default=os.path.join(REPO, ".build", "release", "anydns"))
    parser.add_argument("--servers", default="nsd,knot,anydns", help="comma-separated subset of nsd,knot,anydns")
    parser.add_argument("--seconds", type=int, default=10, help="length of each throughput run")
    parser.add_argument("--names", type=int, default=10_000, help="hosts in the small zone")
    parser.add_argument("--big-names", type=int, default=1_000_000, help="hosts in the big zone")
    parser.add_argument("--clients", type=int, default=10, help="dnsperf -c")
    parser.add_argument("--outstanding", type=int, default=200,
                        help="dnsperf -q (200 saturates dnsperf; from about 300 on, UDP queries are lost in "
                             "the servers' socket receive buffers)")
    parser.add_argument("--reload-seconds", type=int, default=30)
    parser.add_argument("--reload-every", type=float, default=5)
    parser.add_argument("--reload-qps", type=int, default=20_000)
    parser.add_argument("--only", metavar="GROUPS",
                        help="comma-separated groups to run, of: " + ", ".join(f"{name} ({what})" for name, what
                                                                              in GROUPS.items())
                             + "; 'dnssec' is dnssec-udp,dnssec-big (default: all, less the --skip-* ones)")
    parser.add_argument("--skip-big", action="store_true", help="no 1M-name zone, signed or not (big, dnssec-big)")
    parser.add_argument("--skip-rrl", action="store_true",
                        help="no response rate limiting rows (the UDP run with RRL on, and the flood)")
    parser.add_argument("--skip-dnssec", action="store_true", help="no signed zone rows (dnssec-udp, dnssec-big)")
    parser.add_argument("--skip-signed-big", action="store_true",
                        help="no signed 1M-name zone (dnssec-big): signing it the first time takes minutes")
    parser.add_argument("--cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                         os.path.expanduser("~/.cache"), "anydns-bench"),
                        help="where signed zones and their keys are kept between runs (default: %(default)s)")
    parser.add_argument("--rrl-rate", type=int, default=1_000_000,
                        help="responses per second per netblock for the 'RRL on' UDP run: far above what one "
                             "dnsperf client reaches, so nothing is limited and the row shows the accounting cost")
    parser.add_argument("--flood-rrl-rate", type=int, default=20, help="responses per second during the flood")
    parser.add_argument("--flood-seconds", type=int, default=10, help="length of the flood")
    parser.add_argument("--legit-qps", type=int, default=10,
                        help=f"queries per second from {LEGIT_ADDRESS}; keep it below --flood-rrl-rate: RRL counts "
                             "that client's own /24 too, so at 50/s against 20/s it is limited by itself")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke test")
    parser.add_argument("--work", help="work directory (default: a new temporary one); removed at exit "
                                        "only if this script created it")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", help="write all results to this file")
    args = parser.parse_args()
    if args.quick:
        args.names, args.big_names, args.seconds = 500, 5000, 2
        args.flood_seconds = 2
        args.reload_seconds, args.reload_every, args.reload_qps = 6, 2, 2000
    args.servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = set(args.servers) - set(SERVER_ORDER)
    if unknown or not args.servers:
        parser.error(f"--servers takes a subset of {','.join(SERVER_ORDER)}")
    args.servers = [name for name in SERVER_ORDER if name in args.servers]
    groups = set()
    for name in (args.only or "all").split(","):
        name = name.strip()
        if name not in GROUPS and name not in GROUP_ALIASES:
            parser.error(f"--only takes groups of {', '.join(list(GROUPS) + list(GROUP_ALIASES))}")
        groups.update(GROUP_ALIASES.get(name, [name]))
    skipped = {"big": ["big", "dnssec-big"], "rrl": ["rrl"], "dnssec": ["dnssec-udp", "dnssec-big"],
               "signed_big": ["dnssec-big"]}
    for flag, names in skipped.items():
        if getattr(args, f"skip_{flag}"):
            groups -= set(names)
    args.groups = [name for name in GROUPS if name in groups]
    if not args.groups:
        parser.error("--only and --skip-* leave nothing to run")
    return args


def check_tools(args):
    """Binaries that are needed; installs the missing ones with apt-get when running as root."""
    needed = {"dnsperf": "dnsperf", "taskset": "util-linux"}
    if "nsd" in args.servers:
        needed["nsd"] = "nsd"
    if "knot" in args.servers:
        needed["knotd"] = "knot"
    if "dnssec-udp" in args.groups or "dnssec-big" in args.groups:
        needed["ldns-signzone"] = needed["ldns-keygen"] = "ldnsutils"
    missing = sorted({package for binary, package in needed.items() if not find_binary(binary)})
    if missing and os.geteuid() == 0:
        log(f"installing {' '.join(missing)} with apt-get")
        command = ["apt-get", "install", "-y", "-qq"] + missing
        if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL)
            subprocess.run(command, stdout=subprocess.DEVNULL)
        missing = sorted({package for binary, package in needed.items() if not find_binary(binary)})
    if missing:
        sys.exit(f"missing tools; install them with: apt-get install {' '.join(missing)}")
    if "anydns" in args.servers and not os.access(args.anydns, os.X_OK):
        sys.exit(f"no anydns binary at {args.anydns} (build it: swift build -c release)")
    if (os.cpu_count() or 1) < 2:
        sys.exit("this benchmark pins the server to CPU 0 and dnsperf to CPU 1: it needs 2 CPUs")


def make_servers(args, workdir):
    classes = {"nsd": (Nsd, find_binary("nsd")), "knot": (Knot, find_binary("knotd")),
               "anydns": (Anydns, os.path.abspath(args.anydns))}
    return [classes[name][0](classes[name][1], workdir) for name in args.servers]


def cleanup(workdir, keep):
    for server in list(LIVE_SERVERS):
        server.stop()
    for proc in list(LIVE_PROCESSES):
        if proc.poll() is None:
            proc.kill()
    if workdir and not keep:
        shutil.rmtree(workdir, ignore_errors=True)


def versions(servers):
    lines = []
    for server in servers:
        if server.name == "nsd":
            out = subprocess.run([server.binary, "-v"], capture_output=True, text=True)
        elif server.name == "knot":
            out = subprocess.run([server.binary, "-V"], capture_output=True, text=True)
        else:
            workers = "--workers 1" if server.has_workers_flag else "no --workers flag (default threads)"
            lines.append(f"anydns {server.binary} ({workers})")
            continue
        lines.append((out.stdout + out.stderr).splitlines()[0].strip())
    dnsperf = subprocess.run(["dnsperf", "-h"], capture_output=True, text=True)
    lines.append("dnsperf " + " ".join(re.findall(r"Version (\S+)", dnsperf.stdout + dnsperf.stderr)))
    return lines


def sign_zone(zone, args, results, label):
    """The zone signed (or taken from the cache), or None after recording why not."""
    try:
        signed = SignedZone(zone, args.cache)
    except (BenchError, OSError) as error:
        log(f"ERROR: signing {zone.origin}: {error}")
        results["errors"].append(f"signing {zone.origin}: {error}")
        return None
    results["zones"][label] = {"origin": signed.origin, "names": signed.names, "path": signed.path,
                               "cached": signed.cached, **signed.meta}
    return signed


def run_phase(servers, phase, zone, args, results):
    for server in servers:
        try:
            phase(server, zone, args, results)
        except BenchError as error:
            log(f"ERROR: {error}")
            results["errors"].append(f"{server.name}: {error}")


def main():
    args = parse_args()
    check_tools(args)
    workdir = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="anydns-bench-")
    created = args.work is None or not os.path.exists(workdir)
    os.makedirs(workdir, exist_ok=True)
    atexit.register(cleanup, workdir, args.keep or not created)  # never delete a directory we did not make
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the atexit clean-up
    os.sched_setaffinity(0, {int(LOAD_CPU)})  # keep this script (and gen_zone.py) off CPU 0

    servers = make_servers(args, workdir)
    results = {"settings": dict(vars(args)), "zones": {},
               "throughput": [], "startup": [], "reload": [], "flood": [], "targets": [],
               "noisy_runs": [], "errors": []}
    results["settings"]["versions"] = versions(servers)
    results["settings"]["loadavg_at_start"] = os.getloadavg()
    log(f"work directory {workdir}; load average {os.getloadavg()[0]:.2f}")

    groups = args.groups
    log(f"running: {', '.join(groups)}")
    small = big = signed_small = signed_big = None
    if {"small", "rrl", "dnssec-udp"} & set(groups):
        log(f"generating the {size_label(args.names)}-name zone")
        small = Zone(SMALL_ORIGIN, args.names, workdir)
        results["zones"]["small"] = {"origin": small.origin, "names": small.names, "records": small.records}
    if "small" in groups:
        log(f"{size_label(args.names)} zone ({small.records:,} records): start-up, UDP, TCP")
        run_phase(servers, run_small, small, args, results)
    if "rrl" in groups:
        log(f"{size_label(args.names)} zone with response rate limiting: UDP at {args.rrl_rate:,}/s, "
            f"then a flood from {FLOOD_ADDRESS} at {args.flood_rrl_rate}/s")
        run_phase(servers, run_rrl, small, args, results)
    if "dnssec-udp" in groups:
        signed_small = sign_zone(small, args, results, "signed-small")
        if signed_small:
            log(f"signed {size_label(args.names)} zone ({signed_small.meta['records']:,} records): UDP with DO=1")
            run_phase(servers, run_dnssec_udp, signed_small, args, results)

    if "big" in groups or "dnssec-big" in groups:
        log(f"generating the {size_label(args.big_names)}-name zone")
        big = Zone(BIG_ORIGIN, args.big_names, workdir)
        results["zones"]["big"] = {"origin": big.origin, "names": big.names, "records": big.records,
                                   "generate_s": big.generate_seconds}
    if "big" in groups:
        log(f"{size_label(args.big_names)} zone ({big.records:,} records): start-up, UDP, reload under load")
        run_phase(servers, run_big, big, args, results)
    if "dnssec-big" in groups:
        signed_big = sign_zone(big, args, results, "signed-big")
        if signed_big:
            log(f"signed {size_label(args.big_names)} zone ({signed_big.meta['records']:,} records): start-up")
            run_phase(servers, run_dnssec_big, signed_big, args, results)

    names = args.servers
    print(f"\n# NSD, Knot DNS and anydns — one worker on CPU {SERVER_CPU}, dnsperf on CPU {LOAD_CPU}\n")
    print("\n".join(f"- {line}" for line in results["settings"]["versions"]))
    print(f"- dnsperf -c {args.clients} -q {args.outstanding}, {args.seconds} s per throughput run; "
          f"load average at start {results['settings']['loadavg_at_start'][0]:.2f}")
    print(f"- runs: {', '.join(groups)}")
    zones = [f"{label} zone {zone.origin}: {zone.names:,} names, {zone.records:,} records"
             for label, zone in (("small", small), ("big", big)) if zone]
    zones += [f"signed {size_label(zone.names)} zone: {zone.meta['records']:,} records"
              for zone in (signed_small, signed_big) if zone]
    print("- " + "; ".join(zones))
    if "small" in groups:
        print(f"\n## UDP, {size_label(args.names)}-name zone\n\n{throughput_table(results, 'udp-small', names)}")
        print(f"\n## TCP (persistent connections), {size_label(args.names)}-name zone\n\n"
              f"{throughput_table(results, 'tcp-small', names)}")
    if "rrl" in groups:
        print(f"\n## UDP with response rate limiting on ({args.rrl_rate:,} responses/s, slip {RRL_SLIP}), "
              f"{size_label(args.names)}-name zone\n\n{throughput_table(results, 'udp-rrl', names)}"
              f"{rrl_cost_table(results, names)}")
        print(f"\n## Flood: dnsperf from {FLOOD_ADDRESS} asks h1.{small.origin} A as fast as it can for "
              f"{args.flood_seconds} s, {LEGIT_ADDRESS} asks it {args.legit_qps} times/s; RRL "
              f"{args.flood_rrl_rate} responses/s, slip {RRL_SLIP}\n\n{flood_table(results, names)}")
    if "small" in groups or "big" in groups:
        print(f"\n## Start to first answer and proportional memory (PSS)\n\n{startup_table(results, names, args)}")
    if "big" in groups:
        print(f"\n## UDP, {size_label(args.big_names)}-name zone\n\n{throughput_table(results, 'udp-big', names)}")
        print(f"\n## Reload under load, {size_label(args.big_names)}-name zone: dnsperf -Q {args.reload_qps} for "
              f"{args.reload_seconds} s, new serial + SIGHUP every {args.reload_every:g} s\n\n"
              f"{reload_table(results, names)}")
    if signed_small:
        print(f"\n## UDP DO=1, signed {size_label(args.names)}-name zone (NSEC3)\n\n"
              f"{throughput_table(results, 'udp-dnssec', names)}\n\n{signed_zone_text(signed_small)}"
              f"{cost_table(results, names, 'udp-small', 'udp-dnssec', 'unsigned', 'signed DO=1')}")
    if signed_big:
        print(f"\n## Signed {size_label(args.big_names)}-name zone (NSEC3): start to first answer and memory\n\n"
              f"{signed_startup_table(results, names, args, signed_big)}")
    print(f"\n## Targets\n\n{targets_section(results, groups)}")
    noise = noise_section(results)
    if noise:
        print(noise)
    if results["errors"]:
        print("\n## Errors\n\n" + "\n".join(f"- {error.splitlines()[0]}" for error in results["errors"]))
    if args.json:
        with open(args.json, "w") as json_file:
            json.dump(results, json_file, indent=2)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted")  # the atexit clean-up stops the servers and removes the work directory
        sys.exit(130)
