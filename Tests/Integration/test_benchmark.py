"""The side-by-side benchmark (Benchmarks/bench.py, `make bench`) keeps working: a quick run
with tiny zones must start NSD, Knot DNS and anydns, get correct answers from each over UDP and
TCP, and see every reload served. Only content is checked here; speed is never asserted."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from servers import require_anydns, require_tool

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_runs_all_three_servers_and_reports_every_measure(tmp_path):
    for tool in ("dnsperf", "nsd", "knotd", "taskset"):
        require_tool(tool)
    report = tmp_path / "bench.json"
    run = subprocess.run(
        ["/usr/bin/python3", str(REPO / "Benchmarks" / "bench.py"), "--quick",
         "--anydns", str(require_anydns()), "--json", str(report)],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"bench.py failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    results = json.loads(report.read_text())
    assert results["errors"] == []
    servers = {"nsd", "knot", "anydns"}
    for test in ("udp-small", "tcp-small", "udp-big"):
        rows = {row["server"]: row for row in results["throughput"] if row["test"] == test}
        assert set(rows) == servers, f"{test}: rows for {sorted(rows)}"
        for server, row in rows.items():
            assert row["answered"] > 0, f"{test} {server}: nothing answered"
            # The query mix has existing names and NXDOMAIN names; nothing else may come back.
            assert set(row["rcodes"]) == {"NOERROR", "NXDOMAIN"}, f"{test} {server}: {row['rcodes']}"
            assert row["cpu_us_per_query"] > 0
            # The user and kernel columns split the total, nothing more or less.
            split = row["user_us_per_query"] + row["system_us_per_query"]
            assert abs(split - row["cpu_us_per_query"]) < 1e-6, f"{test} {server}: {split} vs {row['cpu_us_per_query']}"
    startup = {(row["server"], row["zone"]): row for row in results["startup"]}
    for server in servers:
        for zone in ("small", "big"):
            assert startup[(server, zone)]["first_answer_s"] > 0
            assert startup[(server, zone)]["pss_mib"] > 0
    reloads = {row["server"]: row for row in results["reload"]}
    assert set(reloads) == servers
    for server, row in reloads.items():
        assert row["final_serial_served"], f"{server} did not serve the last reloaded serial"
        assert row["servfail"] == 0, f"{server}: {row}"
    # Losing nothing during a reload is anydns's promise (README "Signals"). NSD reloads by forking
    # a new server process and now and then drops the queries in flight at that moment (36 of
    # 4,563 in one run here), which is NSD's behaviour, not the benchmark's: it is shown in the
    # table, not asserted.
    assert reloads["anydns"]["lost"] == 0, f"anydns: {reloads['anydns']}"
    # Rate limiting rows: the accounting cost at a rate nobody reaches, and the flood.
    rrl = {row["server"]: row for row in results["throughput"] if row["test"] == "udp-rrl"}
    assert set(rrl) == servers
    assert all(row["answered"] > 0 for row in rrl.values())
    floods = {row["server"]: row for row in results["flood"]}
    assert set(floods) == servers
    flood = floods["anydns"]
    # The legitimate client is never limited (no TC); a debug build pinned to one core may lose a
    # query in the kernel under a flood dnsperf sends as fast as it can, which is not RRL's doing.
    assert flood["legit_sent"] > 0 and flood["legit_truncated"] == 0, flood
    assert flood["legit_answered"] >= 0.9 * flood["legit_sent"], flood
    assert 0 < flood["flood_responses"] < flood["flood_sent"], flood
    assert "Targets" in run.stdout and "| anydns" in run.stdout
