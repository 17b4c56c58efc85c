import DNSAuth
import DNSWire
import Foundation
import Synchronization

/// One member of a service at this site (the paper's member table, §3.1): its unicast addresses,
/// the sessions it last reported, whether the last probe reached it.
public struct Member: Sendable, Equatable {
    /// The member's label, lowercase.
    public var name: String
    public var ipv4: [IPAddress] = []
    public var ipv6: [IPAddress] = []
    public var sessions: Int = 0
    public var reachable: Bool = true
    /// When it joined and last reported (seconds since 1970).
    public var joined: UInt64
    public var lastReport: UInt64

    public init(name: String, now: UInt64) {
        self.name = name
        joined = now
        lastReport = now
    }

    var hasAddress: Bool { !ipv4.isEmpty || !ipv6.isEmpty }
}

/// An immutable view of every service's members, read by the query path without a lock on the
/// table; a change publishes a new one (no zone is rebuilt).
public final class MemberSnapshot: Sendable {
    public let services: [MemberService]
    /// Per service, sorted by name.
    public let members: [[Member]]
    /// Per service: the indexes of the reachable members with the fewest sessions that have an
    /// IPv4 (`.0`) or IPv6 (`.1`) address; a query picks one of them.
    let leastLoaded: [(ipv4: [Int], ipv6: [Int])]

    init(services: [MemberService], members: [[Member]]) {
        self.services = services
        self.members = members
        leastLoaded = members.map { list in
            func least(_ hasFamily: (Member) -> Bool) -> [Int] {
                let candidates = list.indices.filter { list[$0].reachable && hasFamily(list[$0]) }
                guard let fewest = candidates.map({ list[$0].sessions }).min() else { return [] }
                return candidates.filter { list[$0].sessions == fewest }
            }
            return (least { !$0.ipv4.isEmpty }, least { !$0.ipv6.isEmpty })
        }
    }

    /// The member a least-sessions query for `service` gets (RFC 1035 A or AAAA by `ipv6`):
    /// among the reachable members with the fewest sessions, `spread` (the query ID) picks one,
    /// so ties share the queries evenly. `nil` when no reachable member has such an address.
    public func choose(service: Int, ipv6: Bool, spread: UInt16) -> Member? {
        let candidates = ipv6 ? leastLoaded[service].ipv6 : leastLoaded[service].ipv4
        guard !candidates.isEmpty else { return nil }
        return members[service][candidates[Int(spread) % candidates.count]]
    }

    /// The member named by `label` (lowercase octets) in `service`.
    public func member(service: Int, label: UnsafeRawBufferPointer) -> Member? {
        members[service].first { $0.name.utf8.elementsEqual(label) }
    }

    /// Members that can be reached, per service.
    public func reachableCount(service: Int) -> Int {
        members[service].filter { $0.reachable && $0.hasAddress }.count
    }
}

/// The member table of this site: every service's members, changed by RFC 2136 updates
/// (``MemberUpdate``), lease expiry and probes; each change publishes a ``MemberSnapshot``.
public final class MemberTable: Sendable {
    public let services: [MemberService]
    private let state: Mutex<[[Member]]>
    private let published: Mutex<MemberSnapshot>
    private let clock: @Sendable () -> UInt64

    public init(services: [MemberService], clock: @escaping @Sendable () -> UInt64 = { UInt64(time(nil)) }) {
        self.services = services
        self.clock = clock
        let empty = Array(repeating: [Member](), count: services.count)
        state = Mutex(empty)
        published = Mutex(MemberSnapshot(services: services, members: empty))
    }

    public var snapshot: MemberSnapshot { published.withLock { $0 } }

    public var now: UInt64 { clock() }

    /// Applies the changes of one update, all or nothing (RFC 2136 §3.4: the update is atomic).
    /// Every member touched counts as having reported now.
    public func apply(_ changes: [MemberChange]) {
        let now = clock()
        change { tables in
            for change in changes {
                var list = tables[change.service]
                var index = list.firstIndex { $0.name == change.member }
                switch change.operation {
                case .deleteMember:
                    if let index { list.remove(at: index) }
                    tables[change.service] = list
                    continue
                case .deleteAddress, .deleteAddresses, .clearSessions:
                    // Deleting from a member that is not there changes nothing.
                    if index == nil { continue }
                default: break
                }
                if index == nil {
                    list.append(Member(name: change.member, now: now))
                    list.sort { $0.name < $1.name }
                    index = list.firstIndex { $0.name == change.member }
                }
                var member = list[index!]
                member.lastReport = now
                switch change.operation {
                case .addAddress(let address):
                    if case .v4 = address {
                        if !member.ipv4.contains(address) { member.ipv4.append(address) }
                    } else if !member.ipv6.contains(address) {
                        member.ipv6.append(address)
                    }
                case .deleteAddress(let address):
                    member.ipv4.removeAll { $0 == address }
                    member.ipv6.removeAll { $0 == address }
                case .deleteAddresses(let ipv6):
                    if ipv6 { member.ipv6 = [] } else { member.ipv4 = [] }
                case .setSessions(let count):
                    member.sessions = count
                case .clearSessions:
                    break  // the count stays until the next report replaces it
                case .deleteMember:
                    break
                }
                list[index!] = member
                tables[change.service] = list
            }
            return true  // every member touched has reported now
        }
    }

    /// Drops every member that has not reported within its service's lease (as if it had left);
    /// returns `service: member` of each.
    @discardableResult
    public func expire() -> [String] {
        let now = clock()
        var dropped: [String] = []
        change { tables in
            for (index, service) in services.enumerated() {
                let (kept, gone) = tables[index].reduce(into: ([Member](), [Member]())) { split, member in
                    if now > member.lastReport + service.lease {
                        split.1.append(member)
                    } else {
                        split.0.append(member)
                    }
                }
                tables[index] = kept
                dropped += gone.map { "\(service.name) \($0.name)" }
            }
            return !dropped.isEmpty
        }
        return dropped
    }

    /// Records a probe result; returns whether the member's reachability changed.
    @discardableResult
    public func setReachable(service: Int, member name: String, _ reachable: Bool) -> Bool {
        change { tables in
            guard let index = tables[service].firstIndex(where: { $0.name == name }),
                tables[service][index].reachable != reachable
            else { return false }
            tables[service][index].reachable = reachable
            return true
        }
    }

    /// Runs `body` on the tables; when it says something changed, publishes a new snapshot
    /// (so the once-a-second lease check builds none when no member expired). Returns that.
    @discardableResult
    private func change(_ body: (inout [[Member]]) -> Bool) -> Bool {
        state.withLock { tables in
            guard body(&tables) else { return false }
            let next = MemberSnapshot(services: services, members: tables)
            published.withLock { $0 = next }
            return true
        }
    }
}
