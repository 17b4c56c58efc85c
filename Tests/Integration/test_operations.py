"""Anycast operations of the real binary (README "Management HTTP"): listeners on anycast and management
addresses, identity, the health contract for the announcer, drain, maintenance, reload.

Sites here run from a YAML configuration in a temp dir, the way operators run them. Waiting is
always on a condition (an HTTP status, a DNS answer, process exit) with a deadline."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import dns.edns
import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import anydns_binary_or_fail
from servers import free_port, require_tool

ZONE = """$ORIGIN ops.test.
$TTL 300
@    SOA ns1 hostmaster {serial} 3600 900 604800 60
@    NS  ns1
ns1  A   192.0.2.1
www  A   192.0.2.80
"""

# Two loopback addresses share the DNS port as "anycast" addresses, with ::1; the management
# address is a third one.
ANYCAST = ["127.0.0.53", "::1"]
MANAGEMENT = "127.0.0.2"


@dataclass
class Site:
    """One anydns process started from a configuration, as a site runs it."""
    proc: subprocess.Popen
    dns_port: int
    http_host: str
    http_port: int
    zone_file: Path
    log: Path
    prefix: tuple = ()  # `ip netns exec NAME` when the site runs in a namespace

    def http(self, path: str, host: str | None = None) -> tuple[int, str]:
        url = f"http://{host or self.http_host}:{self.http_port}{path}"
        if self.prefix:
            out = subprocess.run([*self.prefix, "curl", "-s", "-w", "\n%{http_code}", url],
                                 capture_output=True, text=True, timeout=10).stdout
            body, _, code = out.rpartition("\n")
            return int(code or 0), body
        try:
            with urllib.request.urlopen(url, timeout=3) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def ask(self, host: str, name: str = "www.ops.test.", rdtype: str = "A",
            rdclass: str = "IN", nsid: bool = False) -> dns.message.Message:
        options = [dns.edns.GenericOption(dns.edns.NSID, b"")] if nsid else None
        query = dns.message.make_query(name, rdtype, rdclass, use_edns=0 if nsid else None,
                                       options=options)
        # ignore_unexpected=False: a reply from any other address than the one queried raises.
        return dns.query.udp(query, host, port=self.dns_port, timeout=3, ignore_unexpected=False)

    def metric(self, line_prefix: str) -> float:
        _, text = self.http("/metrics")
        for line in text.splitlines():
            if line.startswith(line_prefix + " "):
                return float(line.split()[-1])
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for(condition, what: str, deadline: float = 20.0):
    """Polls `condition` until it returns a truthy value or the deadline passes."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            value = condition()
        except (OSError, dns.exception.DNSException):
            value = None
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def start_site(tmp_path: Path, extra: str = "", anycast: list | None = None,
               args: tuple = ("--identity", "site-a"), env: dict | None = None,
               prefix: tuple = (), management: str = MANAGEMENT, zone_text: str | None = None,
               origin: str = "ops.test.") -> Site:
    """Writes a zone and a configuration into tmp_path and starts `anydns serve` from them."""
    binary = anydns_binary_or_fail()
    zone_file = tmp_path / f"{origin}zone"
    zone_file.write_text(zone_text or ZONE.format(serial=1))
    dns_port, http_port = free_port(), free_port()
    addresses = "".join(f"    - '{a}'\n" for a in (ANYCAST if anycast is None else anycast))
    config = tmp_path / "anydns.yaml"
    config.write_text(
        f"dns:\n  port: {dns_port}\n" + (f"  anycast:\n{addresses}" if addresses else "")
        + f"zones:\n  - origin: {origin}\n    file: {origin}zone\n"
        + f"management:\n  http-port: {http_port}\n"
        + "health:\n  probe-interval: 0.2\n  probe-max-age: 2\n  probe-timeout: 0.5\n" + extra)
    log = tmp_path / "anydns.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(prefix) + [str(binary), "serve", "--config", str(config), "--management", management]
            + list(args), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, start_new_session=True)
    site = Site(proc, dns_port, management, http_port, zone_file, log, tuple(prefix))
    wait_for(lambda: proc.poll() is not None or site.http("/livez")[0] == 200, "management HTTP")
    assert proc.poll() is None, f"anydns exited:\n{log.read_text()}"
    return site


@pytest.fixture
def site(tmp_path):
    started = start_site(tmp_path, f"lame-duck: 2\nmaintenance-file: {tmp_path}/maintenance\n")
    yield started
    started.stop()


def ready(site: Site) -> bool:
    return site.http("/readyz") == (200, "ready\n")


# --- listeners and identity ------------------------------------------------------------------

@pytest.mark.parametrize("address", ANYCAST + [MANAGEMENT])
def test_reply_leaves_from_the_address_queried(site, address):
    """Several addresses share one port; each reply's source is the queried address (dnspython
    raises on any other source), and the answer is right."""
    reply = site.ask(address)
    assert reply.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rr in reply.answer[0]] == ["192.0.2.80"]


def test_identity_is_given_by_id_server_hostname_bind_and_nsid_rfc4892_rfc5001(site):
    for name in ("id.server.", "hostname.bind."):
        reply = site.ask("127.0.0.53", name, "TXT", "CH")
        assert [rr.to_text() for rr in reply.answer[0]] == ['"site-a"']
    reply = site.ask("127.0.0.53", nsid=True)
    nsid = [o for o in reply.options if o.otype == dns.edns.NSID]
    assert nsid and nsid[0].to_wire() == b"site-a"


def test_identity_and_management_can_come_from_the_environment(tmp_path):
    site = start_site(tmp_path, args=(), env={"ANYDNS_IDENTITY": "site-env"}, management="127.0.0.3")
    try:
        # --management given as the flag here; the identity only from the environment.
        reply = site.ask("127.0.0.3", "id.server.", "TXT", "CH")
        assert [rr.to_text() for rr in reply.answer[0]] == ['"site-env"']
    finally:
        site.stop()


def test_hidden_version_is_refused(site):
    assert site.ask("127.0.0.53", "version.bind.", "TXT", "CH").rcode() == dns.rcode.REFUSED


def test_management_http_is_not_reachable_on_the_anycast_address(site):
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.53:{site.http_port}/readyz", timeout=2)


# --- health contract --------------------------------------------------------------------------

def test_ready_site_reports_health_and_metrics(site):
    wait_for(lambda: ready(site), "/readyz 200")
    assert site.http("/livez") == (200, "ok\n")
    status, body = site.http("/health")
    assert status == 200
    health = json.loads(body)
    assert health["state"] == "ready" and health["ready"] is True and health["degraded"] is False
    assert [(z["origin"], z["serial"], z["errors"]) for z in health["zones"]] == [("ops.test.", 1, [])]
    assert health["lastProbe"]["ok"] is True
    assert f"127.0.0.53:{site.dns_port}" in health["listeners"]

    counter = 'anydns_queries_total{transport="udp",qtype="A",rcode="NOERROR"}'
    before = site.metric(counter)
    for _ in range(3):
        site.ask("127.0.0.53")
    assert site.metric(counter) == before + 3
    assert site.metric('anydns_zone_serial{zone="ops.test."}') == 1
    assert site.metric('anydns_state{state="ready"}') == 1


def test_sigterm_drains_readyz_fails_at_once_dns_keeps_answering_then_exit_0(site):
    wait_for(lambda: ready(site), "/readyz 200")
    site.proc.send_signal(signal.SIGTERM)
    status, reason = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(site.http("/readyz")),
                              "/readyz 503 after SIGTERM")
    assert reason == "not ready: draining\n"
    # Lame duck: still answering DNS while the announcer withdraws.
    reply = site.ask("127.0.0.53")
    assert [rr.to_text() for rr in reply.answer[0]] == ["192.0.2.80"]
    assert site.proc.wait(timeout=30) == 0
    log = site.log.read_text()
    assert "state ready -> draining" in log and "state draining -> stopped" in log


def test_maintenance_file_forces_503_while_present(site, tmp_path):
    wait_for(lambda: ready(site), "/readyz 200")
    flag = tmp_path / "maintenance"
    flag.write_text("planned work\n")
    status, body = site.http("/readyz")
    assert status == 503 and "maintenance" in body
    flag.unlink()
    assert site.http("/readyz") == (200, "ready\n")


def test_failed_reload_keeps_old_data_stays_ready_and_is_reported(site):
    wait_for(lambda: ready(site), "/readyz 200")
    site.zone_file.write_text(ZONE.format(serial=2) + "www CNAME elsewhere.example.\n")
    site.proc.send_signal(signal.SIGHUP)
    failed = 'anydns_reloads_total{result="failed"}'
    wait_for(lambda: site.metric(failed) == 1, "a failed reload in the metrics")
    health = json.loads(site.http("/health")[1])
    assert health["degraded"] is True
    assert health["zones"][0]["serial"] == 1
    assert any(f"{site.zone_file}:7: error: CNAME and other data" in e for e in health["zones"][0]["errors"])
    assert [rr.to_text() for rr in site.ask("127.0.0.53").answer[0]] == ["192.0.2.80"]
    assert ready(site), "a degraded site keeps serving and stays ready"

    site.zone_file.write_text(ZONE.format(serial=2))
    site.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: site.metric('anydns_reloads_total{result="ok"}') == 1, "a good reload")
    assert json.loads(site.http("/health")[1])["degraded"] is False
    assert site.ask("127.0.0.53", "ops.test.", "SOA").answer[0][0].serial == 2


def test_unloaded_zone_makes_readyz_fail(tmp_path):
    site = start_site(tmp_path, zone_text=ZONE.format(serial=1) + "bad A 1.2.3.4.5\n")
    try:
        status, body = wait_for(lambda: (lambda r: r if r[0] == 503 and "zone" in r[1] else None)(
            site.http("/readyz")), "/readyz 503 for the missing zone")
        assert body == "not ready: zone ops.test. not loaded\n"
    finally:
        site.stop()


# --- an anycast address that appears later (IP_FREEBIND), inside a namespace of our own --------

def test_listener_binds_an_address_before_it_exists_and_answers_once_added(tmp_path):
    """The announcer's script may add the anycast address after anydns starts: binding must
    succeed (IP_FREEBIND), the self-probe fails (/readyz 503) until the address appears, then
    the site becomes ready and answers on it."""
    ip = require_tool("ip")
    namespace = f"anydns-test-{uuid.uuid4().hex[:8]}"
    subprocess.run([ip, "netns", "add", namespace], check=True)
    site = None
    try:
        run_in = (ip, "netns", "exec", namespace)
        subprocess.run([*run_in, ip, "link", "set", "lo", "up"], check=True)
        site = start_site(tmp_path, anycast=["10.53.77.1"], management="127.0.0.1", prefix=run_in)

        def readyz() -> tuple[int, str]:
            return site.http("/readyz")

        status, body = wait_for(lambda: (lambda r: r if r[0] == 503 and "self-probe" in r[1] else None)(
            readyz()), "/readyz 503 while the anycast address is missing")
        assert "10.53.77.1" in body
        subprocess.run([*run_in, ip, "addr", "add", "10.53.77.1/32", "dev", "lo"], check=True)
        wait_for(lambda: readyz()[0] == 200, "/readyz 200 once the address exists")
        dig = require_tool("dig")
        answer = subprocess.run([*run_in, dig, "@10.53.77.1", "-p", str(site.dns_port), "+short",
                                 "www.ops.test."], capture_output=True, text=True, timeout=10).stdout
        assert answer.split() == ["192.0.2.80"]
    finally:
        if site:
            site.stop()
        subprocess.run([ip, "netns", "delete", namespace], check=False)


# --- configuration checks ---------------------------------------------------------------------

def test_check_config_accepts_the_deploy_example():
    binary = anydns_binary_or_fail()
    example = Path(__file__).resolve().parents[2] / "Deploy" / "anydns.yaml"
    result = subprocess.run([str(binary), "check-config", str(example)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
    # The listeners serve really opens: anycast 127.0.0.1 and ::1, management 127.0.0.1 (the same).
    assert result.stdout.rstrip().endswith("2 listener(s): 127.0.0.1:5300, [::1]:5300"), result.stdout


def test_check_config_names_the_bad_key(tmp_path):
    binary = anydns_binary_or_fail()
    config = tmp_path / "bad.yaml"
    config.write_text("dns:\n  anycast: [10.53.0.1]\n  prot: 53\n")
    result = subprocess.run([str(binary), "check-config", str(config)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{config}: dns.prot: unknown key" in result.stderr


def test_default_udp_workers_follow_the_cpu_affinity(tmp_path):
    """Under `taskset -c 0` the default is one UDP worker, and the log says how it was chosen
    (README "Commands", `--workers`)."""
    import servers
    from transfer_support import wait_for
    port, http_port = free_port(), free_port()
    zone = servers.Zone("example.com.", servers.REPO / "Zones" / "example.com.zone")
    argv = [require_tool("taskset"), "-c", "0", str(anydns_binary_or_fail()), "serve",
            "--listen", f"127.0.0.1:{port}", "--http-port", str(http_port),
            "--zone", f"{zone.origin}={zone.path}"]
    server = servers._spawn("anydns", argv, tmp_path, port, [zone], False, 0, None)
    try:
        line = lambda: next((l for l in server.logfile.read_text().splitlines() if "serving DNS" in l), None)
        wait_for(lambda: line() is not None, "the 'serving DNS' log line")
        assert "udp-workers=1 " in line(), line()
        assert "udp-workers-from=usable CPUs: affinity 1 of " in line(), line()
    finally:
        server.stop()


def test_a_busy_management_port_says_which_flag_or_key_changes_it(tmp_path):
    import socket
    import servers
    zone = servers.Zone("example.com.", servers.REPO / "Zones" / "example.com.zone")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        http_port = busy.getsockname()[1]
        result = subprocess.run([str(anydns_binary_or_fail()), "serve", "--listen", f"127.0.0.1:{free_port()}",
                                 "--http-port", str(http_port), "--zone", f"{zone.origin}={zone.path}"],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert (f"management HTTP on 127.0.0.1:{http_port}: " in result.stderr
            and "(address already in use: choose another with --http-port or management.http-port, "
                "or another address with --management or management.address)" in result.stderr), result.stderr
