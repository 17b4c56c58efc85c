#!/usr/bin/python3
"""Zone transfers of a large zone: NSD, Knot DNS and anydns side by side.

    Benchmarks/xfr_bench.py [--anydns PATH] [--names 1000000] [--quick]

Method
------
* One zone from Benchmarks/gen_zone.py (--names hosts, 1,000,000 by default), serial 1.
* AXFR out: each server in turn serves the zone (pinned to CPU 0, as in bench.py, with
  transfers allowed to 127.0.0.1 without a key) and `kdig +noall AXFR` on CPU 1 takes the
  whole zone once it is loaded. The table shows the seconds of the transfer (kdig's wall time,
  a fresh TCP connection), the records kdig counted, and the server's peak resident memory
  (VmHWM over its process tree, which includes the load) and its resident memory growth during
  the transfer (VmRSS sampled every 20 ms, minus VmRSS before it).
* Secondaries: Knot, then NSD, serves the zone as primary; anydns starts with the zone as a
  secondary of it (no stored copy) and the table shows the seconds from anydns's start to its
  first answer with the zone's serial (the transfer, the zone checks, the swap). For comparison,
  NSD as a secondary of Knot and Knot as a secondary of NSD, measured the same way.
These are benchmark figures, never assertions; the exit status is non-zero only when a tool is
missing or a server fails.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import DEFAULT_ANYDNS, LOAD_CPU, BenchError, find_binary, log, size_label  # noqa: E402
from benchlib.procstats import tree_status_kib  # noqa: E402
from benchlib.report import markdown_table  # noqa: E402
from benchlib.servers import Anydns, Knot, Nsd, free_port, stop_all_servers  # noqa: E402
from benchlib.zones import Zone  # noqa: E402

ORIGIN = "xfr.test."


def edit_config(path, change):
    """Rewrites the configuration file the base class wrote with change(text)."""
    with open(path) as config:
        text = config.read()
    with open(path, "w") as config:
        config.write(change(text))


class NsdXfr(Nsd):
    def configure(self, origin, zone_file):
        command = super().configure(origin, zone_file)
        edit_config(os.path.join(self.dir, "nsd.conf"), lambda text: text + "    provide-xfr: 127.0.0.1 NOKEY\n")
        return command


class KnotXfr(Knot):
    def configure(self, origin, zone_file):
        command = super().configure(origin, zone_file)
        edit_config(os.path.join(self.dir, "knot.conf"),
                    lambda text: text.replace("zone:\n", "acl:\n  - id: local\n    address: 127.0.0.1\n"
                                                         "    action: transfer\nzone:\n") + "    acl: [local]\n")
        return command


class NsdSecondary(Nsd):
    """NSD taking the zone from 127.0.0.1:primary_port (request-xfr), for comparison."""
    primary_port = None

    def configure(self, origin, zone_file):
        command = super().configure(origin, zone_file)
        edit_config(os.path.join(self.dir, "nsd.conf"),
                    lambda text: text.replace(f'    zonefile: "{zone_file}"\n', "")
                    + f"    request-xfr: 127.0.0.1@{self.primary_port} NOKEY\n    allow-notify: 127.0.0.1 NOKEY\n")
        return command


class KnotSecondary(Knot):
    """Knot DNS taking the zone from 127.0.0.1:primary_port, for comparison."""
    primary_port = None

    def configure(self, origin, zone_file):
        command = super().configure(origin, zone_file)
        remote = f"remote:\n  - id: primary\n    address: 127.0.0.1@{self.primary_port}\n"
        edit_config(os.path.join(self.dir, "knot.conf"),
                    lambda text: text.replace(f'    file: "{zone_file}"\n', "    master: primary\n")
                    .replace("template:\n", remote + "template:\n"))
        return command


class AnydnsXfr(Anydns):
    primary_port = None  # set: the zone is a secondary of 127.0.0.1:primary_port

    def configure(self, origin, zone_file):
        config = os.path.join(self.dir, "anydns.yaml")
        with open(config, "w") as conf:
            conf.write("acls:\n  - name: local\n    address: [127.0.0.1]\n")
            if self.primary_port:
                conf.write(f"remotes:\n  - name: primary\n    address: [127.0.0.1:{self.primary_port}]\n")
                conf.write(f"zones:\n  - origin: {origin}\n    primaries: [primary]\n")
            else:
                conf.write(f"zones:\n  - origin: {origin}\n    file: {zone_file}\n    allow-transfer: [local]\n")
        return [self.binary, "serve", "--config", config, "--listen", f"127.0.0.1:{self.port}",
                "--http-port", str(free_port()), "--log-level", "notice", "--workers", "1"]


def measure_axfr(server, zone_file, zone):
    server.start(ORIGIN, zone_file, "axfr")
    try:
        server.wait_first_answer(ORIGIN, 1)
        before = tree_status_kib(server.proc.pid, "VmRSS")
        peak = [before]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], tree_status_kib(server.proc.pid, "VmRSS"))
                stop.wait(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        out = subprocess.run(["taskset", "-c", LOAD_CPU, "kdig", "-p", str(server.port), "@127.0.0.1",
                              "AXFR", ORIGIN, "+noall", "+stats", "+timeout=60"],
                             capture_output=True, text=True)
        seconds = time.monotonic() - started
        stop.set()
        sampler.join()
        records = None
        for line in out.stdout.splitlines():
            if "Received" in line and "records" in line:  # ;; Received 12345 B (3 messages, 9999 records)
                records = int(line.split("messages, ")[1].split()[0])
        if records is None:
            raise BenchError(f"{server.name}: kdig AXFR failed:\n{out.stdout[-500:]}{out.stderr[-500:]}")
        hwm = tree_status_kib(server.proc.pid, "VmHWM")
        return {"server": server.name, "seconds": seconds, "records": records,
                "peak_mib": hwm / 1024, "growth_mib": (peak[0] - before) / 1024}
    finally:
        server.stop()


def measure_secondary(primary, secondary, zone_file):
    primary.start(ORIGIN, zone_file, "primary")
    try:
        primary.wait_first_answer(ORIGIN, 1)
        secondary.primary_port = primary.port
        secondary.start(ORIGIN, zone_file, f"secondary-of-{primary.name}")
        try:
            seconds = secondary.wait_first_answer(ORIGIN, 1)
            secondary.check_answers(ORIGIN)
            return {"secondary": secondary.name, "primary": primary.name, "seconds": seconds}
        finally:
            secondary.stop()
    finally:
        primary.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--anydns", default=DEFAULT_ANYDNS)
    parser.add_argument("--names", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="a 10,000-name zone, a smoke test")
    args = parser.parse_args()
    names = 10_000 if args.quick else args.names
    for tool in ("kdig", "taskset", "nsd", "knotd"):
        if not find_binary(tool):
            raise BenchError(f"{tool} not found: run scripts/install-deps.sh test")
    work = tempfile.mkdtemp(prefix="anydns-xfr-bench-")
    os.sched_setaffinity(0, {int(LOAD_CPU)})
    try:
        log(f"generating the {size_label(names)}-name zone")
        zone = Zone(ORIGIN, names, work)
        zone_file = os.path.join(work, "xfr.test.zone")
        zone.write(zone_file, 1)
        servers = [NsdXfr(find_binary("nsd"), work), KnotXfr(find_binary("knotd"), work),
                   AnydnsXfr(os.path.abspath(args.anydns), work)]
        rows = []
        for server in servers:
            log(f"AXFR out of {server.name}")
            rows.append(measure_axfr(server, zone_file, zone))
        secondary_rows = []
        anydns = os.path.abspath(args.anydns)
        pairs = [(KnotXfr, AnydnsXfr, anydns), (NsdXfr, AnydnsXfr, anydns),  # what the issue asks
                 (KnotXfr, NsdSecondary, find_binary("nsd")),                # the yardsticks
                 (NsdXfr, KnotSecondary, find_binary("knotd"))]
        for primary_class, secondary_class, binary in pairs:
            primary = primary_class(find_binary("knotd" if primary_class is KnotXfr else "nsd"), work)
            log(f"{secondary_class.name} as a secondary of {primary.name}")
            secondary_rows.append(measure_secondary(primary, secondary_class(binary, work), zone_file))
    finally:
        stop_all_servers()
        subprocess.run(["rm", "-rf", work])
    print(f"\n## AXFR out, {size_label(names)}-name zone ({zone.records:,} records), kdig on CPU 1\n")
    print(markdown_table(
        ["server", "seconds", "records received", "peak RSS (MiB, incl. load)", "RSS growth during AXFR (MiB)"],
        [[r["server"], f"{r['seconds']:.2f}", f"{r['records']:,}", f"{r['peak_mib']:.0f}",
          f"{r['growth_mib']:.1f}"] for r in rows]))
    print("\n## Secondaries: start to first answer of the transferred zone (AXFR in)\n")
    print(markdown_table(["secondary", "primary", "seconds"],
                         [[r["secondary"], r["primary"], f"{r['seconds']:.2f}"] for r in secondary_rows]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        log(f"ERROR: {error}")
        sys.exit(1)
