"""Group "big": the 1M zone, start to first answer and memory, UDP throughput, and a reload under
load; and the start-up table, which puts the 10k zone's start-up beside the 1M zone's.

Method: each server starts on its own copy of the zone (start to first answer and PSS, as in
measure.py), dnsperf runs --seconds of UDP, and then the reload under load: dnsperf at
--reload-qps for --reload-seconds while every --reload-every seconds the zone file is rewritten
(new file + rename, so the mtime changes) with the next SOA serial and the server is sent SIGHUP
(servers.py says what each server does with it). After the run the script waits until the last
serial is served (with a timeout): that checks the reloads really happened. Targets: anydns
starts and answers no later than NSD, with no more PSS, and loses no query and returns no
SERVFAIL during the reloads.
"""
import os
import time

from benchlib import BenchError, log, size_label
from benchlib.dnsperf import Dnsperf
from benchlib.dnsquery import served_serial, wait_for_serial
from benchlib.measure import measure_startup, measure_throughput
from benchlib.report import Target, find_row, fmt, markdown_table, server_rows, throughput_table

NAME = "big"
DESCRIPTION = "1M zone: start-up, UDP, reload under load"
ZONE = "big"
RELOAD_SETTLE_TIMEOUT = 180.0  # seconds to wait for the last serial after a reload run


def run(bench):
    zone = bench.zone(ZONE)
    bench.measure_each_server(f"{size_label(bench.args.big_names)} zone ({zone.records:,} records): start-up, UDP, "
                              "reload under load", measure_server, zone)


def measure_server(server, zone, args, results):
    results["startup"].append(measure_startup(server, zone, "big"))
    results["throughput"].append(measure_throughput(server, zone, args, "udp-big"))
    results["reload"].append(measure_reload(server, zone, args))


def measure_reload(server, zone, args):
    """dnsperf at a fixed rate while the zone's serial is bumped and the server reloaded."""
    output = os.path.join(server.dir, "dnsperf-reload.out")
    perf = Dnsperf(server.port, zone.query_file, output, args.reload_seconds, args.clients,
                   args.outstanding, qps=args.reload_qps)
    serial, requests, seen = 1, 0, set()
    next_reload = perf.started + args.reload_every
    while not perf.finished():
        if time.monotonic() >= next_reload:
            serial += 1
            zone.write(server.zone_file, serial)
            server.reload()
            requests += 1
            next_reload += args.reload_every
        current = served_serial(server.port, zone.origin, timeout=0.2)
        if current is not None:
            seen.add(current)
        time.sleep(0.2)
    row = perf.wait()
    settle = wait_for_serial(server.port, zone.origin, serial, RELOAD_SETTLE_TIMEOUT)
    if not server.alive():
        raise BenchError(f"{server.name} died during the reload run:\n{server.log_tail()}")
    row.update({
        "test": "reload-big",
        "server": server.name,
        "servfail": row["rcodes"].get("SERVFAIL", 0),
        "reloads_requested": requests,
        "serials_seen_during_run": len(seen - {1}),
        "final_serial": serial,
        "final_serial_served": settle is not None,
        "final_serial_after_s": settle,
    })
    log(f"  {server.name} reload: lost {row['lost']}, SERVFAIL {row['servfail']}, "
        f"{requests} reloads, final serial {serial} {'served' if settle is not None else 'NOT served'}")
    return row


def report(bench):
    """The start-up table when the small or the big group ran, then the big group's tables."""
    args, results, names = bench.args, bench.results, bench.args.servers
    sections = []
    if bench.ran("small") or bench.ran(NAME):
        sections.append(f"\n## Start to first answer and proportional memory (PSS)\n\n"
                        f"{startup_table(results, names, args)}")
    if bench.ran(NAME):
        sections.append(f"\n## UDP, {size_label(args.big_names)}-name zone\n\n"
                        f"{throughput_table(results, 'udp-big', names)}")
        sections.append(f"\n## Reload under load, {size_label(args.big_names)}-name zone: dnsperf -Q "
                        f"{args.reload_qps} for {args.reload_seconds} s, new serial + SIGHUP every "
                        f"{args.reload_every:g} s\n\n{reload_table(results, names)}")
    return sections


def targets(bench):
    startup, found = bench.results["startup"], []
    any_big, nsd_big = find_row(startup, "anydns", zone="big"), find_row(startup, "nsd", zone="big")
    if any_big and nsd_big:
        found.append(Target("big zone start to first answer ≤ NSD",
                            any_big["first_answer_s"] <= nsd_big["first_answer_s"],
                            f"{any_big['first_answer_s']:.2f} s vs {nsd_big['first_answer_s']:.2f} s"))
        found.append(Target("big zone PSS ≤ NSD", any_big["pss_mib"] <= nsd_big["pss_mib"],
                            f"{any_big['pss_mib']:.1f} MiB vs {nsd_big['pss_mib']:.1f} MiB"))
    else:
        found.append(Target("big zone start-up and PSS ≤ NSD", None, "needs anydns and NSD, big zone"))
    any_reload = find_row(bench.results["reload"], "anydns")
    if any_reload:
        found.append(Target("reload under load: 0 lost, 0 SERVFAIL (and the last serial served)",
                            any_reload["lost"] == 0 and any_reload["servfail"] == 0
                            and any_reload["final_serial_served"],
                            f"lost {any_reload['lost']}, SERVFAIL {any_reload['servfail']}, final serial "
                            f"{'served' if any_reload['final_serial_served'] else 'not served'}"))
    else:
        found.append(Target("reload under load: 0 lost, 0 SERVFAIL", None, "needs anydns, big zone"))
    return found


def startup_table(results, servers, args):
    rows = []
    for name in servers:
        small = find_row(results["startup"], name, zone="small")
        big = find_row(results["startup"], name, zone="big")
        rows.append([name, fmt(small and small["first_answer_s"], 2), fmt(small and small["pss_mib"], 1),
                     fmt(big and big["first_answer_s"], 2), fmt(big and big["pss_mib"], 1)])
    small_label, big_label = size_label(args.names), size_label(args.big_names)
    headers = ["server", f"{small_label} zone: start to first answer (s)", f"{small_label} PSS (MiB)",
               f"{big_label} zone: start to first answer (s)", f"{big_label} PSS (MiB)"]
    return markdown_table(headers, rows)


def reload_table(results, servers):
    rows = []
    for name, row in server_rows(results["reload"], servers):
        served = "yes" if row["final_serial_served"] else "no"
        if row["final_serial_served"]:
            served += f" ({row['final_serial_after_s']:.1f} s after the run)"
        rows.append([name, fmt(row["sent"]), fmt(row["answered"]), fmt(row["lost"]), fmt(row["servfail"]),
                     fmt(row["max_latency_ms"], 1), fmt(row["p99_latency_ms"], 3), row["reloads_requested"],
                     row["serials_seen_during_run"], f"{row['final_serial']}: {served}"])
    headers = ["server", "sent", "answered", "lost", "SERVFAIL", "worst latency ms", "p99 ms",
               "reloads requested", "new serials seen during run", "final serial served"]
    return markdown_table(headers, rows)
