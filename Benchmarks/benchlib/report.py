"""The printed report: markdown tables, ratios to NSD and Knot, the performance targets (MET,
MISSED or SKIPPED) and a note naming the runs during which other processes used CPU 0 or CPU 1.
These are benchmark figures printed as tables, never assertions."""
from collections import namedtuple

from benchlib import LOAD_CPU, SERVER_CPU, size_label

NOISE_POINTS = 10  # CPU busy % above the server's (CPU 0) or dnsperf's (CPU 1): something else ran

# One performance target: met is True, False, or None when the run could not tell (SKIPPED).
Target = namedtuple("Target", "description met detail")


def fmt(value, digits=0, suffix=""):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{suffix}"


def ratio(value, reference):
    if value is None or not reference:
        return "—"
    return f"{value / reference:.2f}×"


def markdown_table(headers, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells):
        padded = [str(cell).rjust(width) if index else str(cell).ljust(width)
                  for index, (cell, width) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (width + 1) + ":" if index else "-" * (width + 2)
                          for index, width in enumerate(widths)) + "|"
    return "\n".join([line(headers), rule] + [line(row) for row in rows])


def find_row(rows, server, test=None, zone=None):
    for row in rows:
        if row["server"] == server and (test is None or row.get("test") == test) \
                and (zone is None or row.get("zone") == zone):
            return row
    return None


def server_rows(rows, servers, test=None, zone=None):
    """(server, row) for each of the servers, in order, that has a row for this test or zone."""
    for name in servers:
        row = find_row(rows, name, test, zone)
        if row:
            yield name, row


def codes_text(codes):
    main = [f"{name} {codes[name]:,}" for name in ("NOERROR", "NXDOMAIN") if name in codes]
    other = sum(count for name, count in codes.items() if name not in ("NOERROR", "NXDOMAIN"))
    return ", ".join(main + ([f"other {other:,}"] if other else []))


def dnssec_check_text(check):
    if not check:
        return "DO=1 check: —"
    verdict = "DNSSEC records present" if check["ok"] else "DNSSEC records MISSING"
    return (f"DO=1 check: {verdict} (h1 A answer with RRSIG: {'yes' if check['answer_rrsig'] else 'no'}; "
            f"NXDOMAIN authority: {check['nxdomain_nsec3']} NSEC3, {check['nxdomain_rrsig']} RRSIG)")


def throughput_table(results, test, servers):
    rows, notes = [], []
    nsd = find_row(results["throughput"], "nsd", test)
    knot = find_row(results["throughput"], "knot", test)
    for name, row in server_rows(results["throughput"], servers, test):
        cpu = row["cpu_us_per_query"]
        rows.append([name, fmt(row["qps"]), fmt(cpu, 2), fmt(row.get("user_us_per_query"), 2),
                     fmt(row.get("system_us_per_query"), 2), fmt(row["server_cpu_pct"], 0, " %"),
                     fmt(row["dnsperf_cpu_pct"], 0, " %"), fmt(row["lost"]), fmt(row["avg_latency_ms"], 3),
                     fmt(row["p99_latency_ms"], 3),
                     ratio(cpu, nsd and nsd["cpu_us_per_query"]), ratio(cpu, knot and knot["cpu_us_per_query"]),
                     ratio(row["qps"], nsd and nsd["qps"]), ratio(row["qps"], knot and knot["qps"])])
        notes.append(f"- {name}: {codes_text(row['rcodes'])}; CPU 0 busy {fmt(row['cpu0_busy_pct'], 0, ' %')}, "
                     f"CPU 1 busy {fmt(row['cpu1_busy_pct'], 0, ' %')}"
                     + (f"; TCP reconnections {row['reconnections']}" if test.startswith("tcp") else "")
                     + (f"; average response {row['response_bytes']} octets" if row.get("response_bytes") else "")
                     + (f"; {dnssec_check_text(row['dnssec_check'])}" if row.get("dnssec_check") else ""))
    headers = ["server", "QPS", "CPU µs/query", "of which user", "of which kernel", "server CPU %",
               "dnsperf CPU %", "lost", "avg latency ms",
               "p99 latency ms", "CPU/query vs NSD", "vs Knot", "QPS vs NSD", "vs Knot"]
    return (markdown_table(headers, rows) + "\n\nResponse codes, and all CPU use on the two CPUs (/proc/stat):\n"
            + "\n".join(notes))


def cost_table(results, servers, off_test, on_test, off_label, on_label):
    """Each server's run of on_test against its own run of off_test, when both ran."""
    rows = []
    for name in servers:
        off, on = find_row(results["throughput"], name, off_test), find_row(results["throughput"], name, on_test)
        if not off or not on or not off["cpu_us_per_query"] or not on["cpu_us_per_query"]:
            continue
        rows.append([name, fmt(off["cpu_us_per_query"], 2), fmt(on["cpu_us_per_query"], 2),
                     fmt(on["cpu_us_per_query"] - off["cpu_us_per_query"], 2), ratio(on["cpu_us_per_query"],
                                                                                      off["cpu_us_per_query"]),
                     fmt(off["qps"]), fmt(on["qps"]), ratio(on["qps"], off["qps"]), fmt(on["lost"])])
    if not rows:
        return ""
    headers = ["server", f"CPU µs/query {off_label}", on_label, "difference µs", "ratio",
               f"QPS {off_label}", on_label, "ratio", f"lost {on_label}"]
    return "\n\n" + markdown_table(headers, rows)


def header(bench):
    """The title, the versions, the dnsperf settings, the groups that ran and the zones."""
    args, settings = bench.args, bench.results["settings"]
    lines = [f"\n# NSD, Knot DNS and anydns — one worker on CPU {SERVER_CPU}, dnsperf on CPU {LOAD_CPU}\n"]
    lines += [f"- {line}" for line in settings["versions"]]
    lines.append(f"- dnsperf -c {args.clients} -q {args.outstanding}, {args.seconds} s per throughput run; "
                 f"load average at start {settings['loadavg_at_start'][0]:.2f}")
    lines.append(f"- runs: {', '.join(args.groups)}")
    zones = [f"{label} zone {zone.origin}: {zone.names:,} names, {zone.records:,} records"
             for label in ("small", "big") for zone in [bench.zones.get(label)] if zone]
    zones += [f"signed {size_label(zone.names)} zone: {zone.meta['records']:,} records"
              for label in ("small", "big") for zone in [bench.signed.get(label)] if zone]
    lines.append("- " + "; ".join(zones))
    return "\n".join(lines)


def targets_section(results, targets):
    """The targets, each listed once (two groups may report the same one), recorded in results."""
    lines, listed = [], set()
    for target in targets:
        if target.description in listed:
            continue
        listed.add(target.description)
        status = "SKIPPED" if target.met is None else ("MET" if target.met else "MISSED")
        results["targets"].append({"target": target.description, "status": status, "detail": target.detail})
        lines.append(f"- {status}: {target.description} — {target.detail}")
    return "\n".join(lines)


def noise_section(results):
    """Runs during which CPU 0 or CPU 1 did clearly more than the server and dnsperf did."""
    noisy = []
    for row in results["throughput"]:
        extra_cpu0 = (row["cpu0_busy_pct"] or 0) - row["server_cpu_pct"]
        extra_cpu1 = (row["cpu1_busy_pct"] or 0) - row["dnsperf_cpu_pct"]
        if max(extra_cpu0, extra_cpu1) > NOISE_POINTS:
            noisy.append(f"{row['server']} {row['test']} (CPU 0 +{extra_cpu0:.0f}, CPU 1 +{extra_cpu1:.0f} points)")
    results["noisy_runs"] = noisy
    if not noisy:
        return ""
    return ("\nOther processes used the benchmark CPUs during: " + "; ".join(noisy)
            + ". QPS and latency of these runs are unreliable; CPU µs/query holds up better. "
              "Rerun on a quiet machine for figures to quote.")


def dnssec_answers_target(results):
    """Whether anydns's DO=1 answers carried DNSSEC records in every signed-zone run that checked;
    both signed groups report it, and it is listed once."""
    checks = [(row.get("test") or row.get("zone"), row["dnssec_check"])
              for row in results["throughput"] + results["startup"]
              if row["server"] == "anydns" and row.get("dnssec_check")]
    if not checks:
        return Target("anydns DO=1 answers carry RRSIGs and NSEC3 proofs", None, "needs anydns, signed zone")
    return Target("anydns DO=1 answers from a signed zone carry RRSIGs and NSEC3 proofs",
                  all(check["ok"] for _, check in checks),
                  "; ".join(f"{run}: {dnssec_check_text(check)}" for run, check in checks))
