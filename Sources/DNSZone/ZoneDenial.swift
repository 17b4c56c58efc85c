import DNSWire

/// How a signed zone proves that a name or a type does not exist.
public enum DenialMethod: Sendable, Equatable, CustomStringConvertible {
    /// NSEC records in canonical order (RFC 4035 §3.1.3).
    case nsec
    /// NSEC3 records of the chain named by the apex NSEC3PARAM (RFC 5155 §7.2).
    case nsec3(NSEC3Parameters)

    public var description: String {
        switch self {
        case .nsec: "nsec"
        case .nsec3: "nsec3"
        }
    }
}

/// What `/health` and the metrics say about a signed zone.
public struct ZoneSigning: Sendable, Equatable {
    /// `nil` when the zone has signatures but no usable NSEC or NSEC3 chain.
    public var denial: DenialMethod?
    /// RRSIG records in the zone.
    public var signatures: Int
    /// The earliest RRSIG expiration, in seconds since the Unix epoch (RFC 4034 §3.1.5): after
    /// it, validators find some of the zone's data bogus.
    public var earliestExpiration: UInt64?

    public init(denial: DenialMethod?, signatures: Int, earliestExpiration: UInt64?) {
        self.denial = denial
        self.signatures = signatures
        self.earliestExpiration = earliestExpiration
    }
}

/// The lookup structures of authenticated denial, built when the zone is loaded, so that
/// finding the NSEC or NSEC3 for a proof is a binary search, not a scan.
struct DenialIndex: Sendable {
    var method: DenialMethod? = nil
    /// NSEC: the nodes holding an NSEC, in canonical order (RFC 4034 §6.1). NSEC3: the nodes
    /// holding an NSEC3 of the chain, in the order of their hashes.
    var chain: [Int32] = []
    /// NSEC3: the hash each member of ``chain`` is named by, in the same (ascending) order.
    var hashes: [NSEC3Hash] = []
    /// NSEC3: for each node, the index in ``chain`` of the NSEC3 whose hash is its name's, or -1.
    var matching: [Int32] = []
}

extension Zone {
    /// How the zone proves non-existence; `nil` when it is unsigned.
    public var denialMethod: DenialMethod? { denial.method }

    /// The type of the records that prove non-existence here: NSEC or NSEC3; `nil` when none.
    public var denialType: RecordType? {
        switch denial.method {
        case .nsec: .nsec
        case .nsec3: .nsec3
        case nil: nil
        }
    }

    /// The node holding the NSEC that matches or covers `name` (lowercase wire format, in the
    /// zone): the last owner of the chain at or before it in canonical order, the chain being a
    /// circle (RFC 4035 §3.1.3). `nil` when the zone has no NSEC chain.
    public func nsecCovering(_ name: UnsafeRawBufferPointer) -> NodeID? {
        guard case .nsec = denial.method, !denial.chain.isEmpty else { return nil }
        let found = denial.chain.withUnsafeBufferPointer { chain in
            lastIndex(in: chain) { node in
                withName(of: NodeID(rawValue: node)) { CanonicalOrder.compare($0, name) <= 0 }
            }
        }
        return NodeID(rawValue: denial.chain[found ?? denial.chain.count - 1])
    }

    /// The node holding the NSEC3 whose hash is `node`'s name, if any (RFC 5155 §7.2.3). Known
    /// from load time: nothing is hashed.
    public func nsec3Matching(_ node: NodeID) -> NodeID? {
        guard case .nsec3 = denial.method else { return nil }
        let index = denial.matching[Int(node.rawValue)]
        return index >= 0 ? NodeID(rawValue: denial.chain[Int(index)]) : nil
    }

    /// Hashes `name` (lowercase wire format) and finds the NSEC3 that matches or covers the
    /// hash: the last of the chain at or before it, wrapping round (RFC 5155 §3.1.7). `nil` when
    /// the zone has no NSEC3 chain.
    public func nsec3Covering(_ name: UnsafeRawBufferPointer) -> NodeID? {
        guard case .nsec3(let parameters) = denial.method, !denial.chain.isEmpty else { return nil }
        let hash = parameters.hash(of: name)
        let found = denial.hashes.withUnsafeBufferPointer { hashes in lastIndex(in: hashes) { $0 <= hash } }
        return NodeID(rawValue: denial.chain[found ?? denial.chain.count - 1])
    }
}

/// The index of the last element of `sorted` that is at or before a key, or `nil` when every
/// element is after it: a bisection, `atOrBefore` being true for a prefix of `sorted`.
@inline(__always)
func lastIndex<Element>(in sorted: UnsafeBufferPointer<Element>, where atOrBefore: (Element) -> Bool) -> Int?
{
    var low = 0
    var high = sorted.count
    while low < high {
        let middle = (low + high) / 2
        if atOrBefore(sorted[middle]) { low = middle + 1 } else { high = middle }
    }
    return low > 0 ? low - 1 : nil
}
