"""A reload never holds up a drain (README "Signals"): SIGTERM turns /readyz to 503 at once, even
while SIGHUP is reloading a large zone, so the announcer withdraws a stopping site without waiting
for the reload. Ordering is read from the server's own log, never from timings."""
from __future__ import annotations

import signal

from test_operations import ready, start_site, wait_for

BIG_NAMES = 300_000


def big_zone(serial: int) -> str:
    lines = ["$ORIGIN big.test.", "$TTL 300",
             f"@ SOA ns1 hostmaster {serial} 3600 900 604800 60", "@ NS ns1", "ns1 A 192.0.2.1"]
    lines += [f"h{i} A 192.0.{(i >> 8) & 255}.{i & 255}" for i in range(BIG_NAMES)]
    return "\n".join(lines) + "\n"


def test_sigterm_during_a_reload_drains_at_once(tmp_path):
    (tmp_path / "big.test.zone").write_text(big_zone(1))
    site = start_site(tmp_path, "lame-duck: 1\n", args=())
    config = tmp_path / "anydns.yaml"
    config.write_text(config.read_text().replace(
        "zones:\n", "zones:\n  - origin: big.test.\n    file: big.test.zone\n"))
    try:
        site.proc.send_signal(signal.SIGHUP)  # takes the big zone in: the first reload
        wait_for(lambda: "reloaded" in site.log.read_text(), "the first reload", deadline=120)
        wait_for(lambda: ready(site), "/readyz 200 with the big zone", deadline=60)
        assert site.ask("127.0.0.53", "h77.big.test.", "A").answer[0][0].to_text() == "192.0.0.77"

        (tmp_path / "big.test.zone").write_text(big_zone(2))
        site.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: site.log.read_text().count("SIGHUP: reloading") == 2, "the second reload to start")
        site.proc.send_signal(signal.SIGTERM)
        status, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(site.http("/readyz")),
                                "/readyz 503 after SIGTERM")
        log = site.log.read_text()
        assert body == "not ready: draining\n", body
        # The second reload is still under way: the drain did not wait for it.
        assert log.count("reloaded") == 1, log[-3000:]
        assert log.index("SIGTERM: draining") > log.rindex("SIGHUP: reloading")
        assert site.proc.wait(timeout=120) == 0
    finally:
        site.stop()
