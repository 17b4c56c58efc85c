"""Group "small": the 10k zone, start to first answer and memory, then UDP and TCP throughput.

Method: each server starts on its own copy of the zone (start to first answer and PSS, as in
measure.py), then dnsperf runs --seconds of UDP, then --seconds of TCP (dnsperf -m tcp keeps its
connections open, so these are persistent connections). Targets: anydns's UDP CPU time per
query at most 0.8 × the lower of NSD's and Knot's, its UDP QPS at least theirs, and its TCP QPS
at least Knot's.
"""
from benchlib import size_label
from benchlib.measure import measure_startup, measure_throughput
from benchlib.report import Target, find_row, throughput_table

NAME = "small"
DESCRIPTION = "10k zone: start-up, UDP, TCP"
ZONE = "small"


def run(bench):
    zone = bench.zone(ZONE)
    bench.measure_each_server(f"{size_label(bench.args.names)} zone ({zone.records:,} records): start-up, UDP, TCP",
                              measure_server, zone)


def measure_server(server, zone, args, results):
    results["startup"].append(measure_startup(server, zone, "small"))
    results["throughput"].append(measure_throughput(server, zone, args, "udp-small"))
    results["throughput"].append(measure_throughput(server, zone, args, "tcp-small", tcp=True))


def report(bench):
    if not bench.ran(NAME):
        return []
    args, results, names = bench.args, bench.results, bench.args.servers
    return [f"\n## UDP, {size_label(args.names)}-name zone\n\n{throughput_table(results, 'udp-small', names)}",
            f"\n## TCP (persistent connections), {size_label(args.names)}-name zone\n\n"
            f"{throughput_table(results, 'tcp-small', names)}"]


def targets(bench):
    throughput = bench.results["throughput"]
    found = []
    any_udp, nsd_udp, knot_udp = (find_row(throughput, name, "udp-small") for name in ("anydns", "nsd", "knot"))
    if any_udp and nsd_udp and knot_udp:
        best = min(nsd_udp["cpu_us_per_query"], knot_udp["cpu_us_per_query"])
        found.append(Target("anydns UDP CPU/query ≤ 0.8 × min(NSD, Knot)",
                            any_udp["cpu_us_per_query"] <= 0.8 * best,
                            f"{any_udp['cpu_us_per_query']:.2f} µs vs limit {0.8 * best:.2f} µs "
                            f"(NSD {nsd_udp['cpu_us_per_query']:.2f}, Knot {knot_udp['cpu_us_per_query']:.2f})"))
        ceiling = [row["server"] for row in (any_udp, nsd_udp, knot_udp) if row["dnsperf_cpu_pct"] >= 95]
        note = (f"; dnsperf CPU ≥ 95 % with {', '.join(ceiling)}: the load generator is the ceiling"
                if ceiling else "")
        found.append(Target("anydns UDP QPS ≥ NSD and Knot",
                            any_udp["qps"] >= nsd_udp["qps"] and any_udp["qps"] >= knot_udp["qps"],
                            f"{any_udp['qps']:,.0f} vs NSD {nsd_udp['qps']:,.0f}, "
                            f"Knot {knot_udp['qps']:,.0f}{note}"))
    else:
        found.append(Target("anydns UDP CPU/query and QPS vs NSD and Knot", None, "needs all three servers"))
    any_tcp, knot_tcp = find_row(throughput, "anydns", "tcp-small"), find_row(throughput, "knot", "tcp-small")
    if any_tcp and knot_tcp:
        found.append(Target("anydns TCP QPS ≥ Knot", any_tcp["qps"] >= knot_tcp["qps"],
                            f"{any_tcp['qps']:,.0f} vs {knot_tcp['qps']:,.0f}"))
    else:
        found.append(Target("anydns TCP QPS ≥ Knot", None, "needs anydns and Knot"))
    return found
