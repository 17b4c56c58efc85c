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

/// What a proof of non-existence found for a name.
public enum NSEC3Search: Equatable, Sendable {
    /// The NSEC3 whose hash is the name's.
    case matching(NodeID)
    /// The NSEC3 whose span holds the name's hash (RFC 5155 §3.1.7).
    case covering(NodeID)
}

extension Zone {
    /// How the zone proves non-existence; `nil` when it is unsigned.
    public var denialMethod: DenialMethod? { denial.method }

    /// The node holding the NSEC that matches or covers `name` (lowercase wire format, in the
    /// zone): the last owner of the chain at or before it in canonical order, the chain being a
    /// circle (RFC 4035 §3.1.3). `nil` when the zone has no NSEC chain.
    public func nsecCovering(_ name: UnsafeRawBufferPointer) -> NodeID? {
        guard case .nsec = denial.method, !denial.chain.isEmpty else { return nil }
        let found = denial.chain.withUnsafeBufferPointer { chain in
            lastIndex(in: chain) { node in
                withName(of: NodeID(rawValue: node)) { CanonicalOrder.compare($0, name) }
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

    /// Hashes `name` (lowercase wire format) and finds the NSEC3 matching or covering the hash:
    /// the last of the chain at or before it, wrapping round (RFC 5155 §3.1.7). `nil` when the
    /// zone has no NSEC3 chain.
    public func nsec3Search(_ name: UnsafeRawBufferPointer) -> NSEC3Search? {
        guard case .nsec3(let parameters) = denial.method, !denial.chain.isEmpty else { return nil }
        let hash = parameters.hash(of: name)
        let found = denial.hashes.withUnsafeBufferPointer { lastIndex(in: $0, atOrBefore: hash) }
        guard let found else { return .covering(NodeID(rawValue: denial.chain[denial.chain.count - 1])) }
        let node = NodeID(rawValue: denial.chain[found])
        return denial.hashes[found] == hash ? .matching(node) : .covering(node)
    }
}

/// The index of the last hash at or before `key` in ascending `hashes`, or `nil` when every
/// hash is after it.
@inline(__always)
func lastIndex(in hashes: UnsafeBufferPointer<NSEC3Hash>, atOrBefore key: NSEC3Hash) -> Int? {
    var low = 0
    var high = hashes.count
    while low < high {
        let middle = (low + high) / 2
        if hashes[middle] <= key { low = middle + 1 } else { high = middle }
    }
    return low > 0 ? low - 1 : nil
}

/// The index of the last element whose `order` (element compared with a key) is at most zero,
/// or `nil` when every element sorts after the key. `chain` is sorted by that order.
@inline(__always)
func lastIndex(in chain: UnsafeBufferPointer<Int32>, order: (Int32) -> Int) -> Int? {
    var low = 0
    var high = chain.count
    while low < high {
        let middle = (low + high) / 2
        if order(chain[middle]) <= 0 { low = middle + 1 } else { high = middle }
    }
    return low > 0 ? low - 1 : nil
}
