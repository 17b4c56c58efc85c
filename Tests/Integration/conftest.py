"""Shared fixtures for the anydns integration and differential tests.

Run from the repository root:

    /usr/bin/python3 -m pytest Tests/Integration

Environment:
    ANYDNS_BIN      the anydns binary (default: <repo>/.build/debug/anydns)
    ANYDNS_SUBJECT  which server plays "anydns" in the serving tests: anydns (default),
                    knot or nsd. `knot`/`nsd` start a separate instance of that reference
                    server instead, to validate the harness itself before anydns exists.
    ANYDNS_SUBJECT_ZONE
                    harness self-check only: serve this file instead of diff.test.zone to
                    the subject (a deliberately altered zone must produce mismatches).

The DNSSEC tests' zones are signed once per session on first use (fixture `signed_zones`,
dnssec_support.py); `signed_servers` and `signed_family_servers` serve them.

Servers are started once per session on free loopback ports (see servers.py) and killed
at teardown. A server that cannot start makes the tests that need it FAIL (not skip)
with the reason, and the reason is computed once, not once per test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import dnssec_support
import servers
from servers import HarnessError, Zone

DIFF_ZONE = Zone("diff.test.", servers.ZONES / "diff.test.zone")
NEG_ZONE = Zone("neg.test.", servers.ZONES / "neg.test.zone")
ANY_ZONE = Zone("any.", servers.REPO / "Zones" / "any.zone")


def subject_kind() -> str:
    """Which implementation is under test: anydns, or a reference server for self-checks."""
    kind = os.environ.get("ANYDNS_SUBJECT", "anydns").strip().lower()
    if kind not in servers.STARTERS:
        raise HarnessError(f"ANYDNS_SUBJECT={kind!r}: expected anydns, knot or nsd")
    return kind


class ServerHandle:
    """Starts a server on first use; remembers a start failure and fails every user with it.

    `zones` is a list of Zone, or a function returning one (called at first use, e.g. after
    the DNSSEC test zones are signed)."""

    def __init__(self, kind: str, zones):
        self.kind = kind
        self.zones = zones
        self._server = None
        self._error = None

    def get(self) -> servers.Server:
        """The running server, or pytest.fail with the reason it is not available."""
        if self._server is None and self._error is None:
            if callable(self.zones):
                self.zones = self.zones()  # may pytest.fail (signing failed): not remembered
            try:
                missing = [z.path for z in self.zones if not Path(z.path).is_file()]
                if missing:
                    raise HarnessError(f"zone file(s) not found: {', '.join(map(str, missing))}")
                self._server = servers.STARTERS[self.kind](self.zones)
            except HarnessError as e:
                self._error = f"{self.kind} could not be started: {e}"
        if self._error:
            pytest.fail(self._error, pytrace=False)
        if not self._server.alive():
            pytest.fail(f"{self.kind} died (exit {self._server.proc.returncode}); log:\n"
                        f"{self._server.log_tail()}", pytrace=False)
        return self._server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


@pytest.fixture(scope="session")
def reference_servers():
    """NSD and Knot serving diff.test.zone: {"nsd": handle, "knot": handle}."""
    handles = {"nsd": ServerHandle("nsd", [DIFF_ZONE]),
               "knot": ServerHandle("knot", [DIFF_ZONE])}
    yield handles
    for h in handles.values():
        h.stop()


@pytest.fixture(scope="session")
def subject_server():
    """The server under test (anydns unless ANYDNS_SUBJECT says otherwise) serving diff.test."""
    override = os.environ.get("ANYDNS_SUBJECT_ZONE")
    zone = Zone(DIFF_ZONE.origin, Path(override)) if override else DIFF_ZONE
    handle = ServerHandle(subject_kind(), [zone])
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def cli_server():
    """The server under test serving diff.test.zone and neg.test.zone (two zones at once)."""
    handle = ServerHandle(subject_kind(), [DIFF_ZONE, NEG_ZONE])
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def any_tld_server():
    """The server under test serving the shipped `.any` zone, Zones/any.zone."""
    handle = ServerHandle(subject_kind(), [ANY_ZONE])
    yield handle
    handle.stop()


# ------------------------------------------------------------------ signed (DNSSEC) zones

class SignedZoneSet:
    """The DNSSEC test zones, signed on first use (dnssec_support.sign_all) into a temp dir;
    a signing failure (missing ldns tool, ...) is remembered and FAILS every user."""

    def __init__(self):
        self._zones = None
        self._error = None
        self.workdir = None

    def get(self) -> dict:
        """{denial: dnssec_support.SignedZone} for "nsec", "nsec3" and "optout"."""
        if self._zones is None and self._error is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="anydns-dnssec-"))
            try:
                self._zones = dnssec_support.sign_all(self.workdir)
            except HarnessError as e:
                self._error = f"signing the DNSSEC test zones failed: {e}"
        if self._error:
            pytest.fail(self._error, pytrace=False)
        return self._zones

    def parents(self) -> list:
        """The three signed zones nsec.test., nsec3.test. and optout.test."""
        return [z.zone for z in self.get().values()]

    def family(self) -> list:
        """The three signed zones, their signed children secure.<zone> and their unsigned
        children insecure.<zone>: one server authoritative for parent and child."""
        zones = self.get().values()
        return ([z.zone for z in zones] + [z.child.zone for z in zones]
                + [z.insecure_child for z in zones])

    def cleanup(self) -> None:
        if self.workdir and not os.environ.get("ANYDNS_KEEP_TMP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def signed_zones():
    zones = SignedZoneSet()
    yield zones
    zones.cleanup()


@pytest.fixture(scope="session")
def signed_servers(signed_zones):
    """The subject (anydns), NSD and Knot serving the three signed zones:
    {"anydns": handle, "nsd": handle, "knot": handle} ("anydns" is ANYDNS_SUBJECT's kind)."""
    yield from _three_servers(signed_zones.parents)


@pytest.fixture(scope="session")
def signed_family_servers(signed_zones):
    """As signed_servers, each also serving the child zones (SignedZoneSet.family)."""
    yield from _three_servers(signed_zones.family)


def _three_servers(zones):
    """Handles of the subject, NSD and Knot serving `zones`, stopped when the session ends."""
    handles = {"anydns": ServerHandle(subject_kind(), zones), "nsd": ServerHandle("nsd", zones),
               "knot": ServerHandle("knot", zones)}
    yield handles
    for h in handles.values():
        h.stop()


def anydns_binary_or_fail() -> Path:
    """Path of the anydns binary; FAILS the calling test (never skips, never errors in a
    fixture) with a build hint when it is missing."""
    try:
        return servers.require_anydns()
    except HarnessError as e:
        pytest.fail(str(e), pytrace=False)


# ------------------------------------------------------------------ differential summary

@dataclass
class DiffRecord:
    """One corpus entry's outcome, for the end-of-run summary."""
    kind: str          # "query", "malformed" or "signed" (a DNSSEC-signed zone)
    label: str
    matched: bool
    subject: str
    nsd: str
    knot: str
    note: str = ""


@dataclass
class DiffCollector:
    """Collects every differential case's result during the session."""
    records: list = field(default_factory=list)

    def add(self, record: DiffRecord) -> None:
        self.records.append(record)


COLLECTOR = DiffCollector()


@pytest.fixture(scope="session")
def diff_collector():
    return COLLECTOR


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print `differential: M/N matched` and a table of mismatches."""
    recs = COLLECTOR.records
    if not recs:
        return
    tr = terminalreporter
    try:
        who = subject_kind()
    except HarnessError:
        who = "subject"
    if who != "anydns":
        who = f"subject ({who})"
    matched = sum(r.matched for r in recs)
    tr.section("differential summary")
    for kind in ("query", "malformed", "signed"):
        sub = [r for r in recs if r.kind == kind]
        if sub:
            tr.write_line(f"  {kind:9s}: {sum(r.matched for r in sub)}/{len(sub)} matched")
    tr.write_line(f"differential: {matched}/{len(recs)} matched ({who} vs NSD/Knot)")
    bad = [r for r in recs if not r.matched]
    if bad:
        tr.write_line("")
        tr.write_line(f"mismatches ({len(bad)}):")
        for r in bad:
            tr.write_line(f"- {r.kind} {r.label}" + (f"   [{r.note}]" if r.note else ""))
            tr.write_line(f"    {'anydns' if who == 'anydns' else 'subject':6s}: {r.subject}")
            tr.write_line(f"    nsd   : {r.nsd}")
            tr.write_line(f"    knot  : {r.knot}")
