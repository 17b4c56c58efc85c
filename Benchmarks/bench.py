#!/usr/bin/python3
"""NSD, Knot DNS and anydns side by side, measured the way README "Tests, lab and benchmarks" describes.

    Benchmarks/bench.py [--anydns PATH] [--servers nsd,knot,anydns] [--quick] [--json FILE] ...
    Benchmarks/bench.py --only dnssec      # just the signed zone rows (--only takes groups, below)

The servers run one after the other on loopback, each with one worker pinned to CPU 0 and
response rate limiting off (unless a group turns it on), while dnsperf (and this script) run on
CPU 1; the figures are the server's CPU time per answered query (utime+stime of its process
tree, from /proc), queries per second, lost queries, latency, start to first answer and
proportional memory. Where each part of the method is described:

    benchlib/zones.py       the generated zones and the query mix; signing and the signing cache
    benchlib/servers.py     how NSD, Knot DNS and anydns are configured, started and reloaded
    benchlib/dnsperf.py     the load: dnsperf's settings and what is read from its output
    benchlib/procstats.py   the server's CPU time and memory, and how busy each CPU was
    benchlib/measure.py     start to first answer, and a throughput run
    benchlib/report.py      the tables, the targets and the note on noisy runs
    benchlib/groups/*.py    one file per group: what it runs, prints and checks

Groups. --only small,rrl,big,dnssec-udp,dnssec-big (dnssec = both signed groups; default: all)
picks what runs; --skip-big, --skip-rrl, --skip-dnssec and --skip-signed-big take groups away.
The groups on the 10k zone run first, then the 1M zone is generated. A new group is a module in
benchlib/groups/ (see its __init__.py) and one line in GROUPS below.

Output. Markdown tables per test, ratios to NSD and Knot, then the targets (MET / MISSED) and a
note naming the runs during which other processes used CPU 0 or CPU 1. These are benchmark
figures printed as tables, never assertions; the exit status is non-zero only when a tool is
missing or a server fails to start or to answer.

--json FILE writes everything: {"settings", "throughput": [rows with test "udp-small",
"tcp-small", "udp-rrl", "udp-big" or "udp-dnssec", server, sent, answered, lost, qps, response_bytes, ...,
and for udp-dnssec dnssec_check], "startup": [rows with zone "small", "big" or "signed-big", server,
first_answer_s, pss_mib, and for signed-big rss_mib and dnssec_check], "zones" ("small", "big",
"signed-small" and "signed-big", these with path, cached, sign_seconds, records, RRSIG, NSEC3, bytes), "reload": [rows with server, sent,
answered, lost, servfail, ...], "flood": [rows with server, flood_sent, flood_responses,
flood_captured, flood_truncated, capture_drops, legit_sent, legit_answered, legit_truncated,
legit_timeouts], "targets", "noisy_runs", "errors"}.
"""
import argparse
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import DEFAULT_ANYDNS, LOAD_CPU, find_binary, log  # noqa: E402
from benchlib.dnsperf import dnsperf_version, stop_all_load  # noqa: E402
from benchlib.groups import BenchRun, big, dnssec_big, dnssec_udp, rrl, small  # noqa: E402
from benchlib.report import header, noise_section, targets_section  # noqa: E402
from benchlib.servers import Anydns, Knot, Nsd, stop_all_servers  # noqa: E402

# What a run can contain (--only, --skip-*), in the order they are listed and their tables printed.
GROUPS = [small, rrl, big, dnssec_udp, dnssec_big]
GROUP_ALIASES = {"dnssec": ["dnssec-udp", "dnssec-big"], "all": [group.NAME for group in GROUPS]}
SERVER_ORDER = ["nsd", "knot", "anydns"]


def parse_args():
    descriptions = {group.NAME: group.DESCRIPTION for group in GROUPS}
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--anydns", default=DEFAULT_ANYDNS)
    parser.add_argument("--servers", default="nsd,knot,anydns", help="comma-separated subset of nsd,knot,anydns")
    parser.add_argument("--seconds", type=int, default=10, help="length of each throughput run")
    parser.add_argument("--names", type=int, default=10_000, help="hosts in the small zone")
    parser.add_argument("--big-names", type=int, default=1_000_000, help="hosts in the big zone")
    parser.add_argument("--clients", type=int, default=10, help="dnsperf -c")
    parser.add_argument("--outstanding", type=int, default=200,
                        help="dnsperf -q (200 saturates dnsperf; from about 300 on, UDP queries are lost in "
                             "the servers' socket receive buffers)")
    parser.add_argument("--reload-seconds", type=int, default=30)
    parser.add_argument("--reload-every", type=float, default=5)
    parser.add_argument("--reload-qps", type=int, default=20_000)
    parser.add_argument("--only", metavar="GROUPS",
                        help="comma-separated groups to run, of: " + ", ".join(f"{name} ({what})" for name, what
                                                                              in descriptions.items())
                             + "; 'dnssec' is dnssec-udp,dnssec-big (default: all, less the --skip-* ones)")
    parser.add_argument("--skip-big", action="store_true", help="no 1M-name zone, signed or not (big, dnssec-big)")
    parser.add_argument("--skip-rrl", action="store_true",
                        help="no response rate limiting rows (the UDP run with RRL on, and the flood)")
    parser.add_argument("--skip-dnssec", action="store_true", help="no signed zone rows (dnssec-udp, dnssec-big)")
    parser.add_argument("--skip-signed-big", action="store_true",
                        help="no signed 1M-name zone (dnssec-big): signing it the first time takes minutes")
    parser.add_argument("--cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                         os.path.expanduser("~/.cache"), "anydns-bench"),
                        help="where signed zones and their keys are kept between runs (default: %(default)s)")
    parser.add_argument("--rrl-rate", type=int, default=1_000_000,
                        help="responses per second per netblock for the 'RRL on' UDP run: far above what one "
                             "dnsperf client reaches, so nothing is limited and the row shows the accounting cost")
    parser.add_argument("--flood-rrl-rate", type=int, default=20, help="responses per second during the flood")
    parser.add_argument("--flood-seconds", type=int, default=10, help="length of the flood")
    parser.add_argument("--legit-qps", type=int, default=10,
                        help=f"queries per second from {rrl.LEGIT_ADDRESS}; keep it below --flood-rrl-rate: RRL "
                             "counts that client's own /24 too, so at 50/s against 20/s it is limited by itself")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke test")
    parser.add_argument("--work", help="work directory (default: a new temporary one); removed at exit "
                                        "only if this script created it")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", help="write all results to this file")
    args = parser.parse_args()
    if args.quick:
        args.names, args.big_names, args.seconds = 500, 5000, 2
        args.flood_seconds = 2
        args.reload_seconds, args.reload_every, args.reload_qps = 6, 2, 2000
    args.servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = set(args.servers) - set(SERVER_ORDER)
    if unknown or not args.servers:
        parser.error(f"--servers takes a subset of {','.join(SERVER_ORDER)}")
    args.servers = [name for name in SERVER_ORDER if name in args.servers]
    groups = set()
    for name in (args.only or "all").split(","):
        name = name.strip()
        if name not in descriptions and name not in GROUP_ALIASES:
            parser.error(f"--only takes groups of {', '.join(list(descriptions) + list(GROUP_ALIASES))}")
        groups.update(GROUP_ALIASES.get(name, [name]))
    skipped = {"big": ["big", "dnssec-big"], "rrl": ["rrl"], "dnssec": ["dnssec-udp", "dnssec-big"],
               "signed_big": ["dnssec-big"]}
    for flag, names in skipped.items():
        if getattr(args, f"skip_{flag}"):
            groups -= set(names)
    args.groups = [name for name in descriptions if name in groups]
    if not args.groups:
        parser.error("--only and --skip-* leave nothing to run")
    return args


def check_tools(args):
    """Binaries that are needed; installs the missing ones with apt-get when running as root."""
    needed = {"dnsperf": "dnsperf", "taskset": "util-linux"}
    if "nsd" in args.servers:
        needed["nsd"] = "nsd"
    if "knot" in args.servers:
        needed["knotd"] = "knot"
    if "dnssec-udp" in args.groups or "dnssec-big" in args.groups:
        needed["ldns-signzone"] = needed["ldns-keygen"] = "ldnsutils"
    missing = sorted({package for binary, package in needed.items() if not find_binary(binary)})
    if missing and os.geteuid() == 0:
        log(f"installing {' '.join(missing)} with apt-get")
        command = ["apt-get", "install", "-y", "-qq"] + missing
        if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL)
            subprocess.run(command, stdout=subprocess.DEVNULL)
        missing = sorted({package for binary, package in needed.items() if not find_binary(binary)})
    if missing:
        sys.exit(f"missing tools; install them with: apt-get install {' '.join(missing)}")
    if "anydns" in args.servers and not os.access(args.anydns, os.X_OK):
        sys.exit(f"no anydns binary at {args.anydns} (build it: swift build -c release)")
    if (os.cpu_count() or 1) < 2:
        sys.exit("this benchmark pins the server to CPU 0 and dnsperf to CPU 1: it needs 2 CPUs")


def make_servers(args, workdir):
    classes = {"nsd": (Nsd, find_binary("nsd")), "knot": (Knot, find_binary("knotd")),
               "anydns": (Anydns, os.path.abspath(args.anydns))}
    return [classes[name][0](classes[name][1], workdir) for name in args.servers]


def cleanup(workdir, keep):
    stop_all_servers()
    stop_all_load()
    if workdir and not keep:
        shutil.rmtree(workdir, ignore_errors=True)


def run_order(bench):
    """The groups that run: those on the small zone first, then those on the big zone."""
    chosen = [group for group in GROUPS if bench.ran(group.NAME)]
    return [group for group in chosen if group.ZONE == "small"] + [group for group in chosen if group.ZONE == "big"]


def main():
    args = parse_args()
    check_tools(args)
    workdir = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="anydns-bench-")
    created = args.work is None or not os.path.exists(workdir)
    os.makedirs(workdir, exist_ok=True)
    atexit.register(cleanup, workdir, args.keep or not created)  # never delete a directory we did not make
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the atexit clean-up
    os.sched_setaffinity(0, {int(LOAD_CPU)})  # keep this script (and gen_zone.py) off CPU 0

    servers = make_servers(args, workdir)
    results = {"settings": dict(vars(args)), "zones": {},
               "throughput": [], "startup": [], "reload": [], "flood": [], "targets": [],
               "noisy_runs": [], "errors": []}
    results["settings"]["versions"] = [server.version() for server in servers] + [dnsperf_version()]
    results["settings"]["loadavg_at_start"] = os.getloadavg()
    log(f"work directory {workdir}; load average {os.getloadavg()[0]:.2f}")

    log(f"running: {', '.join(args.groups)}")
    bench = BenchRun(args, servers, workdir, results)
    for group in run_order(bench):
        group.run(bench)

    print(header(bench))
    for group in GROUPS:
        for section in group.report(bench):
            print(section)
    targets = [target for group in GROUPS if bench.ran(group.NAME) for target in group.targets(bench)]
    print(f"\n## Targets\n\n{targets_section(results, targets)}")
    noise = noise_section(results)
    if noise:
        print(noise)
    if results["errors"]:
        print("\n## Errors\n\n" + "\n".join(f"- {error.splitlines()[0]}" for error in results["errors"]))
    if args.json:
        with open(args.json, "w") as json_file:
            json.dump(results, json_file, indent=2)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted")  # the atexit clean-up stops the servers and removes the work directory
        sys.exit(130)
