import Foundation
import Testing

@testable import Operations

/// The default number of UDP workers follows the CPUs the process may use (README "Commands").
@Suite("CPU budget: affinity and cgroup quota")
struct CPUBudgetTests {
    @Test func countIsTheAffinityCappedByTheQuotaRoundedUp() {
        #expect(CPUBudget(affinity: 4, online: 8, quota: 1.5).count == 2)
        #expect(CPUBudget(affinity: 1, online: 8, quota: nil).count == 1)
        #expect(CPUBudget(affinity: nil, online: 8, quota: nil).count == 8)
        #expect(CPUBudget(affinity: 8, online: 8, quota: 0.2).count == 1)
        #expect(
            CPUBudget(affinity: 1, online: 2, quota: nil).explanation
                == "affinity 1 of 2 CPUs, no cgroup CPU quota")
        #expect(
            CPUBudget(affinity: 4, online: 8, quota: 1.5).explanation
                == "affinity 4 of 8 CPUs, cgroup quota 1.5 CPUs")
    }

    @Test func cgroupFiles() {
        #expect(CPUBudget.parseCPUMax("max 100000\n") == nil)
        #expect(CPUBudget.parseCPUMax("150000 100000\n") == 1.5)
        #expect(CPUBudget.parseCFS(quota: "-1\n", period: "100000\n") == nil)
        #expect(CPUBudget.parseCFS(quota: "50000\n", period: "100000\n") == 0.5)
    }

    @Test func quotaIsReadFromTheProcessCgroup() throws {
        let root = NSTemporaryDirectory() + "anydns-cgroup-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        func write(_ path: String, _ text: String) throws {
            try FileManager.default.createDirectory(
                atPath: (root + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true
            )
            try text.write(toFile: root + path, atomically: true, encoding: .utf8)
        }
        // cgroup v2: the process's own directory.
        try write("/system.slice/anydns.service/cpu.max", "200000 100000\n")
        #expect(CPUBudget.cgroupQuota(root: root, membership: "0::/system.slice/anydns.service\n") == 2)
        // cgroup v1: the cpu controller's hierarchy.
        try write("/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "50000\n")
        try write("/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
        #expect(
            CPUBudget.cgroupQuota(root: root, membership: "4:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n")
                == 0.5)
        // No quota anywhere.
        #expect(CPUBudget.cgroupQuota(root: root, membership: "0::/elsewhere\n") == nil)
    }
}
