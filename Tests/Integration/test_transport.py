"""Transport and operations behaviour of the real binary: TCP limits (RFC 7766 §6.2), isolation
of UDP from slow TCP clients, and SIGHUP reload keeping the old data when a zone breaks.

Synchronisation waits on observable conditions (a reply, EOF, a log line) with deadlines,
never on fixed sleeps."""
from __future__ import annotations

import signal
import subprocess
import socket
import struct
import time
from pathlib import Path

import dns.flags
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


def udp_sockets_on(port: int, pid: int) -> int:
    """How many UDP sockets of process `pid` are bound to 127.0.0.1:`port` (from `ss`)."""
    out = subprocess.run(["ss", "-H", "-u", "-a", "-n", "-p", "src", f"127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if f"pid={pid}," in line)


def test_udp_workers_share_the_address_and_every_one_answers(tmp_path):
    """--workers 4: four SO_REUSEPORT sockets on each address; queries from many source ports
    (which the kernel spreads over the four) all get the right answer."""
    zone_file = tmp_path / "reload.test.zone"
    write_zone(zone_file, 7)
    server = start_anydns([Zone("reload.test.", zone_file)], extra_args=("--workers", "4"))
    try:
        assert udp_sockets_on(server.port, server.proc.pid) == 4
        clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(32)]
        for number, client in enumerate(clients):
            client.settimeout(3)
            query = dns.message.make_query("www.reload.test.", "A")
            query.id = number
            client.sendto(query.to_wire(), (LOOPBACK_V4, server.port))
        for number, client in enumerate(clients):
            reply = dns.message.from_wire(client.recv(512))
            assert reply.id == number
            assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
            assert [rr.to_text() for rr in reply.answer[0]] == ["192.0.2.80"]
            assert reply.answer[0].ttl == 300
            client.close()
    finally:
        server.stop()


def test_a_burst_from_one_socket_is_answered_in_full_and_in_kind(tmp_path):
    """200 queries sent back to back from one socket fill several recvmmsg batches; every one is
    answered once, matching its own question (existing name, NXDOMAIN, malformed → FORMERR)."""
    zone_file = tmp_path / "reload.test.zone"
    write_zone(zone_file, 8)
    server = start_anydns([Zone("reload.test.", zone_file)], extra_args=("--workers", "1"))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    client.settimeout(5)
    try:
        expected = {}
        for number in range(200):
            kind = number % 3
            if kind == 2:
                wire = struct.pack("!HHHHHH", number, 0, 1, 0, 0, 0) + b"\x05trunc"  # cut-off name
                expected[number] = (dns.rcode.FORMERR, None)
            else:
                name = "www.reload.test." if kind == 0 else f"nx{number}.reload.test."
                query = dns.message.make_query(name, "A")
                query.id = number
                wire = query.to_wire()
                expected[number] = ((dns.rcode.NOERROR, "192.0.2.80") if kind == 0
                                    else (dns.rcode.NXDOMAIN, None))
            client.sendto(wire, (LOOPBACK_V4, server.port))
        seen = set()
        for _ in range(200):
            data = client.recv(4096)
            number = struct.unpack("!H", data[:2])[0]
            assert number not in seen, f"reply {number} came twice"
            seen.add(number)
            rcode, address = expected[number]
            assert data[3] & 0x0F == rcode, f"query {number}: rcode {data[3] & 0x0F}, want {rcode}"
            if address:
                reply = dns.message.from_wire(data)
                assert [rr.to_text() for rr in reply.answer[0]] == [address]
        assert seen == set(range(200))
    finally:
        client.close()
        server.stop()
