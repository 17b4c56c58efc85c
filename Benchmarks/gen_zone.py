#!/usr/bin/env python3
"""Writes a benchmark zone and a dnsperf query file.

    gen_zone.py ORIGIN NAMES ZONE_FILE QUERY_FILE [--serial N]

The zone has NAMES hosts (A, every tenth also AAAA and TXT), some MX and CNAME records, a
wildcard and a delegation; the query file mixes existing names, CNAMEs, NXDOMAIN, NODATA and
wildcard names (about 70/10/10/5/5 %).
"""
import argparse
import random


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("origin")
    parser.add_argument("names", type=int)
    parser.add_argument("zone_file")
    parser.add_argument("query_file")
    parser.add_argument("--serial", type=int, default=1)
    parser.add_argument("--queries", type=int, default=100_000)
    args = parser.parse_args()
    origin = args.origin if args.origin.endswith(".") else args.origin + "."
    rng = random.Random(53)
    with open(args.zone_file, "w") as zone:
        zone.write(f"$ORIGIN {origin}\n$TTL 3600\n")
        zone.write(f"@ SOA ns1 hostmaster {args.serial} 3600 900 604800 300\n")
        zone.write("@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n@ MX 10 mail\nmail A 192.0.2.25\n")
        zone.write("*.wild A 192.0.2.99\nsub NS ns.sub\nns.sub A 192.0.2.53\n")
        for i in range(args.names):
            zone.write(f"h{i} A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
            if i % 10 == 0:
                zone.write(f"h{i} AAAA 2001:db8::{i >> 16:x}:{i & 0xFFFF:x}\nh{i} TXT \"host {i}\"\n")
            if i % 20 == 0:
                zone.write(f"c{i} CNAME h{i}\n")
    with open(args.query_file, "w") as queries:
        for _ in range(args.queries):
            roll = rng.random()
            i = rng.randrange(args.names)
            if roll < 0.70:
                queries.write(f"h{i}.{origin} {'AAAA' if i % 10 == 0 and roll < 0.1 else 'A'}\n")
            elif roll < 0.80:
                queries.write(f"c{i - i % 20}.{origin} A\n")
            elif roll < 0.90:
                queries.write(f"nx{i}.{origin} A\n")
            elif roll < 0.95:
                queries.write(f"h{i}.{origin} MX\n")
            else:
                queries.write(f"x{i}.wild.{origin} A\n")


if __name__ == "__main__":
    main()
