"""The zone lifecycle's registry (README "Signals", docs/ARCHITECTURE.md "The life of a zone"): a
configuration reload that adds a secondary zone serves it at once, one that removes a zone stops
serving it at once, and its primaries can change, all without a restart."""
from __future__ import annotations

import dns.rcode

import transfer_support as ts
from servers import free_port


def test_reload_adds_changes_and_removes_zones_without_a_restart(tmp_path):
    primary_port = free_port()
    for origin, address in (("one.test.", "192.0.2.1"), ("two.test.", "192.0.2.2")):
        (tmp_path / f"{origin}zone").write_text(ts.zone_text(origin, 7, f"www A {address}\n"))
    primary = ts.start_anydns(tmp_path / "p", f"""
acls:
  - name: loopback
    address: [127.0.0.0/8]
zones:
  - origin: one.test.
    file: {tmp_path}/one.test.zone
    allow-transfer: [loopback]
  - origin: two.test.
    file: {tmp_path}/two.test.zone
    allow-transfer: [loopback]
""", name="primary", port=primary_port)
    (tmp_path / "local.test.zone").write_text(ts.zone_text("local.test.", 1, "www A 192.0.2.9\n"))
    base = f"""
remotes:
  - name: primary
    address: ["127.0.0.1:{primary_port}"]
zones:
  - origin: local.test.
    file: {tmp_path}/local.test.zone
"""
    secondary = ts.start_anydns(tmp_path / "s", base, name="secondary")
    watch = (primary, secondary)
    try:
        ts.wait_for(lambda: secondary.serial("local.test.") == 1, "the file zone", watch=watch)
        assert secondary.rcode("one.test.") == dns.rcode.REFUSED, "not configured yet"

        # Added by a reload: transferred and served, with no restart.
        secondary.config.write_text(base + "  - origin: one.test.\n    primaries: [primary]\n"
                                    "  - origin: two.test.\n    primaries: [primary]\n")
        status, body = secondary.http("/reload", method="POST")
        assert (status, body) == (200, "reloaded: 1 zone(s)\n"), body
        assert "needs a restart" not in secondary.log.read_text()
        ts.wait_for(lambda: secondary.serial("one.test.") == 7 and secondary.serial("two.test.") == 7,
                    "both added zones transferred", watch=watch)
        reply = secondary.query("www.two.test.", "A")
        assert [rr.to_text() for rr in reply.answer[0]] == ["192.0.2.2"]
        assert {z["origin"]: z["role"] for z in secondary.health()["zones"]} == {
            "local.test.": "primary", "one.test.": "secondary", "two.test.": "secondary"}

        # Removed by a reload: no longer served at once (REFUSED, as a zone never configured),
        # and the zones kept keep their data.
        secondary.config.write_text(base + "  - origin: two.test.\n    primaries: [primary]\n")
        status, body = secondary.http("/reload", method="POST")
        assert status == 200, body
        assert secondary.rcode("one.test.") == dns.rcode.REFUSED
        assert secondary.serial("two.test.") == 7
        assert secondary.serial("local.test.") == 1
        assert [z["origin"] for z in secondary.health()["zones"]] == ["local.test.", "two.test."]
        assert "zone removed from the configuration: no longer served" in secondary.log.read_text()
    finally:
        secondary.stop()
        primary.stop()
