"""Start and stop the DNS servers under test on loopback: anydns, NSD and Knot.

Each server runs in its own temporary directory, on a freshly picked free port,
on 127.0.0.1 and ::1 only. Readiness is detected by polling a real SOA query
until it answers (never by sleeping a fixed time). Every process is killed on
teardown, even when a test fails.

Used by conftest.py (fixtures) and usable on its own for manual probing:

    python3 -c "import servers; ..."
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ZONES = HERE / "zones"

READY_DEADLINE = 20.0  # seconds a server may take to answer its first SOA query
LOOPBACK_V4 = "127.0.0.1"
LOOPBACK_V6 = "::1"


_RUNNING: list = []  # every server started by this process, stopped at exit as a safety net


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


class HarnessError(Exception):
    """A problem with the test environment (missing tool, server did not start)."""


def require_tool(name: str) -> str:
    """Return the absolute path of an executable, or raise with an install hint."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)
    if not path:
        raise HarnessError(
            f"required tool {name!r} not found; install it with: apt-get install -y "
            "bind9-dnsutils knot-dnsutils nsd knot ldnsutils (or run the Makefile's setup target)")
    return path


def anydns_binary() -> Path:
    """Path of the anydns binary under test: $ANYDNS_BIN or <repo>/.build/debug/anydns."""
    return Path(os.environ.get("ANYDNS_BIN", REPO / ".build" / "debug" / "anydns"))


def require_anydns() -> Path:
    """Return the anydns binary path, or raise a clear error when it is not built."""
    path = anydns_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise HarnessError(
            f"anydns binary not found at {path}: build it with `swift build` "
            "or point ANYDNS_BIN at it")
    return path


def ipv6_loopback_available() -> bool:
    """True when ::1 can be bound (some containers disable IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind((LOOPBACK_V6, 0))
        return True
    except OSError:
        return False


def free_port(attempts: int = 50) -> int:
    """Pick a port that is free for UDP and TCP on 127.0.0.1 (and ::1 when available).

    The kernel chooses a UDP port (bind to port 0); the same number is then bound
    for TCP and on ::1. On a clash another port is tried.
    """
    v6 = ipv6_loopback_available()
    for _ in range(attempts):
        socks = []
        try:
            u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(u4)
            u4.bind((LOOPBACK_V4, 0))
            port = u4.getsockname()[1]
            t4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(t4)
            t4.bind((LOOPBACK_V4, port))
            if v6:
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s6 = socket.socket(socket.AF_INET6, kind)
                    socks.append(s6)
                    s6.bind((LOOPBACK_V6, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise HarnessError("could not find a free loopback port for UDP and TCP")


@dataclass
class Zone:
    """A zone to serve: its origin (absolute, with trailing dot) and file."""
    origin: str
    path: Path


@dataclass
class Server:
    """A running DNS server process."""
    name: str
    port: int
    proc: subprocess.Popen
    workdir: Path
    host: str = LOOPBACK_V4
    v6: bool = False
    logfile: Path | None = None
    zones: list = field(default_factory=list)
    owns_workdir: bool = True
    http_port: int | None = None  # anydns's management HTTP port

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log, for failure messages."""
        if self.logfile and self.logfile.exists():
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit; always reaps the process and removes
        its temp dir (kept when ANYDNS_KEEP_TMP is set, for post-mortems)."""
        self._terminate()
        if self.owns_workdir and not os.environ.get("ANYDNS_KEEP_TMP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _terminate(self) -> None:
        # Each server runs in its own session (start_new_session), so its process group
        # holds exactly it and its children (NSD forks workers and xfrd).
        pgid = self.proc.pid
        if self.proc.poll() is None:
            self._signal_group(pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(pgid, signal.SIGKILL)  # leftover children, if any
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)

    @staticmethod
    def _signal_group(pgid: int, sig: int) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def soa_answers(host: str, port: int, origin: str, timeout: float = 0.5) -> bool:
    """True when the server answers an SOA query for origin with NOERROR and an answer."""
    q = dns.message.make_query(origin, dns.rdatatype.SOA)
    try:
        r = dns.query.udp(q, host, port=port, timeout=timeout)
    except (OSError, dns.exception.DNSException):
        return False
    return r.rcode() == 0 and len(r.answer) > 0


def wait_ready(server: Server, deadline: float = READY_DEADLINE) -> None:
    """Poll a real SOA query for each zone until answered, or raise with the log tail."""
    end = time.monotonic() + deadline
    pending = list(server.zones)
    while pending:
        if not server.alive():
            raise HarnessError(
                f"{server.name} exited with code {server.proc.returncode} before answering;"
                f" log:\n{server.log_tail()}")
        if soa_answers(server.host, server.port, pending[0].origin):
            pending.pop(0)
            continue
        if time.monotonic() > end:
            raise HarnessError(
                f"{server.name} did not answer SOA {pending[0].origin} on "
                f"{server.host}:{server.port} within {deadline}s; log:\n{server.log_tail()}")
        # Not answering yet (a closed port refuses at once): wait on the other condition we
        # care about, the process exiting, for a bounded moment before polling again.
        try:
            server.proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            pass


def _spawn(name: str, argv: list, workdir: Path, port: int, zones: list, v6: bool,
           attempts_left: int, restart, owns_workdir: bool = True) -> Server:
    logfile = workdir / f"{name}.log"
    log = open(logfile, "ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    server = Server(name=name, port=port, proc=proc, workdir=workdir, v6=v6,
                    logfile=logfile, zones=zones, owns_workdir=owns_workdir)
    _RUNNING.append(server)
    try:
        wait_ready(server)
    except HarnessError:
        text = logfile.read_text(errors="replace")
        server.stop()
        if attempts_left > 0 and ("in use" in text.lower() or "can't bind" in text.lower()
                                  or "cannot bind" in text.lower()
                                  or "management http" in text.lower()):
            return restart()  # port clash with another process: pick again
        raise
    return server


def _zone_copies(workdir: Path, zones: list) -> list:
    """Copy zone files into the server's own directory (servers may write beside them)."""
    out = []
    for z in zones:
        dst = workdir / Path(z.path).name
        shutil.copy(z.path, dst)
        out.append(Zone(z.origin if z.origin.endswith(".") else z.origin + ".", dst))
    return out


def start_anydns(zones: list, workdir: Path | None = None, attempts: int = 3,
                 extra_args: tuple = ()) -> Server:
    """Start `anydns serve` on 127.0.0.1 and ::1 with the given zones and wait for it."""
    binary = require_anydns()
    owns = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="anydns-test-"))
    port = free_port()
    v6 = ipv6_loopback_available()
    http_port = free_port()
    argv = [str(binary), "serve", "--listen", f"{LOOPBACK_V4}:{port}", "--http-port", str(http_port)]
    if v6:
        argv += ["--listen", f"[{LOOPBACK_V6}]:{port}"]
    zones = [Zone(z.origin if z.origin.endswith(".") else z.origin + ".", Path(z.path))
             for z in zones]
    for z in zones:
        argv += ["--zone", f"{z.origin}={z.path}"]
    argv += list(extra_args)
    server = _spawn("anydns", argv, workdir, port, zones, v6, attempts - 1,
                    lambda: start_anydns(zones, None, attempts - 1, extra_args), owns)
    server.http_port = server.http_port or http_port
    return server


def nsd_supports(option: str) -> bool:
    """True when this NSD build knows a config option (e.g. rrl-ratelimit)."""
    with tempfile.TemporaryDirectory() as d:
        conf = Path(d) / "nsd.conf"
        conf.write_text(f'server:\n  {option}: 0\n  database: ""\n')
        r = subprocess.run([require_tool("nsd-checkconf"), str(conf)],
                           capture_output=True, text=True)
        return r.returncode == 0


def nsd_server_section(workdir: Path, port: int, v6: bool, verbosity: int) -> list:
    """The `server:` lines every NSD of the tests gets: loopback at `port`, one process, no
    chroot or user change, every file it writes in `workdir`."""
    return [
        "server:",
        f"  ip-address: {LOOPBACK_V4}@{port}",
        *([f"  ip-address: {LOOPBACK_V6}@{port}"] if v6 else []),
        f"  port: {port}",
        "  server-count: 1",
        '  username: ""',
        '  database: ""',
        f'  zonesdir: "{workdir}"',
        f'  pidfile: "{workdir}/nsd.pid"',
        f'  xfrdfile: "{workdir}/xfrd.state"',
        f'  zonelistfile: "{workdir}/zone.list"',
        f'  xfrdir: "{workdir}"',
        f"  verbosity: {verbosity}",
    ]


def start_nsd(zones: list, workdir: Path | None = None, attempts: int = 3) -> Server:
    """Start NSD in the foreground (`nsd -d -c CONF`) with a generated config."""
    nsd = require_tool("nsd")
    owns = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="nsd-test-"))
    port = free_port()
    v6 = ipv6_loopback_available()
    source_zones, zones = zones, _zone_copies(workdir, zones)
    lines = nsd_server_section(workdir, port, v6, verbosity=1) + [
        "  hide-version: no",
        "  identity: \"nsd-test\"",
    ]
    if nsd_supports("rrl-ratelimit"):
        lines.append("  rrl-ratelimit: 0")
    lines += ["remote-control:", "  control-enable: no"]
    for z in zones:
        lines += ["zone:", f"  name: {z.origin}", f'  zonefile: "{z.path}"']
    conf = workdir / "nsd.conf"
    conf.write_text("\n".join(lines) + "\n")
    check = subprocess.run([require_tool("nsd-checkconf"), str(conf)],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise HarnessError(f"generated nsd.conf rejected: {check.stderr}{check.stdout}")
    return _spawn("nsd", [nsd, "-d", "-c", str(conf)], workdir, port, zones, v6,
                  attempts - 1, lambda: start_nsd(source_zones, None, attempts - 1), owns)


def knot_server_sections(workdir: Path, listen: list) -> list:
    """The `server:`, `database:`, `control:` and `log:` sections every Knot of the tests gets:
    the `listen` addresses (`ADDR@PORT`), one worker of each kind, every file in `workdir`."""
    return [
        "server:",
        f'  rundir: "{workdir}"',
        f"  listen: [ {', '.join(listen)} ]",
        "  udp-workers: 1",
        "  tcp-workers: 1",
        "  background-workers: 1",
        '  identity: "knot-test"',
        "database:",
        f'  storage: "{workdir}"',
        "control:",
        f'  listen: "{workdir}/knot.sock"',
        "log:",
        "  - target: stderr",
        "    any: info",
    ]


def start_knot(zones: list, workdir: Path | None = None, attempts: int = 3) -> Server:
    """Start knotd in the foreground with a generated config, everything in workdir."""
    knotd = require_tool("knotd")
    owns = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="knot-test-"))
    port = free_port()
    v6 = ipv6_loopback_available()
    source_zones, zones = zones, _zone_copies(workdir, zones)
    listen = [f"{LOOPBACK_V4}@{port}"] + ([f"{LOOPBACK_V6}@{port}"] if v6 else [])
    lines = knot_server_sections(workdir, listen) + [
        "template:",
        "  - id: default",
        f'    storage: "{workdir}"',
        "    zonefile-sync: -1",
        "    zonefile-load: whole",
        "    journal-content: none",
        "    semantic-checks: on",
        "zone:",
    ]
    for z in zones:
        lines += [f"  - domain: {z.origin}", f'    file: "{z.path}"']
    conf = workdir / "knot.conf"
    conf.write_text("\n".join(lines) + "\n")
    return _spawn("knot", [knotd, "-c", str(conf)], workdir, port, zones, v6,
                  attempts - 1, lambda: start_knot(source_zones, None, attempts - 1), owns)


STARTERS = {"anydns": start_anydns, "nsd": start_nsd, "knot": start_knot}
