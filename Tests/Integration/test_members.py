"""The `.any` member table (README "Anycast services"): members join, report and leave with
TSIG-signed RFC 2136 updates sent by the real `nsupdate`; `dig` sees the least-loaded member, the
member records and the fallback to the anycast address; probes skip a member whose port closes
and bring it back; a service with no reachable member is not ready for its own route.

Members are TCP listeners of this test on loopback addresses; waiting is on a condition."""
from __future__ import annotations

import json
import socket
import subprocess
import uuid
from pathlib import Path

import dns.exception
import pytest

from conftest import anydns_binary_or_fail
from servers import REPO, free_port, require_tool
from test_operations import Site, start_site, wait_for

SERVICE = "www.njust.edu.any."
KEY = "hmac-sha256:www-members:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
OTHER_KEY = "hmac-sha256:mail-members:b3RoZXJvdGhlcm90aGVyb3RoZXJvdGhlcm90aGVyMTI="
WRONG_SECRET = "hmac-sha256:www-members:d3JvbmdzZWNyZXR3cm9uZ3NlY3JldHdyb25nc2VjcmV0"


def services_config(probe: str, lease: int = 30, policy: str = "least-sessions") -> str:
    return f"""keys:
  - name: www-members
    algorithm: hmac-sha256
    secret: {KEY.split(':')[2]}
  - name: mail-members
    algorithm: hmac-sha256
    secret: {OTHER_KEY.split(':')[2]}
services:
  - name: {SERVICE}
    anycast: [10.53.0.80, "2001:db8:53::80"]
    keys: [www-members]
    policy: {policy}
    probe: {probe}
    probe-interval: 0.2
    lease: {lease}
"""


def any_site(tmp_path: Path, probe: str, lease: int = 30, prefix: tuple = (), management: str = "127.0.0.2",
             anycast: list | None = None, extra: str = "") -> Site:
    zone = (REPO / "Zones" / "any.zone").read_text()
    return start_site(tmp_path, services_config(probe, lease) + extra, prefix=prefix, management=management,
                      anycast=anycast, zone_text=zone, origin="any.")


def nsupdate(site: Site, commands: str, key: str | None = KEY, prefix: tuple = ()) -> subprocess.CompletedProcess:
    script = f"check-names no\nserver 127.0.0.53 {site.dns_port}\n{commands}\nsend\n"
    argv = [*prefix, require_tool("nsupdate")] + (["-y", key] if key else [])
    return subprocess.run(argv, input=script, capture_output=True, text=True, timeout=30)


def join(site: Site, member: str, address: str, sessions: int | None = None, **kw) -> None:
    owner = f"{member}._members.{SERVICE}"
    commands = f"update add {owner} 30 {'AAAA' if ':' in address else 'A'} {address}"
    if sessions is not None:
        commands += f"\nupdate delete {owner} TXT\nupdate add {owner} 30 TXT \"sessions={sessions}\""
    result = nsupdate(site, commands, **kw)
    assert result.returncode == 0, result.stderr


def dig(site: Site, name: str, rdtype: str = "A", prefix: tuple = (), server: str = "127.0.0.53") -> list:
    out = subprocess.run([*prefix, require_tool("dig"), f"@{server}", "-p", str(site.dns_port), name, rdtype,
                          "+noall", "+answer", "+comments"], capture_output=True, text=True, timeout=10).stdout
    status = next((line.split("status: ")[1].split(",")[0] for line in out.splitlines() if "status: " in line), None)
    answers = [line.split()[-1] if rdtype != "TXT" else line.split("\tTXT\t")[-1]
               for line in out.splitlines() if line and not line.startswith(";")]
    return [status] + answers


def answers_for(site: Site, queries: int = 20) -> set:
    return {tuple(dig(site, SERVICE)[1:]) for _ in range(queries)}


class Listener:
    """A member's service port: a TCP listener on a loopback address."""
    def __init__(self, address: str, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(16)

    def close(self):
        self.sock.close()


@pytest.fixture
def members_site(tmp_path):
    port = free_port()
    site = any_site(tmp_path, f"tcp:{port}")
    site.probe_port = port
    listeners = [Listener(f"127.0.0.{n}", port) for n in (11, 12, 13)]
    yield site, listeners
    site.stop()
    for listener in listeners:
        listener.close()


def test_least_sessions_follows_the_reported_counts(members_site):
    site, _ = members_site
    # No member yet: the anycast address, and the service is not ready for its route.
    assert dig(site, SERVICE) == ["NOERROR", "10.53.0.80"]
    assert dig(site, SERVICE, "AAAA") == ["NOERROR", "2001:db8:53::80"]
    assert site.http(f"/services/{SERVICE}/readyz") == (
        503, f"not ready: no member of {SERVICE} at this site\n")

    join(site, "a1", "127.0.0.11", sessions=5)
    join(site, "a2", "127.0.0.12", sessions=2)
    wait_for(lambda: dig(site, SERVICE) == ["NOERROR", "127.0.0.12"], "the member with fewer sessions")
    assert site.http(f"/services/{SERVICE}/readyz") == (200, "ready\n")
    assert dig(site, f"a1._members.{SERVICE}", "TXT") == ["NOERROR", '"sessions=5" "reachable=yes"']
    assert dig(site, f"a2._members.{SERVICE}", "A") == ["NOERROR", "127.0.0.12"]
    assert dig(site, f"a9._members.{SERVICE}", "A") == ["NXDOMAIN"]

    # a2 gets busy: the answer moves to a1 (a report replaces the count, it does not add).
    join(site, "a2", "127.0.0.12", sessions=123)
    assert dig(site, SERVICE) == ["NOERROR", "127.0.0.11"]
    assert dig(site, f"a2._members.{SERVICE}", "TXT") == ["NOERROR", '"sessions=123" "reachable=yes"']
    # A tie is spread over both.
    join(site, "a2", "127.0.0.12", sessions=5)
    wait_for(lambda: answers_for(site) == {("127.0.0.11",), ("127.0.0.12",)}, "both tied members answered")

    # Leaving: a1 goes, a2 is answered; the member name is gone.
    result = nsupdate(site, f"update delete a1._members.{SERVICE}")
    assert result.returncode == 0, result.stderr
    assert dig(site, SERVICE) == ["NOERROR", "127.0.0.12"]
    assert dig(site, f"a1._members.{SERVICE}", "TXT") == ["NXDOMAIN"]
    # A short TTL: the client asks again for its next session.
    out = subprocess.run([require_tool("dig"), "@127.0.0.53", "-p", str(site.dns_port), SERVICE, "+noall", "+answer"],
                         capture_output=True, text=True).stdout
    assert out.split()[1] == "5", out


@pytest.mark.parametrize("why, key, commands, expected", [
    ("unsigned", None, f"update add a3._members.{SERVICE} 30 A 127.0.0.13", "REFUSED"),
    ("a key not allowed for the service", OTHER_KEY, f"update add a3._members.{SERVICE} 30 A 127.0.0.13", "REFUSED"),
    ("a wrong secret", WRONG_SECRET, f"update add a3._members.{SERVICE} 30 A 127.0.0.13", "NOTAUTH"),
    ("not a member record", KEY, f"update add {SERVICE} 30 A 127.0.0.13", "REFUSED"),
    ("a member record with another type", KEY, f"update add a3._members.{SERVICE} 30 MX 10 a3.example.", "REFUSED"),
    ("a member label with a newline", KEY, f"update add a\\010b._members.{SERVICE} 30 A 127.0.0.13", "REFUSED"),
    ("a member plus another name", KEY,
     f"update add a3._members.{SERVICE} 30 A 127.0.0.13\nupdate add x.njust.edu.any. 30 A 127.0.0.13", "REFUSED"),
])
def test_updates_that_are_not_allowed_change_nothing(members_site, why, key, commands, expected):
    site, _ = members_site
    join(site, "a1", "127.0.0.11", sessions=1)
    before = subprocess.run([str(anydns_binary_or_fail()), "members", "--management",
                             f"{site.http_host}:{site.http_port}"], capture_output=True, text=True).stdout
    result = nsupdate(site, commands, key=key)
    assert result.returncode != 0, why
    assert expected in result.stdout + result.stderr, (why, result.stdout, result.stderr)
    assert dig(site, f"a3._members.{SERVICE}") == ["NXDOMAIN"], why
    assert dig(site, SERVICE) == ["NOERROR", "127.0.0.11"], why
    assert dig(site, "x.njust.edu.any.")[0] == "NXDOMAIN", why
    after = subprocess.run([str(anydns_binary_or_fail()), "members", "--management",
                            f"{site.http_host}:{site.http_port}"], capture_output=True, text=True).stdout
    # The same members, addresses, sessions and reachability (the report age moves on).
    assert [line.split()[:4] for line in after.splitlines()] == [line.split()[:4] for line in before.splitlines()], why


def test_a_member_whose_port_closes_is_skipped_and_comes_back(members_site):
    site, listeners = members_site
    join(site, "a1", "127.0.0.11", sessions=1)
    join(site, "a2", "127.0.0.12", sessions=4)
    wait_for(lambda: dig(site, SERVICE) == ["NOERROR", "127.0.0.11"], "a1, the least loaded")
    listeners[0].close()
    wait_for(lambda: dig(site, SERVICE) == ["NOERROR", "127.0.0.12"], "a2 once the probe finds a1 closed")
    assert dig(site, f"a1._members.{SERVICE}", "TXT") == ["NOERROR", '"sessions=1" "reachable=no"']
    listeners[1].close()
    wait_for(lambda: dig(site, SERVICE) == ["NOERROR", "10.53.0.80"], "the anycast address: no reachable member")
    assert site.http(f"/services/{SERVICE}/readyz") == (
        503, f"not ready: no reachable member of {SERVICE} at this site (2 unreachable)\n")
    listeners[0] = Listener("127.0.0.11", site.probe_port)
    wait_for(lambda: dig(site, SERVICE) == ["NOERROR", "127.0.0.11"], "a1 back once its port answers")
    assert site.http(f"/services/{SERVICE}/readyz") == (200, "ready\n")
    log = site.log.read_text()
    assert "member unreachable" in log and "member reachable again" in log


def test_the_table_in_health_metrics_and_anydns_members(members_site):
    site, _ = members_site
    join(site, "a1", "127.0.0.11", sessions=3)
    join(site, "a2", "127.0.0.12", sessions=4)
    wait_for(lambda: site.metric(f'anydns_service_members_reachable{{service="{SERVICE}"}}') == 2, "the gauges")
    assert site.metric(f'anydns_service_members{{service="{SERVICE}"}}') == 2
    assert site.metric(f'anydns_service_sessions{{service="{SERVICE}"}}') == 7
    health = json.loads(site.http("/health")[1])
    (service,) = health["services"]
    assert (service["name"], service["anycast"], service["policy"], service["reachableMembers"]) == (
        SERVICE, ["10.53.0.80", "2001:db8:53::80"], "least-sessions", 2)
    assert [(m["name"], m["addresses"], m["sessions"], m["reachable"]) for m in service["members"]] == [
        ("a1", ["127.0.0.11"], 3, True), ("a2", ["127.0.0.12"], 4, True)]
    table = subprocess.run([str(anydns_binary_or_fail()), "members", SERVICE, "--management",
                            f"{site.http_host}:{site.http_port}"], capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == (f"service {SERVICE} anycast 10.53.0.80,2001:db8:53::80 policy least-sessions "
                        f"probe tcp:{site.probe_port} lease 30s")
    assert lines[1].split() == ["member", "address", "sessions", "reachable", "last-report"]
    assert [line.split()[:4] for line in lines[2:]] == [["a1", "127.0.0.11", "3", "yes"], ["a2", "127.0.0.12", "4", "yes"]]
    unknown = subprocess.run([str(anydns_binary_or_fail()), "members", "nope.any", "--management",
                              f"{site.http_host}:{site.http_port}"], capture_output=True, text=True)
    assert (unknown.returncode, unknown.stderr) == (1, "error: no such service: nope.any.\n")


def test_a_member_that_stops_reporting_is_dropped_after_its_lease(tmp_path):
    site = any_site(tmp_path, "none", lease=2)
    try:
        join(site, "a1", "127.0.0.11", sessions=1)
        assert dig(site, SERVICE) == ["NOERROR", "127.0.0.11"]
        wait_for(lambda: dig(site, f"a1._members.{SERVICE}")[0] == "NXDOMAIN", "the member dropped", deadline=10)
        assert dig(site, SERVICE) == ["NOERROR", "10.53.0.80"]
        assert "member dropped: no report within the lease" in site.log.read_text()
    finally:
        site.stop()


def test_icmp_probe_inside_a_namespace_of_our_own(tmp_path):
    """ICMP echo: a member on the namespace's loopback answers, one on an address with no route
    does not; the whole test runs in a network namespace made here."""
    ip = require_tool("ip")
    namespace = f"anydns-members-{uuid.uuid4().hex[:8]}"
    subprocess.run([ip, "netns", "add", namespace], check=True)
    site = None
    try:
        run_in = (ip, "netns", "exec", namespace)
        subprocess.run([*run_in, ip, "link", "set", "lo", "up"], check=True)
        site = any_site(tmp_path, "icmp", prefix=run_in, management="127.0.0.1", anycast=["127.0.0.53"])
        join(site, "near", "127.0.0.11", sessions=5, prefix=run_in)
        join(site, "far", "10.99.0.1", sessions=1, prefix=run_in)
        wait_for(lambda: dig(site, SERVICE, prefix=run_in) == ["NOERROR", "127.0.0.11"],
                 "the member that answers ICMP, though it has more sessions")
        assert dig(site, f"far._members.{SERVICE}", "TXT", prefix=run_in) == [
            "NOERROR", '"sessions=1" "reachable=no"']
    finally:
        if site:
            site.stop()
        subprocess.run([ip, "netns", "delete", namespace], check=False)


def test_random_member_names_share_the_zone_s_rate_limiting_bucket(tmp_path):
    """NXDOMAIN under _members is accounted at the zone apex, as on the zone path: random names
    cannot each get a bucket of their own and turn the server into a reflector."""
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode
    site = any_site(tmp_path, "none", extra="rate-limit:\n  responses-per-second: 5\n  slip: 0\n")
    try:
        import time
        answered = 0
        started = time.monotonic()
        for n in range(40):
            query = dns.message.make_query(f"r{n}._members.{SERVICE}", "A")
            try:
                reply = dns.query.udp(query, "127.0.0.53", port=site.dns_port, timeout=0.2)
            except dns.exception.Timeout:
                continue
            assert reply.rcode() == dns.rcode.NXDOMAIN
            answered += 1
        elapsed = time.monotonic() - started
        # Unlimited, all 40 would be answered; at 5/s, about 5 per second of the run.
        assert 0 < answered < 40 and answered <= 5 * (elapsed + 2), \
            f"{answered} of 40 random NXDOMAINs answered in {elapsed:.1f} s at 5/s"
        assert site.metric('anydns_rate_limited_total{action="dropped",class="nxdomain"}') > 0
        # A member's own signed updates are not limited, however many.
        for n in range(12):
            join(site, "a1", "127.0.0.11", sessions=n)
        assert dig(site, f"a1._members.{SERVICE}", "TXT") == ["NOERROR", '"sessions=11" "reachable=yes"']
    finally:
        site.stop()
