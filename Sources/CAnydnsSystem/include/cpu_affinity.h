// The CPUs this process may run on (sched_getaffinity(2)): what `taskset`, systemd's
// CPUAffinity= and container runtimes restrict, and what the machine's CPU count ignores.
#pragma once

/// The number of CPUs in this process's affinity mask, or -1 when it cannot be read.
int anydns_affinity_cpu_count(void);
