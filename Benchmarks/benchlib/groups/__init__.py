"""The groups of bench.py, one module each, and the run they share.

A group module has:
  NAME            what --only calls it
  DESCRIPTION     one line for --help
  ZONE            "small" or "big", the generated zone it uses: the groups on the small zone run
                  first, so that the big zone is generated only after them
  run(bench)      measures every server (bench.measure_each_server), adding rows to bench.results
  report(bench)   the sections it prints, a list of strings; called for every group in the order
                  of GROUPS in bench.py, whether it ran or not (the big group's start-up table
                  shows the small zone's start-up too)
  targets(bench)  the performance targets it checks (report.Target); called when it ran
"""
from benchlib import BenchError, log, size_label
from benchlib.zones import SignedZone, Zone

ZONE_ORIGINS = {"small": "bench.test.", "big": "big.test."}


class BenchRun:
    """One bench.py run: its options, servers, work directory, zones and results."""

    def __init__(self, args, servers, workdir, results):
        self.args, self.servers, self.workdir, self.results = args, servers, workdir, results
        self.zones = {}  # "small", "big": Zone, generated when a group first needs it
        self.signed = {}  # "small", "big": SignedZone, or None when signing failed

    def ran(self, group_name):
        return group_name in self.args.groups

    def name_count(self, size):
        return self.args.names if size == "small" else self.args.big_names

    def zone(self, size):
        """The generated zone of this size ("small" or "big"), generated on first use."""
        if size not in self.zones:
            log(f"generating the {size_label(self.name_count(size))}-name zone")
            zone = Zone(ZONE_ORIGINS[size], self.name_count(size), self.workdir)
            entry = {"origin": zone.origin, "names": zone.names, "records": zone.records}
            if size == "big":
                entry["generate_s"] = zone.generate_seconds
            self.results["zones"][size] = entry
            self.zones[size] = zone
        return self.zones[size]

    def sign(self, size):
        """The zone of this size signed (or taken from the cache), or None after recording why not."""
        zone = self.zone(size)
        try:
            signed = SignedZone(zone, self.args.cache)
        except (BenchError, OSError) as error:
            log(f"ERROR: signing {zone.origin}: {error}")
            self.results["errors"].append(f"signing {zone.origin}: {error}")
            signed = None
        else:
            self.results["zones"][f"signed-{size}"] = {"origin": signed.origin, "names": signed.names,
                                                        "path": signed.path, "cached": signed.cached, **signed.meta}
        self.signed[size] = signed
        return signed

    def measure_each_server(self, heading, measure, zone):
        """Logs the heading, then measure(server, zone, args, results) for every server in turn,
        stopping the server after it whatever happens; a BenchError is recorded and the next
        server measured."""
        log(heading)
        for server in self.servers:
            try:
                measure(server, zone, self.args, self.results)
            except BenchError as error:
                log(f"ERROR: {error}")
                self.results["errors"].append(f"{server.name}: {error}")
            finally:
                server.stop()
