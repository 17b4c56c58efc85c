"""Group "dnssec-big": the signed 1M zone (NSEC3), start to first answer and memory.

Method: the 1M zone signed as zones.py says (or taken from the signing cache; signing it the
first time takes minutes); each server starts on a copy of it: seconds from start to the first
SOA answer, then PSS and RSS (summed over the process tree, so pages shared between NSD's
processes count once per process in RSS), next to the unsigned 1M zone's figures when the big
group ran too. The same DO=1 check as dnssec-udp (Server.dnssec_check) is made and shown; a
server failing it is still measured. Target: anydns passes the DO=1 check.
"""
from benchlib import size_label
from benchlib.measure import measure_signed_startup, remove_signed_copy
from benchlib.report import dnssec_answers_target, dnssec_check_text, find_row, fmt, markdown_table, ratio, \
    server_rows

NAME = "dnssec-big"
DESCRIPTION = "signed 1M zone (NSEC3): start-up and memory"
ZONE = "big"


def run(bench):
    signed = bench.sign(ZONE)
    if signed:
        bench.measure_each_server(f"signed {size_label(bench.args.big_names)} zone "
                                  f"({signed.meta['records']:,} records): start-up", measure_server, signed)


def measure_server(server, signed, args, results):
    """The signed 1M zone: start to first answer, memory after loading."""
    try:
        results["startup"].append(measure_signed_startup(server, signed, "signed-big"))
    finally:
        server.stop()
        remove_signed_copy(server, "signed-big")


def report(bench):
    signed = bench.signed.get(ZONE)
    if not bench.ran(NAME) or not signed:
        return []
    return [f"\n## Signed {size_label(bench.args.big_names)}-name zone (NSEC3): start to first answer and memory\n\n"
            f"{signed_startup_table(bench.results, bench.args.servers, bench.args, signed)}"]


def targets(bench):
    return [dnssec_answers_target(bench.results)]


def signed_startup_table(results, servers, args, signed):
    """The signed 1M zone: start to first answer and memory, next to the unsigned 1M zone when it ran."""
    rows = []
    for name, row in server_rows(results["startup"], servers, zone="signed-big"):
        unsigned = find_row(results["startup"], name, zone="big")
        rows.append([name, fmt(row["first_answer_s"], 2), fmt(row["pss_mib"], 1), fmt(row["rss_mib"], 1),
                     ratio(row["first_answer_s"], unsigned and unsigned["first_answer_s"]),
                     ratio(row["pss_mib"], unsigned and unsigned["pss_mib"]),
                     "yes" if row["dnssec_check"]["ok"] else "NO"])
    label = size_label(args.big_names)
    headers = ["server", f"signed {label} zone: start to first answer (s)", "PSS (MiB)", "RSS (MiB)",
               f"time vs unsigned {label}", f"PSS vs unsigned {label}", "DO=1 answers signed"]
    notes = [f"- {name}: {dnssec_check_text(row['dnssec_check'])}"
             for name, row in server_rows(results["startup"], servers, zone="signed-big")]
    return markdown_table(headers, rows) + "\n\n" + signed.summary() + "\n" + "\n".join(notes)
