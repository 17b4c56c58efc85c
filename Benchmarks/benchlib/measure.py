"""The measurements several groups make: a server's start to first answer and its memory, and a
dnsperf run with the server's CPU time per answered query.

Start-up is the seconds from starting the server to the first UDP answer to a SOA query that is
NOERROR, AA and carries the expected serial; proportional memory (sum of Pss in
/proc/PID/smaps_rollup over the process tree) is measured right after that first answer. A
throughput run reads the server tree's CPU time and the busy ticks of CPU 0 and CPU 1 just
before and just after dnsperf (see procstats.py).
"""
import os

from benchlib import LOAD_CPU, SERVER_CPU, BenchError, log
from benchlib.dnsperf import Dnsperf
from benchlib.procstats import busy_percent, cpu_ticks, tree_cpu_times, tree_smaps_mib


def measure_startup(server, zone, instance):
    """Start the server on a fresh copy of the zone; first-answer time and PSS."""
    zone_file = os.path.join(server.workdir, f"{server.name}-{instance}.zone")
    zone.write(zone_file, 1)
    server.start(zone.origin, zone_file, instance)
    first_answer = server.wait_first_answer(zone.origin, 1)
    pss = tree_smaps_mib(server.proc.pid)
    server.check_answers(zone.origin)
    log(f"  {server.name}: first answer after {first_answer:.2f} s, PSS {pss:.1f} MiB")
    return {"server": server.name, "zone": instance, "names": zone.names,
            "first_answer_s": first_answer, "pss_mib": pss}


def measure_throughput(server, zone, args, test, tcp=False, extra=()):
    output = os.path.join(server.dir, f"dnsperf-{test}.out")
    user_before, system_before = tree_cpu_times(server.proc.pid)
    ticks_before = cpu_ticks()
    perf = Dnsperf(server.port, zone.query_file, output, args.seconds, args.clients, args.outstanding, tcp=tcp,
                   extra=extra)
    row = perf.wait()
    ticks_after = cpu_ticks()
    user_after, system_after = tree_cpu_times(server.proc.pid)
    server_user, server_system = user_after - user_before, system_after - system_before
    server_cpu = server_user + server_system
    if not server.alive():
        raise BenchError(f"{server.name} died during {test}:\n{server.log_tail()}")
    server_pct = 100 * server_cpu / row["wall_s"]
    row.update({
        "test": test,
        "server": server.name,
        "server_cpu_s": server_cpu,
        "cpu_us_per_query": 1e6 * server_cpu / row["answered"] if row["answered"] else None,
        # The server's own code against the kernel's work done for it (system calls, and the
        # loopback delivery that runs on the sender's CPU): the kernel part is much the same
        # for every server, so it bounds how far the total can fall.
        "user_us_per_query": 1e6 * server_user / row["answered"] if row["answered"] else None,
        "system_us_per_query": 1e6 * server_system / row["answered"] if row["answered"] else None,
        "server_cpu_pct": server_pct,
        # All that CPU 0 and CPU 1 did (/proc/stat, kernel network work included): well above
        # the server's and dnsperf's own share means something else was running there.
        "cpu0_busy_pct": busy_percent(ticks_before, ticks_after, int(SERVER_CPU)),
        "cpu1_busy_pct": busy_percent(ticks_before, ticks_after, int(LOAD_CPU)),
    })
    log(f"  {server.name} {test}: {row['qps']:,.0f} QPS, "
        f"{row['cpu_us_per_query'] or 0:.2f} µs CPU/answer, lost {row['lost']}, "
        f"server CPU {server_pct:.0f} %, dnsperf CPU {row['dnsperf_cpu_pct']:.0f} %")
    return row


def signed_copy(server, instance):
    return os.path.join(server.workdir, f"{server.name}-{instance}.zone")


def remove_signed_copy(server, instance):
    try:
        os.unlink(signed_copy(server, instance))  # hundreds of MiB for the big zone
    except FileNotFoundError:
        pass


def measure_signed_startup(server, signed, instance):
    """Start the server on a copy of the signed zone; first-answer time, PSS, RSS, DO=1 check."""
    zone_file = signed_copy(server, instance)
    signed.copy_to(zone_file)
    server.start(signed.origin, zone_file, instance)
    first_answer = server.wait_first_answer(signed.origin, 1)
    pss, rss = tree_smaps_mib(server.proc.pid), tree_smaps_mib(server.proc.pid, "Rss")
    server.check_answers(signed.origin)
    check = server.dnssec_check(signed.origin)
    log(f"  {server.name}: first answer after {first_answer:.2f} s, PSS {pss:.1f} MiB, RSS {rss:.1f} MiB")
    return {"server": server.name, "zone": instance, "names": signed.names, "first_answer_s": first_answer,
            "pss_mib": pss, "rss_mib": rss, "dnssec_check": check}
