"""Transport and operations behaviour of the real binary: TCP limits (RFC 7766 §6.2), isolation
of UDP from slow TCP clients, and SIGHUP reload keeping the old data when a zone breaks.

Synchronisation waits on observable conditions (a reply, EOF, a log line) with deadlines,
never on fixed sleeps."""
from __future__ import annotations

import signal
import socket
import struct
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from servers import LOOPBACK_V4, Zone, start_anydns

ZONE_TEMPLATE = """$ORIGIN reload.test.
$TTL 300
@    SOA ns1 hostmaster {serial} 3600 900 604800 60
@    NS  ns1
ns1  A   192.0.2.1
www  A   {address}
"""


def write_zone(path: Path, serial: int, address: str = "192.0.2.80", broken: bool = False) -> None:
    text = ZONE_TEMPLATE.format(serial=serial, address=address)
    if broken:
        text += "www  CNAME elsewhere.example.\n"  # CNAME beside other data: the zone must be refused
    path.write_text(text)


def start_with_config(tmp_path: Path, limits: str) -> tuple:
    zone_file = tmp_path / "reload.test.zone"
    write_zone(zone_file, 1)
    config = tmp_path / "anydns.yaml"
    config.write_text(f"limits:\n{limits}")
    server = start_anydns([Zone("reload.test.", zone_file)], extra_args=("--config", str(config)))
    return server, zone_file


def udp_ask(server, name: str, rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, LOOPBACK_V4, port=server.port, timeout=3)


def wait_until(condition, what: str, deadline: float = 15.0):
    """Polls `condition` until it returns a truthy value or the deadline passes."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def serial_of(server) -> int:
    reply = udp_ask(server, "reload.test.", "SOA")
    return reply.answer[0][0].serial


def log_count(server, text: str) -> int:
    return server.logfile.read_text(errors="replace").count(text)


@pytest.fixture
def limited_server(tmp_path):
    server, _ = start_with_config(tmp_path, "  tcp-connections: 2\n  tcp-idle-timeout: 1\n")
    yield server
    server.stop()


def test_slow_tcp_client_does_not_stall_udp_or_other_tcp_clients(limited_server):
    """A client that sends half a length prefix and stops must not delay anyone else."""
    slow = socket.create_connection((LOOPBACK_V4, limited_server.port), timeout=5)
    slow.sendall(b"\x00")
    reply = udp_ask(limited_server, "www.reload.test.")
    assert reply.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rr in reply.answer[0]] == ["192.0.2.80"]
    tcp_reply = dns.query.tcp(dns.message.make_query("www.reload.test.", "A"), LOOPBACK_V4,
                              port=limited_server.port, timeout=3)
    assert [rr.to_text() for rr in tcp_reply.answer[0]] == ["192.0.2.80"]
    slow.close()


def test_idle_tcp_connection_is_closed_by_the_server_rfc7766(limited_server):
    """With tcp-idle-timeout 1 s the server closes a silent connection (EOF, not our timeout)."""
    idle = socket.create_connection((LOOPBACK_V4, limited_server.port), timeout=10)
    try:
        assert idle.recv(1) == b"", "server sent data on an idle connection"
    except socket.timeout:
        pytest.fail("idle connection was not closed within 10 s")
    finally:
        idle.close()


def test_connections_over_the_limit_are_closed_at_once(tmp_path):
    server, _ = start_with_config(tmp_path, "  tcp-connections: 2\n  tcp-idle-timeout: 30\n")
    try:
        held = [socket.create_connection((LOOPBACK_V4, server.port), timeout=5) for _ in range(2)]
        # Each held connection must be accepted and served before the third arrives.
        for connection in held:
            wire = dns.message.make_query("www.reload.test.", "A").to_wire()
            connection.sendall(struct.pack("!H", len(wire)) + wire)
            assert len(connection.recv(2)) == 2
        extra = socket.create_connection((LOOPBACK_V4, server.port), timeout=5)
        wire = dns.message.make_query("www.reload.test.", "A").to_wire()
        try:
            extra.sendall(struct.pack("!H", len(wire)) + wire)
            assert extra.recv(2) == b"", "a connection over the limit was served"
        except ConnectionResetError:
            pass  # closed by the server: what we want
        extra.close()
        for connection in held:
            connection.close()
    finally:
        server.stop()


def test_sighup_reloads_a_changed_zone_and_keeps_the_old_one_when_broken(tmp_path):
    server, zone_file = start_with_config(tmp_path, "  tcp-idle-timeout: 10\n")
    try:
        assert serial_of(server) == 1
        write_zone(zone_file, 2, address="192.0.2.81")
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: serial_of(server) == 2, "serial 2 after SIGHUP")
        assert [rr.to_text() for rr in udp_ask(server, "www.reload.test.").answer[0]] == ["192.0.2.81"]

        reloads = log_count(server, "reloaded")
        write_zone(zone_file, 3, broken=True)
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: log_count(server, "reloaded") > reloads, "the second reload to finish")
        assert serial_of(server) == 2, "a broken zone must keep serving its previous version"
        log = server.logfile.read_text(errors="replace")
        assert f"{zone_file}:7: error: CNAME and other data" in log
        assert server.alive()
    finally:
        server.stop()
