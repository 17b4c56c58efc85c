"""Group "dnssec-udp": the signed 10k zone (NSEC3), UDP with DO=1.

Method: the 10k zone signed as zones.py says (or taken from the signing cache); each server
starts on a copy of it, and before measuring one DO=1 query for h1 A must bring an RRSIG, and one
for a missing name an NXDOMAIN with at least two NSEC3 records, their RRSIGs and the SOA's
(Server.dnssec_check; a server failing it is still measured). Then the UDP run with dnsperf -D
(EDNS, DO=1) and the same query file as the unsigned UDP row (10 % NXDOMAIN, answered with NSEC3
proofs; 5 % NODATA and 5 % wildcard, with NSEC3 records too), then, when the small group ran too,
each server's unsigned UDP run against its signed DO=1 run. dnsperf's average response size is
printed (with DNSSEC records it is several times the unsigned one). Target: anydns passes the
DO=1 check.
"""
from benchlib import size_label
from benchlib.measure import measure_signed_startup, measure_throughput, remove_signed_copy
from benchlib.report import cost_table, dnssec_answers_target, throughput_table

NAME = "dnssec-udp"
DESCRIPTION = "signed 10k zone (NSEC3): UDP with DO=1"
ZONE = "small"


def run(bench):
    signed = bench.sign(ZONE)
    if signed:
        bench.measure_each_server(f"signed {size_label(bench.args.names)} zone ({signed.meta['records']:,} records): "
                                  "UDP with DO=1", measure_server, signed)


def measure_server(server, signed, args, results):
    """The signed 10k zone: UDP with DO=1 (dnsperf -D), the same queries as the UDP row."""
    try:
        startup = measure_signed_startup(server, signed, "signed-small")
        row = measure_throughput(server, signed, args, "udp-dnssec", extra=["-D"])
        row["dnssec_check"] = startup["dnssec_check"]
        results["throughput"].append(row)
    finally:
        server.stop()
        remove_signed_copy(server, "signed-small")


def report(bench):
    signed = bench.signed.get(ZONE)
    if not bench.ran(NAME) or not signed:
        return []
    results, names = bench.results, bench.args.servers
    return [f"\n## UDP DO=1, signed {size_label(bench.args.names)}-name zone (NSEC3)\n\n"
            f"{throughput_table(results, 'udp-dnssec', names)}\n\n{signed.summary()}"
            f"{cost_table(results, names, 'udp-small', 'udp-dnssec', 'unsigned', 'signed DO=1')}"]


def targets(bench):
    return [dnssec_answers_target(bench.results)]
