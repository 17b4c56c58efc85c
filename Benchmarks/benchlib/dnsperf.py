"""dnsperf as the load generator: one run pinned to CPU 1, its figures read from its output.

dnsperf runs under `taskset -c 1`; bench.py pins itself to CPU 1 as well, so that nothing but the
server runs on CPU 0 on its behalf. dnsperf runs with -v, which prints one line per answered
query with its latency: those give the average and 99th-percentile latency; dnsperf's summary
gives queries sent, completed, lost, response codes and QPS. dnsperf's own CPU % (its rusage from
wait4) next to the server's CPU busy % shows who was the ceiling: dnsperf near 100 % means the
numbers are bounded by the load generator, not the server.
"""
import os
import re
import subprocess
import time

from benchlib import LOAD_CPU, BenchError

# dnsperf processes still running; stop_all_load() kills them at exit whatever happens.
LIVE_PROCESSES = []


def stop_all_load():
    for proc in list(LIVE_PROCESSES):
        if proc.poll() is None:
            proc.kill()


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


def dnsperf_version():
    usage = subprocess.run(["dnsperf", "-h"], capture_output=True, text=True)
    return "dnsperf " + " ".join(re.findall(r"Version (\S+)", usage.stdout + usage.stderr))


def dnsperf_totals(text):
    """The figures of dnsperf's closing statistics: sent, answered, lost (None when dnsperf did
    not say), queries per second, reconnections and the count of each response code."""
    def number(label):
        match = re.search(rf"{label}:\s+([\d.]+)", text)
        return float(match.group(1)) if match else None

    codes_line = re.search(r"Response codes:(.*)", text)
    codes = {code: int(count) for code, count in re.findall(r"([A-Z]+) (\d+) \(", codes_line.group(1))} \
        if codes_line else {}
    lost = number("Queries lost")
    return {"sent": int(number("Queries sent") or 0), "answered": int(number("Queries completed") or 0),
            "lost": None if lost is None else int(lost), "qps": number("Queries per second") or 0.0,
            "reconnections": int(number("Reconnections") or 0), "rcodes": codes}


class Dnsperf:
    """One dnsperf run on CPU 1; its CPU use comes from wait4's rusage."""

    def __init__(self, port, query_file, output_path, seconds, clients, outstanding, tcp=False, qps=None,
                 extra=(), verbose=True):
        command = ["taskset", "-c", LOAD_CPU, "dnsperf", "-s", "127.0.0.1", "-p", str(port),
                   "-d", query_file, "-l", str(seconds), "-c", str(clients), "-q", str(outstanding)]
        command += list(extra) + (["-v"] if verbose else [])
        if tcp:
            command += ["-m", "tcp"]
        if qps:
            command += ["-Q", str(qps)]
        self.seconds = seconds
        self.output_path = output_path
        self.status = None
        self.rusage = None
        with open(output_path, "w") as output:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        LIVE_PROCESSES.append(self.proc)

    def finished(self):
        """True once dnsperf has exited (reaped here with wait4, not Popen.poll, to keep rusage)."""
        if self.rusage is None:
            pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.wall = time.monotonic() - self.started
                self.status, self.rusage = status, rusage
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                LIVE_PROCESSES.remove(self.proc)
        return self.rusage is not None

    def wait(self):
        deadline = self.started + self.seconds + 120
        while not self.finished():
            if time.monotonic() > deadline:
                self.proc.kill()
            time.sleep(0.05)
        if self.proc.returncode != 0:
            raise BenchError(f"dnsperf exited with {self.proc.returncode}: see {self.output_path}")
        return self.parse()

    def parse(self):
        latencies, summary = [], []
        with open(self.output_path) as output:
            for line in output:
                if line.startswith("> "):
                    # "> RCODE NAME TYPE SECONDS" per answer; "> T NAME TYPE" per timeout.
                    fields = line.split()
                    if len(fields) == 5 and fields[1] != "T":
                        latencies.append(float(fields[4]))
                else:
                    summary.append(line)
        text = "".join(summary)
        totals = dnsperf_totals(text)
        max_match = re.search(r"Average Latency \(s\):.*max ([\d.]+)", text)
        size_match = re.search(r"Average packet size:\s+request (\d+), response (\d+)", text)
        latencies.sort()
        cpu = self.rusage.ru_utime + self.rusage.ru_stime
        return {
            "sent": totals["sent"],
            "answered": totals["answered"],
            "lost": totals["lost"] or 0,
            "qps": totals["qps"],
            "rcodes": totals["rcodes"],
            "reconnections": totals["reconnections"],
            "avg_latency_ms": 1000 * sum(latencies) / len(latencies) if latencies else None,
            "p99_latency_ms": 1000 * percentile(latencies, 0.99) if latencies else None,
            "max_latency_ms": 1000 * float(max_match.group(1)) if max_match else None,
            "response_bytes": int(size_match.group(2)) if size_match else None,
            "wall_s": self.wall,
            "dnsperf_cpu_pct": 100 * cpu / self.wall,
        }
