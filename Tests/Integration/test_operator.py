"""What an operator coming from NSD and Knot DNS relies on (README "Signals", "Control", "Logs",
"Management HTTP"): SIGHUP re-reads the whole configuration, `anydns ctl` drives a running server,
`--version` names the build, self-probe queries are not client queries, and `/health` never
contradicts itself.

Every server here is the real binary on loopback; waiting is on a condition with a deadline."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import dns.edns
import dns.message
import dns.opcode
import dns.rcode
import pytest

import transfer_support as ts
from conftest import anydns_binary_or_fail
from servers import free_port
from test_operations import ZONE, Site, ready, start_site, wait_for

REPO = Path(__file__).resolve().parents[2]


def ctl(site: Site, *args: str, port: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(anydns_binary_or_fail()), "ctl", "--management", f"{site.http_host}:{port or site.http_port}", *args],
        capture_output=True, text=True, timeout=60)


def txt(site: Site, name: str) -> list:
    reply = site.ask("127.0.0.53", name, "TXT", "CH")
    return [rr.to_text() for rr in reply.answer[0]] if reply.answer else [dns.rcode.to_text(reply.rcode())]


def config_path(site: Site) -> Path:
    return site.zone_file.parent / "anydns.yaml"


def edit_config(site: Site, *replacements: tuple) -> None:
    path = config_path(site)
    text = path.read_text()
    for old, new in replacements:
        assert old in text, f"{old!r} not in the configuration:\n{text}"
        text = text.replace(old, new)
    path.write_text(text)


# --- SIGHUP re-reads the whole configuration --------------------------------------------------

def test_sighup_applies_what_can_change_and_names_what_needs_a_restart(tmp_path):
    site = start_site(tmp_path, "identity:\n  name: site-one\n  version: hidden\n  nsid: true\n"
                      "limits:\n  tcp-connections: 1000\nlame-duck: 0\n", args=())
    try:
        wait_for(lambda: ready(site), "/readyz 200")
        assert txt(site, "id.server.") == ['"site-one"']
        assert txt(site, "version.bind.") == ["REFUSED"]
        flag = tmp_path / "planned-work"
        edit_config(site, ("site-one", "site-two"), ("version: hidden", "version: anydns-test"),
                    ("nsid: true", "nsid: false"), ("tcp-connections: 1000", "tcp-connections: 7"),
                    (f"port: {site.dns_port}", f"port: {site.dns_port + 1}"),
                    (f"http-port: {site.http_port}", f"http-port: {site.http_port + 1}"),
                    ("lame-duck: 0", f"lame-duck: 0\nmaintenance-file: {flag}"))
        site.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: site.metric('anydns_reloads_total{result="ok"}') == 1, "the reload counted")
        assert txt(site, "id.server.") == ['"site-two"']
        assert txt(site, "version.bind.") == ['"anydns-test"']
        reply = site.ask("127.0.0.53", nsid=True)
        assert not [o for o in reply.options if o.otype == dns.edns.NSID], "NSID turned off by the reload"
        health = json.loads(site.http("/health")[1])
        assert health["defences"]["tcpConnections"] == 7
        assert health["maintenanceFile"] == str(flag)
        assert health["lastReload"]["ok"] is True and health["degraded"] is False
        # The maintenance file configured by the reload is honoured.
        flag.write_text("")
        assert site.http("/readyz") == (503, f"not ready: maintenance file {flag} present\n")
        flag.unlink()
        # Sockets stay: the old DNS and HTTP ports still serve, and the log names the keys.
        log = site.log.read_text()
        assert "reload: dns.port changed: needs a restart (the running value stays)" in log
        assert "reload: management.http-port changed: needs a restart (the running value stays)" in log
        assert site.ask("127.0.0.53").rcode() == dns.rcode.NOERROR
    finally:
        site.stop()


@pytest.mark.parametrize("bad, error", [
    ("bogus: 1\n", "bogus: unknown key"),
    ("limits:\n  tcp-connections: 0\n", "limits.tcp-connections: expected a whole number from 1 to 100000, got 0"),
    ("dns: [\n", "not valid YAML"),
])
def test_a_configuration_that_cannot_be_read_fails_the_reload_and_changes_nothing(tmp_path, bad, error):
    site = start_site(tmp_path, "identity:\n  name: site-one\n", args=())
    try:
        wait_for(lambda: ready(site), "/readyz 200")
        good = config_path(site).read_text()
        config_path(site).write_text(good.replace("site-one", "site-two") + bad)
        site.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: site.metric('anydns_reloads_total{result="failed"}') == 1, "a failed reload counted")
        health = json.loads(site.http("/health")[1])
        assert health["degraded"] is True
        assert health["lastReload"]["ok"] is False and error in health["lastReload"]["error"], health
        assert site.metric("anydns_degraded") == 1
        assert txt(site, "id.server.") == ['"site-one"'], "the running configuration stays"
        assert ready(site), "a failed reload keeps the site serving and announced"
        assert "keeping the running configuration" in site.log.read_text()

        config_path(site).write_text(good.replace("site-one", "site-three"))
        site.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: site.metric('anydns_reloads_total{result="ok"}') == 1, "the good reload counted")
        assert txt(site, "id.server.") == ['"site-three"']
        health = json.loads(site.http("/health")[1])
        assert health["degraded"] is False and health["lastReload"]["ok"] is True
    finally:
        site.stop()


# --- anydns ctl ----------------------------------------------------------------------------------

def test_ctl_status_reload_and_zone_commands_on_a_primary(tmp_path):
    site = start_site(tmp_path, f"maintenance-file: {tmp_path}/maintenance\nlame-duck: 0\n")
    try:
        wait_for(lambda: ready(site), "/readyz 200")
        status = ctl(site, "status")
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert re.fullmatch(r"version: \d+\.\d+\.\d+ \(commit \S+\)", lines[0]), lines
        assert lines[1:5] == ["state: ready", "ready: yes", "degraded: no", "zones: 1 (1 served)"]

        zone_status = ctl(site, "zone-status")
        assert zone_status.returncode == 0
        assert zone_status.stdout == f"[ops.test.] role: master | serial: 1 | source: {site.zone_file}\n"
        assert ctl(site, "zone-status", "ops.test").stdout == zone_status.stdout

        site.zone_file.write_text(ZONE.format(serial=2))
        reloaded = ctl(site, "zone-reload", "ops.test")
        assert (reloaded.returncode, reloaded.stdout) == (0, "zone ops.test. reloaded, serial 2\n")
        assert site.ask("127.0.0.53", "ops.test.", "SOA").answer[0][0].serial == 2

        site.zone_file.write_text(ZONE.format(serial=3) + "www CNAME elsewhere.example.\n")
        broken = ctl(site, "zone-reload", "ops.test.")
        assert broken.returncode == 1
        assert "error: zone ops.test. failed to load, previous version kept:" in broken.stderr
        assert "CNAME and other data" in broken.stderr
        assert site.ask("127.0.0.53", "ops.test.", "SOA").answer[0][0].serial == 2

        site.zone_file.write_text(ZONE.format(serial=4))
        whole = ctl(site, "reload")
        assert (whole.returncode, whole.stdout) == (0, "reloaded: 1 zone(s)\n"), whole.stderr
        assert site.ask("127.0.0.53", "ops.test.", "SOA").answer[0][0].serial == 4

        for command, message in [
            (("zone-reload", "nowhere.test"), "error: no such zone: nowhere.test.\n"),
            (("zone-refresh", "ops.test"), "error: zone ops.test. is not a secondary zone\n"),
            (("zone-retransfer", "ops.test"), "error: zone ops.test. is not a secondary zone\n"),
            (("zone-notify", "ops.test"), "error: zone ops.test. is not served or has no notify targets\n"),
            (("zone-status", "nowhere.test"), "error: no such zone: nowhere.test.\n"),
        ]:
            result = ctl(site, *command)
            assert (result.returncode, result.stderr) == (1, message), command

        # With --config, ctl finds the management HTTP as serve does: the configuration's
        # http-port, the address from ANYDNS_MANAGEMENT (here given to serve as --management).
        by_config = subprocess.run(
            [str(anydns_binary_or_fail()), "ctl", "--config", str(config_path(site)), "zone-status"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "ANYDNS_MANAGEMENT": site.http_host})
        assert (by_config.returncode, by_config.stdout) == (0, f"[ops.test.] role: master | serial: 4 | source: {site.zone_file}\n")

        (tmp_path / "maintenance").write_text("")
        not_ready = ctl(site, "status")
        assert not_ready.returncode == 1
        assert f"ready: no (maintenance file {tmp_path}/maintenance present)" in not_ready.stdout.splitlines()
        assert "state: not-ready" in not_ready.stdout.splitlines()
    finally:
        site.stop()
    down = ctl(site, "status")
    assert down.returncode == 1
    assert down.stderr.startswith(f"error: cannot reach the management HTTP at {site.http_host}:{site.http_port}: ")
    assert "Connection refused" in down.stderr


def receive_notify(listener: socket.socket, origin: str) -> int:
    """Waits (with the socket's timeout) for a NOTIFY for `origin`, acknowledges it as a
    secondary does (RFC 1996 §4.7), and returns the serial it carries."""
    while True:
        wire, peer = listener.recvfrom(65535)
        message = dns.message.from_wire(wire)
        if message.opcode() == dns.opcode.NOTIFY and message.question[0].name.to_text() == origin:
            listener.sendto(dns.message.make_response(message).to_wire(), peer)
            return message.answer[0][0].serial


def test_ctl_zone_refresh_retransfer_and_notify_between_two_anydns(tmp_path):
    """A primary notifies a secondary that does not accept its NOTIFY (no allow-notify), so only
    `ctl zone-refresh` makes the secondary catch up; a third notify target, played by this test,
    sees the NOTIFY that `ctl zone-notify` asks for."""
    primary_port, secondary_port = free_port(), free_port()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(15)
    zone = tmp_path / "p" / "ctl.test.zone"
    zone.parent.mkdir()
    zone.write_text(ts.zone_text("ctl.test.", 1, "www A 192.0.2.1\n"))
    primary = ts.start_anydns(tmp_path / "p", f"""
acls:
  - name: loopback
    address: [127.0.0.0/8]
remotes:
  - name: secondary
    address: ["127.0.0.1:{secondary_port}"]
  - name: watcher
    address: ["127.0.0.1:{listener.getsockname()[1]}"]
zones:
  - origin: ctl.test.
    file: {zone}
    allow-transfer: [loopback]
    notify: [secondary, watcher]
""", name="primary", port=primary_port)
    secondary = ts.start_anydns(tmp_path / "s", f"""
remotes:
  - name: primary
    address: ["127.0.0.1:{primary_port}"]
zones:
  - origin: ctl.test.
    primaries: [primary]
""", name="secondary", port=secondary_port)
    try:
        watch = (primary, secondary)
        ts.wait_for(lambda: secondary.serial("ctl.test.") == 1, "the first transfer", watch=watch)
        as_site = lambda server: Site(server.proc, server.port, "127.0.0.1", server.http_port, zone, server.log)
        axfr_in = 'anydns_transfers_total{direction="in",type="AXFR",result="ok"}'
        before = secondary.metric(axfr_in)
        result = ctl(as_site(secondary), "zone-retransfer", "ctl.test")
        assert (result.returncode, result.stdout) == (0, "OK\n"), result.stderr
        ts.wait_for(lambda: secondary.metric(axfr_in) == before + 1, "one more AXFR", watch=watch)

        zone.write_text(ts.zone_text("ctl.test.", 2, "www A 192.0.2.2\n"))
        assert ctl(as_site(primary), "zone-reload", "ctl.test").returncode == 0
        assert receive_notify(listener, "ctl.test.") == 2, "the reload notifies"
        ts.wait_for(lambda: "NOTIFY refused" in secondary.log.read_text(), "the refused NOTIFY", watch=watch)
        assert secondary.serial("ctl.test.") == 1, "NOTIFY refused: the secondary waits for its refresh timer"
        result = ctl(as_site(secondary), "zone-refresh", "ctl.test.")
        assert (result.returncode, result.stdout) == (0, "OK\n"), result.stderr
        ts.wait_for(lambda: secondary.serial("ctl.test.") == 2, "serial 2 after zone-refresh", watch=watch)
        assert "role: slave | serial: 2" in ctl(as_site(secondary), "zone-status", "ctl.test").stdout

        result = ctl(as_site(primary), "zone-notify", "ctl.test")
        assert (result.returncode, result.stdout) == (0, "OK\n"), result.stderr
        assert receive_notify(listener, "ctl.test.") == 2, "zone-notify sends the serial served"
    finally:
        listener.close()
        secondary.stop()
        primary.stop()


# --- version, metrics, health invariants, logs ----------------------------------------------------

def test_version_is_the_same_in_the_binary_health_and_metrics(site_ready):
    site = site_ready
    printed = subprocess.run([str(anydns_binary_or_fail()), "--version"], capture_output=True, text=True)
    assert printed.returncode == 0
    match = re.fullmatch(r"anydns (\d+\.\d+\.\d+) \(commit (\S+)\)\n", printed.stdout)
    assert match, printed.stdout
    version, commit = match.groups()
    health = json.loads(site.http("/health")[1])
    assert (health["version"], health["commit"]) == (version, commit)
    assert site.metric(f'anydns_build_info{{version="{version}",commit="{commit}"}}') == 1


@pytest.fixture
def site_ready(tmp_path):
    started = start_site(tmp_path, "lame-duck: 0\n")
    wait_for(lambda: ready(started), "/readyz 200")
    yield started
    started.stop()


def test_self_probe_queries_are_counted_apart_from_client_queries(site_ready):
    site = site_ready
    soa = 'anydns_queries_total{transport="udp",qtype="SOA",rcode="NOERROR"}'
    probes = site.metric("anydns_self_probe_queries_total")
    wait_for(lambda: site.metric("anydns_self_probe_queries_total") >= probes + 4, "more self-probe rounds")
    assert site.metric(soa) == 0, "the self-probe's SOA queries are not client queries"
    site.ask("127.0.0.53", "ops.test.", "SOA")
    assert site.metric(soa) == 1


def test_health_state_never_contradicts_readiness(tmp_path):
    broken = start_site(tmp_path, zone_text=ZONE.format(serial=1) + "bad A 1.2.3.4.5\n")
    try:
        wait_for(lambda: json.loads(broken.http("/health")[1])["lastProbe"] is not None, "a probe round")
        health = json.loads(broken.http("/health")[1])
        assert (health["state"], health["ready"], health["reason"]) == (
            "not-ready", False, "zone ops.test. not loaded")
        assert "maintenanceFile" in health and health["maintenanceFile"] is None
    finally:
        broken.stop()


def test_logs_as_json_and_for_the_journal(tmp_path):
    (tmp_path / "json").mkdir()
    json_site = start_site(tmp_path / "json", args=("--log-format", "json"))
    try:
        wait_for(lambda: ready(json_site), "/readyz 200")
        lines = [json.loads(line) for line in json_site.log.read_text().splitlines()]
        assert {"level": "notice", "message": "state loading -> ready"}.items() <= next(
            line for line in lines if line["message"] == "state loading -> ready").items()
        assert all({"time", "level", "priority", "label", "message"} <= line.keys() for line in lines)
    finally:
        json_site.stop()

    # Under systemd, JOURNAL_STREAM names the stream standard error is connected to: the log file here.
    (tmp_path / "journal").mkdir()
    log = tmp_path / "journal" / "anydns.log"
    log.touch()
    status = os.stat(log)
    journal_site = start_site(tmp_path / "journal", env={"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"})
    try:
        wait_for(lambda: ready(journal_site), "/readyz 200")
        lines = journal_site.log.read_text().splitlines()
        assert "<5>state loading -> ready" in lines
        assert all(re.match(r"<[0-7]>", line) for line in lines), lines
    finally:
        journal_site.stop()


def test_readme_configuration_example_is_deploy_anydns_yaml():
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    assert example == (REPO / "Deploy" / "anydns.yaml").read_text()
