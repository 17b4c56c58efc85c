import DNSAuth
import DNSWire

/// An anycast service of the `.any` member table (README "Anycast services"): a name, its anycast
/// addresses, the TSIG keys allowed to change its members, how its name is answered, how its
/// members are probed and how long one lives without a report.
public struct MemberService: Sendable, Equatable {
    public enum Policy: Sendable, Equatable {
        /// The zone's own data answers the name (the anycast address).
        case anycast
        /// The reachable member with the fewest sessions, else the anycast addresses.
        case leastSessions
    }

    public enum Probe: Sendable, Equatable {
        case tcp(port: UInt16)
        case icmp
        case none
    }

    /// Lowercase.
    public let name: DomainName
    public let anycast: [IPAddress]
    /// Key names, lowercase.
    public let keys: Set<DomainName>
    public let policy: Policy
    public let probe: Probe
    public let probeInterval: Double
    /// Seconds without a report before a member is dropped.
    public let lease: UInt64
    /// `_members.NAME`, lowercase wire format: members are its children.
    let membersWire: [UInt8]

    public init(
        name: DomainName, anycast: [IPAddress], keys: [DomainName], policy: Policy, probe: Probe,
        probeInterval: Double = 5, lease: UInt64 = 30
    ) {
        self.name = name.lowercased()
        self.anycast = anycast
        self.keys = Set(keys.map { $0.lowercased() })
        self.policy = policy
        self.probe = probe
        self.probeInterval = probeInterval
        self.lease = lease
        membersWire = self.name.prepending(label: Array("_members".utf8))?.wire ?? self.name.wire
    }

    /// The TTL of a least-sessions answer and of member records: short, so clients follow the
    /// counts (the paper's choice is per new session).
    public static let answerTTL: UInt32 = 5
}

/// What a query name is to the member table.
public enum MemberName: Equatable {
    /// The service's own name.
    case service(Int)
    /// `_members.SERVICE`: an empty non-terminal.
    case membersNode(Int)
    /// `LABEL._members.SERVICE`; `label` is the range of the first label's octets in the name.
    case member(Int, label: Range<Int>)
    /// Below a member name, or more than one label below `_members`.
    case below(Int)
}

extension Array where Element == MemberService {
    /// Which service `name` (lowercase wire format) belongs to, if any; nothing is allocated.
    public func classify(_ name: UnsafeRawBufferPointer) -> MemberName? {
        for (index, service) in enumerated() {
            if service.name.wire.withUnsafeBytes({ $0.elementsEqual(name) }) { return .service(index) }
            let suffix = service.membersWire
            guard name.count >= suffix.count,
                suffix.withUnsafeBytes({ $0.elementsEqual(name[(name.count - suffix.count)...]) })
            else { continue }
            let prefix = name.count - suffix.count
            if prefix == 0 { return .membersNode(index) }
            // The suffix must start at a label boundary: walk the labels of the prefix.
            var position = 0
            var labels = 0
            while position < prefix {
                position += 1 + Int(name[position])
                labels += 1
            }
            guard position == prefix else { continue }
            return labels == 1 ? .member(index, label: 1..<prefix) : .below(index)
        }
        return nil
    }
}
