"""Shared parts of the benchmarks in Benchmarks/ (bench.py, xfr_bench.py, soak.py): where things
are, which CPU does what, the error a benchmark stops a server's run with, and logging."""
import os
import shutil
import sys

BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCHMARKS)
DEFAULT_ANYDNS = os.path.join(REPO, ".build", "release", "anydns")
SERVER_CPU = "0"  # every server process and thread runs here (taskset)
LOAD_CPU = "1"  # dnsperf, kdig and the benchmark script itself


class BenchError(Exception):
    """A server did not start, did not answer, or answered wrongly."""


def log(message):
    print(message, file=sys.stderr, flush=True)


def find_binary(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def size_label(count):
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1000 and count % 1000 == 0:
        return f"{count // 1000}k"
    return str(count)
