"""The Debian package (`make deb`, README "Installing") installed on a machine without the Swift
toolchain, driven by the "New operator walkthrough" of Deploy/README.md.

The machine is a throw-away root made by scripts/clean-root.sh inside new mount, network and PID
namespaces: an overlay of / whose writes go to a tmpfs, with /opt/swift, /tmp, /run and /root
hidden under empty tmpfs mounts and only `lo` in its network. dpkg and apt work on the overlay,
so the host's dpkg database stays as it was (checked last).

The shell blocks between `<!-- walkthrough:begin -->` and `<!-- walkthrough:end -->` in
Deploy/README.md are run there as written, one command at a time, as root in /tmp where the
.deb was copied. A command ending in `&` (starting the server) runs in the background: the
test then polls `dig` and `/readyz` until they answer (never a fixed sleep) before the next
command, and after the walkthrough's `kill` it waits for the server to exit 0.

Environment:
    ANYDNS_DEB              the .deb under test (the Makefile's `integration-test` builds it
                            with `make deb` and sets this); unset or missing FAILS the tests
    ANYDNS_WALKTHROUGH_OUT  optional file: the walkthrough transcript (commands and output)

Needs root (mounts, namespaces, chroot); without it the tests FAIL, they are never skipped.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.zone
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CLEAN_ROOT = REPO / "scripts" / "clean-root.sh"
DEPLOY_README = REPO / "Deploy" / "README.md"
BUILD_INFO = REPO / "Sources" / "Operations" / "BuildInfo.swift"
ANY_ZONE = REPO / "Zones" / "any.zone"

SETUP_DEADLINE = 30.0     # seconds for the clean root to come up
COMMAND_TIMEOUT = 120.0   # seconds one walkthrough command may take (apt-get install)
ANSWER_DEADLINE = 30.0    # seconds from starting the server to a DNS answer and /readyz 200
STOP_DEADLINE = 30.0      # seconds from SIGTERM to exit (lame-duck is 5 s; the unit allows 30)

# The environment of every command in the clean root: a login-like root shell. /opt/swift's
# bin directory stays on PATH, so "swift is not found" means the toolchain is really gone.
ROOT_ENV = ["HOME=/root", "LANG=C.UTF-8", "TERM=dumb",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/swift/usr/bin"]


def version() -> str:
    """BuildInfo.version, the package's version (the Makefile and build-deb.sh read it too)."""
    m = re.search(r'static let version = "([^"]+)"', BUILD_INFO.read_text())
    assert m, f"no BuildInfo.version in {BUILD_INFO}"
    return m.group(1)


class Missing(Exception):
    """A prerequisite of the package test is missing (reported as a failure, never a skip)."""


def deb_path() -> Path:
    """$ANYDNS_DEB, or Missing saying how to get it."""
    value = os.environ.get("ANYDNS_DEB")
    if not value:
        raise Missing("ANYDNS_DEB is not set: build the package with `make deb` and set "
                      "ANYDNS_DEB to the path it prints (`make integration-test` does both)")
    if not Path(value).is_file():
        raise Missing(f"ANYDNS_DEB={value}: no such file (build it with `make deb`)")
    return Path(value)


def host_state() -> dict:
    """What installing in the clean root must not change on the host."""
    status = Path("/var/lib/dpkg/status").read_bytes()
    return {
        "dpkg-status-sha256": hashlib.sha256(status).hexdigest(),
        "dpkg -s anydns": subprocess.run(["dpkg", "-s", "anydns"], capture_output=True).returncode,
        "getent passwd anydns": subprocess.run(["getent", "passwd", "anydns"],
                                               capture_output=True, text=True).stdout,
        "/usr/bin/anydns exists": os.path.lexists("/usr/bin/anydns"),
    }


# ------------------------------------------------------------------------------ the clean root

class CleanRoot:
    """scripts/clean-root.sh under `unshare`; commands join it with nsenter."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="anydns-clean-root-"))
        self.err = tempfile.TemporaryFile()
        self.unshare = subprocess.Popen(
            ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
             str(CLEAN_ROOT), str(self.dir)],
            stdout=subprocess.PIPE, stderr=self.err, stdin=subprocess.DEVNULL)
        self.pid = None
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + SETUP_DEADLINE
        sel = selectors.DefaultSelector()
        sel.register(self.unshare.stdout, selectors.EVENT_READ)
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.unshare.poll() is not None:
                raise AssertionError(f"clean root did not come up: {self._stderr()}")
            if sel.select(left):
                chunk = os.read(self.unshare.stdout.fileno(), 1)
                if not chunk:
                    raise AssertionError(f"clean root did not come up: {self._stderr()}")
                line += chunk
        assert line == b"ready\n", f"clean-root.sh said {line!r}: {self._stderr()}"
        # The holder is unshare's only child (PID 1 of the new PID namespace), `sleep` in the chroot.
        children = f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children"
        while not self.pid:
            kids = Path(children).read_text().split()
            if kids and Path(f"/proc/{kids[0]}/root").resolve() != Path("/"):
                self.pid = int(kids[0])
            elif time.monotonic() > deadline:
                raise AssertionError(f"no chrooted holder process under unshare: {self._stderr()}")

    def _stderr(self) -> str:
        self.err.seek(0)
        return self.err.read().decode(errors="replace").strip() or "(no output)"

    def argv(self, command: str) -> list:
        return ["nsenter", "--target", str(self.pid), "--mount", "--net", "--pid", "--root",
                "--wd", "--", "env", "-i", *ROOT_ENV, "bash", "-c", command]

    def run(self, command: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        """Run a shell command as root in the clean root; stdout and stderr together."""
        return subprocess.run(self.argv(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, text=True, timeout=timeout)

    def check(self, command: str) -> str:
        r = self.run(command)
        assert r.returncode == 0, f"`{command}` exited {r.returncode}:\n{r.stdout}"
        return r.stdout

    def path(self, inside: str) -> Path:
        """A path of the clean root seen from the host (through the holder's root)."""
        return Path(f"/proc/{self.pid}/root") / inside.lstrip("/")

    def close(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, 9)  # PID 1 of the namespace: everything in it dies
            except ProcessLookupError:
                pass
        if self.unshare.poll() is None:
            self.unshare.kill()
        self.unshare.wait(timeout=30)
        self.unshare.stdout.close()
        # The namespace, and with it every mount, is gone once its last process is.
        deadline = time.monotonic() + 30
        while self.pid and Path(f"/proc/{self.pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pid = None
        if self.dir.exists():
            self.dir.rmdir()  # fails loudly if anything was left in it
        self.err.close()


class PackageRoot:
    """The .deb, the host's state before, and the clean root, set up on first use. A missing
    prerequisite (root, a tool, the .deb) is remembered and FAILS every test that uses it
    (never a skip, never an error in a fixture), as conftest.ServerHandle does."""

    def __init__(self):
        self.deb = self.before = self.root = self.error = None
        self.transcript = []

    def get(self) -> "PackageRoot":
        if self.root is None and self.error is None:
            try:
                if os.geteuid() != 0:
                    raise Missing("the package test needs root (namespaces, overlayfs, chroot)")
                missing = [t for t in ("unshare", "nsenter", "setpriv", "dpkg-deb", "ip", "dig",
                                       "curl") if not shutil.which(t)]
                if missing:
                    raise Missing(f"missing tools {missing}: run scripts/install-deps.sh test")
                self.deb = deb_path()
                self.before = host_state()
                self.root = CleanRoot()
            except (Missing, AssertionError) as e:
                self.error = str(e)
        if self.error:
            pytest.fail(self.error, pytrace=False)
        return self

    def close(self) -> None:
        if self.root is not None and self.root.pid:
            self.root.close()


@pytest.fixture(scope="module")
def package_root():
    handle = PackageRoot()
    yield handle
    handle.close()


# ------------------------------------------------------------------------------ the walkthrough

def walkthrough_commands() -> list:
    """The commands of Deploy/README.md's walkthrough, in order: every ```sh block between the
    walkthrough markers, split into commands (a line; a here-document runs to its end marker)."""
    text = DEPLOY_README.read_text()
    m = re.search(r"<!-- walkthrough:begin -->(.*?)<!-- walkthrough:end -->", text, re.S)
    assert m, "Deploy/README.md has no <!-- walkthrough:begin --> ... <!-- walkthrough:end -->"
    blocks = re.findall(r"^```sh\n(.*?)^```", m.group(1), re.S | re.M)
    assert blocks, "the walkthrough has no ```sh blocks"
    commands = []
    for block in blocks:
        lines = block.splitlines()
        while lines:
            line = lines.pop(0)
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            command = [line]
            heredoc = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
            if heredoc:
                while lines:
                    command.append(lines.pop(0))
                    if command[-1].strip() == heredoc.group(1):
                        break
            commands.append("\n".join(command))
    return commands


def answer(root: CleanRoot, args: str) -> tuple:
    """(status, flags, answer rdata list) of a dig query in the clean root."""
    out = root.run(f"dig +time=1 +tries=1 +norecurse +nocookie {args}", timeout=10).stdout
    status = re.search(r"status: (\w+)", out)
    flags = re.search(r";; flags: ([a-z ]+);", out)
    records = re.findall(r"^\S+\s+\d+\s+IN\s+\S+\s+(.+)$", out.split("ANSWER SECTION:")[-1], re.M) \
        if "ANSWER SECTION:" in out else []
    return (status.group(1) if status else None, flags.group(1).split() if flags else [],
            records, out)


def zone_rdata(name: str, rdtype: str) -> list:
    """The records the example zone (Zones/any.zone, installed as /etc/anydns/zones/any.zone)
    holds for name/type, as dig prints their data."""
    zone = dns.zone.from_file(str(ANY_ZONE), origin="any.", relativize=False)
    rdataset = zone.get_rdataset(dns.name.from_text(name), dns.rdatatype.from_text(rdtype))
    assert rdataset, f"{name} {rdtype} not in {ANY_ZONE}"
    return sorted(rd.to_text() for rd in rdataset)


def wait_until_serving(root: CleanRoot, server: subprocess.Popen, log: Path) -> float:
    """Poll dig and /readyz in the clean root until both answer; seconds it took."""
    start = time.monotonic()
    last = "nothing yet"
    while time.monotonic() - start < ANSWER_DEADLINE:
        if server.poll() is not None:
            pytest.fail(f"anydns exited {server.returncode} before answering; its log:\n"
                        f"{log.read_text()}", pytrace=False)
        status, _, records, last = answer(root, "@127.0.0.1 www.njust.edu.any A")
        if status == "NOERROR" and records:
            ready = root.run("curl -s -o /dev/null -w '%{http_code}' "
                             "http://127.0.0.1:8053/readyz", timeout=10).stdout
            if ready == "200":
                return time.monotonic() - start
            last = f"/readyz answered {ready}"
        time.sleep(0.1)  # poll interval; the condition above is what is waited for
    pytest.fail(f"no answer within {ANSWER_DEADLINE} s ({last}); anydns log:\n{log.read_text()}",
                pytrace=False)


# ------------------------------------------------------------------------------ tests

def test_clean_root_has_no_swift_toolchain(package_root):
    """The machine the package is tried on has no Swift: no `swift`, no runtime library
    anywhere (ldconfig's cache or the file system), and no anydns before the install."""
    root = package_root.get().root
    r = root.run("command -v swift swiftc")
    assert r.returncode != 0 and r.stdout == "", f"swift is visible in the clean root: {r.stdout}"
    r = root.run("ldconfig -p")
    assert r.returncode == 0 and "libc.so.6" in r.stdout, r.stdout
    assert "swift" not in r.stdout.lower(), f"ldconfig -p lists Swift libraries:\n{r.stdout}"
    found = root.check("find / -xdev \\( -name 'libswiftCore.so*' -o -name 'libFoundation.so*' \\)"
                       " -print")
    assert found == "", f"Swift runtime libraries in the clean root:\n{found}"
    r = root.run("command -v anydns; dpkg -s anydns")
    assert r.returncode != 0, f"anydns is already there:\n{r.stdout}"


def test_new_operator_walkthrough(package_root):
    """Deploy/README.md's "New operator walkthrough", command by command, in the clean root."""
    pkg = package_root.get()
    root, transcript = pkg.root, pkg.transcript
    shutil.copy(pkg.deb, root.path("/tmp") / pkg.deb.name)
    commands = walkthrough_commands()
    background = [c for c in commands if c.rstrip().endswith("&")]
    assert len(background) == 1, f"expected one command starting the server, got {background}"
    server = None
    log = Path(tempfile.mkdtemp(prefix="anydns-package-log-")) / "anydns.log"
    try:
        for command in commands:
            transcript.append(f"$ {command}")
            if command in background:
                with open(log, "wb") as out:
                    server = subprocess.Popen(
                        root.argv("exec " + command.rstrip().rstrip("&").rstrip()),
                        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                took = wait_until_serving(root, server, log)
                transcript.append(f"[test: dig and /readyz answered {took:.2f} s after start]")
                check_server_process(root)
                continue
            r = root.run(command)
            if r.stdout.strip():
                transcript.append(r.stdout.rstrip("\n"))
            assert r.returncode == 0, f"`{command}` exited {r.returncode}:\n{r.stdout}"
            if command.startswith("kill"):
                assert server is not None, "the walkthrough stops a server it did not start"
                try:
                    code = server.wait(timeout=STOP_DEADLINE)
                except subprocess.TimeoutExpired:
                    pytest.fail(f"anydns still running {STOP_DEADLINE} s after SIGTERM; log:\n"
                                f"{log.read_text()}", pytrace=False)
                transcript.append(f"[test: anydns exited {code}]")
                assert code == 0, f"anydns exited {code} after SIGTERM; log:\n{log.read_text()}"
        assert server is not None and server.poll() == 0, "the walkthrough never stopped anydns"
        transcript.append("[anydns's log (standard error) meanwhile:]")
        transcript.append(log.read_text().rstrip("\n"))
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        text = "\n".join(transcript) + "\n"
        print(text)
        if os.environ.get("ANYDNS_WALKTHROUGH_OUT"):
            Path(os.environ["ANYDNS_WALKTHROUGH_OUT"]).write_text(text)
        shutil.rmtree(log.parent, ignore_errors=True)
    # What the walkthrough's queries printed, checked against the zone it serves.
    out = "\n".join(transcript)
    assert "status: NOERROR" in out and "10.53.0.80" in out, out
    assert '"site-a"' in out, "id.server did not name the identity from /etc/default/anydns"


def check_server_process(root: CleanRoot) -> None:
    """While the walkthrough's server runs: it is the anydns user with only
    CAP_NET_BIND_SERVICE (as the unit runs it), and it answers as the example zone says."""
    uid = root.check("id -u anydns").strip()
    status = root.check('cat /proc/"$(pidof anydns)"/status')
    assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", status, re.M), status
    cap_eff = int(re.search(r"^CapEff:\s+([0-9a-f]+)$", status, re.M).group(1), 16)
    assert cap_eff == 1 << 10, f"effective capabilities {cap_eff:#x}, not CAP_NET_BIND_SERVICE"

    status, flags, records, out = answer(root, "@127.0.0.1 www.njust.edu.any A")
    assert (status, "aa" in flags) == ("NOERROR", True), out
    assert sorted(records) == zone_rdata("www.njust.edu.any.", "A"), out
    status, flags, records, out = answer(root, "@::1 www.njust.edu.any AAAA +tcp")
    assert (status, "aa" in flags) == ("NOERROR", True), out
    assert sorted(records) == zone_rdata("www.njust.edu.any.", "AAAA"), out
    status, _, records, out = answer(root, "@127.0.0.1 nosuch.njust.edu.any A")
    assert status == "NXDOMAIN" and records == [], out


def test_installed_package(package_root):
    """Where the package put things, as Deploy/README.md and the unit say (after the
    walkthrough installed it)."""
    root = package_root.get().root
    # The anydns system user and group, created by postinst.
    user = root.check("getent passwd anydns").strip().split(":")
    assert user[5:] == ["/var/lib/anydns", "/usr/sbin/nologin"], user
    assert int(user[2]) < 1000, f"anydns is not a system user: {user}"
    assert root.check("getent group anydns").startswith("anydns:")
    assert root.check("stat -c '%U:%G %a' /var/lib/anydns").strip() == "anydns:anydns 750"

    files = root.check("dpkg -L anydns").split()
    for path in ("/usr/bin/anydns", "/lib/systemd/system/anydns.service",
                 "/etc/anydns/anydns.yaml", "/etc/anydns/zones/any.zone",
                 "/etc/anydns/zones/example.com.zone", "/usr/share/doc/anydns/README.md",
                 "/usr/share/doc/anydns/Deploy/README.md", "/usr/share/doc/anydns/Deploy/anydns.yaml",
                 "/usr/share/doc/anydns/Zones/any.zone"):
        assert path in files, f"{path} not in the package: {files}"
        assert root.path(path).is_file(), f"{path} is listed but not installed"
    # What every Debian package carries (policy 12.5, 12.7).
    for path in ("/usr/share/doc/anydns/copyright", "/usr/share/doc/anydns/changelog.Debian.gz"):
        assert path in files, f"{path} not in the package"
    copyright_text = root.path("/usr/share/doc/anydns/copyright").read_text()
    assert copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
    changelog = gzip.decompress(root.path("/usr/share/doc/anydns/changelog.Debian.gz").read_bytes()).decode()
    assert changelog.startswith(f"anydns ({version()}-"), changelog.splitlines()[0]
    conffiles = root.check("dpkg-query -W -f='${Conffiles}' anydns")
    for path in ("/etc/anydns/anydns.yaml", "/etc/anydns/zones/any.zone"):
        assert path in conffiles, f"{path} is not a conffile: {conffiles}"
    depends = root.check("dpkg-query -W -f='${Depends}' anydns")
    for package in ("libldns3", "libssl3", "libc6"):
        assert package in depends, f"Depends lacks {package}: {depends}"
    # One cryptography stack (docs/ARCHITECTURE.md): OpenSSL, through libldns and directly.
    assert "sodium" not in depends, f"Depends names libsodium: {depends}"

    assert root.check("anydns --version").startswith(f"anydns {version()} (commit ")
    root.check("anydns check-config /etc/anydns/anydns.yaml")
    ldd = root.check("ldd /usr/bin/anydns")
    assert "not found" not in ldd and "swift" not in ldd.lower(), ldd

    # The unit's command lines name the installed binary and configuration, and the walkthrough
    # starts exactly the unit's ExecStart.
    unit = root.path("/lib/systemd/system/anydns.service").read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", unit, re.M).group(1)
    assert exec_start == "/usr/bin/anydns serve --config /etc/anydns/anydns.yaml", exec_start
    assert re.search(r"^ExecStartPre=/usr/bin/anydns check-config /etc/anydns/anydns.yaml$",
                     unit, re.M), unit
    starts = [c for c in walkthrough_commands() if c.rstrip().endswith("&")]
    assert starts and exec_start in starts[0], f"walkthrough does not run ExecStart: {starts}"
    assert "User=anydns" in unit and "AmbientCapabilities=CAP_NET_BIND_SERVICE" in unit


def test_lintian_finds_no_errors():
    """The .deb as Debian's archive checks it: lintian reports no error (warnings are printed)."""
    lintian = shutil.which("lintian")
    assert lintian, "lintian is missing: ./scripts/install-deps.sh package installs it"
    run = subprocess.run([lintian, "--fail-on", "error", "--no-tag-display-limit", str(deb_path())],
                         capture_output=True, text=True, timeout=600)
    print(run.stdout)
    errors = [line for line in run.stdout.splitlines() if line.startswith("E: ")]
    assert run.returncode == 0 and not errors, f"lintian errors:\n{run.stdout}{run.stderr}"


def test_host_untouched(package_root):
    """After the clean root is gone: no mount left behind, the host's dpkg database, users and
    /usr/bin unchanged (dpkg and useradd worked on the overlay only)."""
    pkg = package_root.get()
    directory = pkg.root.dir
    pkg.close()
    assert not directory.exists()
    mounts = Path("/proc/self/mountinfo").read_text() + Path("/proc/1/mountinfo").read_text()
    assert "anydns-clean-root" not in mounts and str(directory) not in mounts, mounts
    assert host_state() == pkg.before
    assert pkg.before["dpkg -s anydns"] != 0, "anydns is installed on the host itself"
