import DNSAuth
import Members
import ServingTypes

/// What the management HTTP shows of the member table (README "Anycast services"): the
/// `/health` entries, `anydns members` text, and each service's readiness for its own route.
public enum MemberReport {
    /// `/health` `services`.
    public static func health(_ snapshot: MemberSnapshot, now: UInt64) -> [HealthDocument.Service] {
        snapshot.services.enumerated().map { index, service in
            HealthDocument.Service(
                name: service.name.description, anycast: service.anycast.map(\.description),
                policy: service.policy == .leastSessions ? "least-sessions" : "anycast",
                probe: describe(service.probe), lease: Int(service.lease),
                reachableMembers: snapshot.reachableCount(service: index),
                members: snapshot.members[index].map { member in
                    HealthDocument.Member(
                        name: member.name, addresses: (member.ipv4 + member.ipv6).map(\.description),
                        sessions: member.sessions, reachable: member.reachable,
                        joined: epochISO8601(member.joined), lastReport: epochISO8601(member.lastReport),
                        secondsSinceReport: Int64(now) - Int64(member.lastReport))
                })
        }
    }

    public static func describe(_ probe: MemberService.Probe) -> String {
        switch probe {
        case .tcp(let port): "tcp:\(port)"
        case .icmp: "icmp"
        case .none: "none"
        }
    }

    /// The index of the service named `name` (trailing dot optional, any case).
    public static func service(named name: String, in snapshot: MemberSnapshot) -> Int? {
        let wanted = (name.hasSuffix(".") ? name : name + ".").lowercased()
        return snapshot.services.firstIndex { $0.name.description == wanted }
    }

    /// `GET /services/NAME/readyz`: ready while this site has a reachable member of the service
    /// (the paper's §3.1: the last member leaving withdraws the site's route for the address).
    public static func readiness(service index: Int, in snapshot: MemberSnapshot) -> (
        ready: Bool, reason: String
    ) {
        let name = snapshot.services[index].name
        if snapshot.reachableCount(service: index) > 0 { return (true, "ready") }
        return snapshot.members[index].isEmpty
            ? (false, "no member of \(name) at this site")
            : (
                false,
                "no reachable member of \(name) at this site (\(snapshot.members[index].count) unreachable)"
            )
    }

    /// The table `anydns members` prints (the paper's Table 1 with reachability and last report).
    public static func text(_ snapshot: MemberSnapshot, only: Int? = nil, now: UInt64) -> String {
        var lines: [String] = []
        for (index, service) in snapshot.services.enumerated() where only == nil || only == index {
            lines.append(
                "service \(service.name) anycast \(service.anycast.map(\.description).joined(separator: ",")) "
                    + "policy \(service.policy == .leastSessions ? "least-sessions" : "anycast") "
                    + "probe \(describe(service.probe)) lease \(service.lease)s")
            let rows = snapshot.members[index].map { member in
                [
                    member.name, (member.ipv4 + member.ipv6).map(\.description).joined(separator: ","),
                    String(member.sessions), member.reachable ? "yes" : "no",
                    "\(Int64(now) - Int64(member.lastReport))s ago",
                ]
            }
            guard !rows.isEmpty else {
                lines.append("  (no members)")
                continue
            }
            let header = ["member", "address", "sessions", "reachable", "last-report"]
            let widths = header.indices.map { column in
                ([header] + rows).map { $0[column].count }.max()!
            }
            for row in [header] + rows {
                let cells = row.enumerated().map { column, cell in
                    column == row.count - 1
                        ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                }
                lines.append("  " + cells.joined(separator: "  "))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
