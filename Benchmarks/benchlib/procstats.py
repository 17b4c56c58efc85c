"""What a server costs, read from /proc: its process tree, the CPU time and the memory of that
tree, and how busy each CPU was.

The server's CPU time is utime+stime (+cutime+cstime, for children that exited and were reaped)
of every process in its tree (the root pid and its descendants, found by walking /proc), read
just before and just after a dnsperf run. Divided by the answered queries it is the CPU time per
answer, the comparable figure when the load generator saturates its core. The total busy % of
CPU 0 and CPU 1 (from /proc/stat) next to the server's and dnsperf's own share shows whether
something else (a compiler, say) was running there and the figures are noisy. Memory is the sum
of one /proc/PID/smaps_rollup field (Pss: proportional, or Rss) or /proc/PID/status field
(VmRSS, VmHWM) over the tree.
"""
import os
import re

CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_stat(pid):
    """Fields 3.. of /proc/PID/stat (field 3 is at index 0), or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_tree(root):
    """root and all its descendants that are alive (or zombies) now."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = read_stat(entry)
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_cpu_times(root):
    """(user, system) seconds summed over the tree: utime+cutime and stime+cstime (fields 14-17).

    A process that exited and was reaped counts in its parent's cutime/cstime, so the sum keeps
    the CPU time of server processes that came and went (NSD forks on reload).
    """
    user = system = 0
    for pid in process_tree(root):
        fields = read_stat(pid)
        if fields:
            user += int(fields[11]) + int(fields[13])
            system += int(fields[12]) + int(fields[14])
    return user / CLK_TCK, system / CLK_TCK


def tree_smaps_mib(root, field="Pss"):
    """Sum of one /proc/PID/smaps_rollup field (Pss, or Rss) over the tree, in MiB."""
    total_kib = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith(field + ":"):
                        total_kib += int(line.split()[1])
                        break
        except OSError:
            pass
    return total_kib / 1024


def status_kib(pid, field):
    """One /proc/PID/status field in KiB (VmRSS, VmHWM, ...); 0 when it is not there. Raises
    OSError when the process is gone."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def tree_status_kib(root, field):
    """status_kib summed over the tree (processes that are gone count 0)."""
    total = 0
    for pid in process_tree(root):
        try:
            total += status_kib(pid, field)
        except OSError:
            pass
    return total


def cpu_ticks():
    """{cpu index: (busy ticks, total ticks)} from /proc/stat."""
    result = {}
    with open("/proc/stat") as stat:
        for line in stat:
            match = re.match(r"cpu(\d+) (.*)", line)
            if match:
                values = [int(value) for value in match.group(2).split()]
                idle = values[3] + values[4]  # idle + iowait
                result[int(match.group(1))] = (sum(values[:8]) - idle, sum(values[:8]))
    return result


def busy_percent(before, after, cpu):
    if cpu not in before or cpu not in after:
        return None
    busy = after[cpu][0] - before[cpu][0]
    total = after[cpu][1] - before[cpu][1]
    return 100.0 * busy / total if total else None
