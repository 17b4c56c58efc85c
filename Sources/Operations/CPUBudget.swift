import CAnydnsSystem
import Foundation

/// How many CPUs this process may really use: its affinity mask (`taskset`, systemd's
/// `CPUAffinity=`, a container's cpuset), capped by a cgroup CPU quota (systemd's `CPUQuota=`,
/// a container's CPU limit), rounded up, at least 1. The default number of UDP workers: more
/// workers than usable CPUs only queue behind each other.
public struct CPUBudget: Equatable, Sendable {
    /// CPUs in the affinity mask; `nil` when it cannot be read.
    public var affinity: Int?
    /// CPUs online on the machine.
    public var online: Int
    /// The cgroup quota in CPUs (1.5 for `150000 100000`); `nil` when there is none.
    public var quota: Double?

    public init(affinity: Int?, online: Int, quota: Double?) {
        self.affinity = affinity
        self.online = online
        self.quota = quota
    }

    /// The CPUs that may be used.
    public var count: Int {
        var count = affinity ?? online
        if let quota { count = min(count, Int(quota.rounded(.up))) }
        return max(1, count)
    }

    /// How ``count`` was chosen, for the log.
    public var explanation: String {
        let mask = affinity.map { "affinity \($0) of \(online) CPUs" } ?? "\(online) CPUs online"
        let limit = quota.map { "cgroup quota \(String(format: "%g", $0)) CPUs" } ?? "no cgroup CPU quota"
        return "\(mask), \(limit)"
    }

    /// This process's budget, read from the kernel.
    public static func current() -> CPUBudget {
        let affinity = Int(anydns_affinity_cpu_count())
        return CPUBudget(
            affinity: affinity > 0 ? affinity : nil, online: ProcessInfo.processInfo.processorCount,
            quota: cgroupQuota())
    }

    /// The CPU quota of this process's cgroup: cgroup v2 `cpu.max`, else v1
    /// `cpu.cfs_quota_us` / `cpu.cfs_period_us`; `nil` when unlimited or unreadable.
    static func cgroupQuota(root: String = "/sys/fs/cgroup", membership: String? = nil) -> Double? {
        let lines = (membership ?? (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? "")
            .split(separator: "\n")
        for line in lines {
            // "hierarchy-ID:controllers:path"; v2 is "0::/path".
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(fields[2])
            if fields[0] == "0" && fields[1].isEmpty {
                for directory in [root + path, root] {
                    if let text = read(directory + "/cpu.max") { return parseCPUMax(text) }
                }
            } else if fields[1].split(separator: ",").contains("cpu") {
                for directory in [root + "/" + fields[1] + path, root + "/cpu" + path, root + "/cpu"] {
                    if let quota = read(directory + "/cpu.cfs_quota_us"),
                        let period = read(directory + "/cpu.cfs_period_us")
                    {
                        return parseCFS(quota: quota, period: period)
                    }
                }
            }
        }
        return nil
    }

    /// cgroup v2 `cpu.max`: `max 100000` (no limit) or `QUOTA PERIOD` in microseconds.
    static func parseCPUMax(_ text: String) -> Double? {
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let quota = Double(fields[0]), let period = Double(fields[1]), period > 0
        else { return nil }
        return quota / period
    }

    /// cgroup v1 `cpu.cfs_quota_us` (-1: no limit) and `cpu.cfs_period_us`.
    static func parseCFS(quota: String, period: String) -> Double? {
        guard let quota = Double(quota.trimmingCharacters(in: .whitespacesAndNewlines)), quota > 0,
            let period = Double(period.trimmingCharacters(in: .whitespacesAndNewlines)), period > 0
        else { return nil }
        return quota / period
    }

    private static func read(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }
}
