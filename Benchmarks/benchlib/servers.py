"""The servers under test: NSD, Knot DNS and anydns, each configured for one zone, started
pinned to CPU 0, reloaded with SIGHUP and stopped.

The servers run one after the other, never together, in the foreground on 127.0.0.1 at a free
port (UDP and TCP), each with one worker and response rate limiting off (NSD: server-count 1,
rrl-ratelimit 0; Knot: one UDP, one TCP and one background worker, no mod-rrl; anydns:
--workers 1 when the binary has that flag), unless a run asks for rate limiting. Each runs under
`taskset -c 0`, so all its processes and threads stay on CPU 0. Everything NSD and Knot write
(pid file, xfrd state, zone list, control socket, timer database) goes to the work directory.

SIGHUP is what Debian's systemd units for NSD and Knot use for reload, and what each server
documents: NSD 4.6 rereads zone files whose mtime changed; Knot 3.2 reloads its configuration
and modified zone files (same as `knotc reload`); anydns reloads its zones.

Rate limiting, when on: slip 2, IPv4 /24, IPv6 /56 (NSD: rrl-ratelimit, rrl-slip,
rrl-ipv4/6-prefix-length; Knot: a mod-rrl instance as the default template's global-module (Knot
3.2 groups sources by /24 and /56, fixed); anydns: the `rate-limit:` section of a --config file).
"""
import os
import signal
import socket
import subprocess
import time

from benchlib import SERVER_CPU, BenchError, log
from benchlib.dnsquery import (QTYPE_A, QTYPE_NSEC3, QTYPE_RRSIG, QTYPE_SOA, ask, ask_dnssec, build_query,
                               parse_response)

STARTUP_TIMEOUT = 900.0  # seconds to wait for a server's first answer
RRL_SLIP = 2  # every second rate-limited query gets a TC=1 answer, the others none
RRL_IPV4_PREFIX, RRL_IPV6_PREFIX = 24, 56

# Servers still running; stop_all_servers() stops them at exit whatever happens.
LIVE_SERVERS = []


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


def stop_all_servers():
    for server in list(LIVE_SERVERS):
        server.stop()


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

    def version(self):
        """One line naming the server and its version, for the tables."""
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


def first_output_line(command):
    out = subprocess.run(command, capture_output=True, text=True)
    return (out.stdout + out.stderr).splitlines()[0].strip()


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

    def version(self):
        return first_output_line([self.binary, "-v"])


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

    def version(self):
        return first_output_line([self.binary, "-V"])


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

    def version(self):
        workers = "--workers 1" if self.has_workers_flag else "no --workers flag (default threads)"
        return f"anydns {self.binary} ({workers})"
