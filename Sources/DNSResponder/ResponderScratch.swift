import DNSGuard
import DNSWire
import DNSZone

/// Memory one worker reuses for every query it answers, so answering allocates nothing.
///
/// Not thread-safe: each worker (UDP socket loop, TCP connection queue) owns one.
public final class ResponderScratch: @unchecked Sendable {
    let response = ResponseScratch()
    /// The QNAME as sent (case preserved).
    let queryName = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    /// Two lowercase name buffers used in turn while following CNAME and DNAME chains.
    let names = [
        UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8),
        UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8),
    ]
    let labelStarts = [
        UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 128),
        UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 128),
    ]
    /// Where a synthesized DNAME target is assembled (RFC 6672 §2.2).
    let synthesized = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    /// Nodes whose A/AAAA go in the additional section, and nodes already visited in a chain.
    let additionalTargets = UnsafeMutableBufferPointer<AdditionalTarget>.allocate(
        capacity: ResponderLimits.maxAdditionalTargets)
    let visited = UnsafeMutableBufferPointer<VisitedNode>.allocate(capacity: ResponderLimits.maxChain + 1)
    /// NSEC and NSEC3 records a DNSSEC answer proves with (RFC 4035 §3.1.3, RFC 5155 §7.2),
    /// written into AUTHORITY once the other sections are done.
    let proofs = UnsafeMutableBufferPointer<ProofRecord>.allocate(capacity: ResponderLimits.maxProofs)
    /// Where the wildcard name `*.<closest encloser>` of a denial proof is assembled.
    let wildcardName = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    /// The name a response is accounted under by rate limiting, and room for its hashed key.
    let rateName = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    let rateKey = UnsafeMutableRawBufferPointer.allocate(byteCount: RateLimiter.keyCapacity, alignment: 8)

    public init() {}

    deinit {
        queryName.deallocate()
        for buffer in names { buffer.deallocate() }
        for buffer in labelStarts { buffer.deallocate() }
        synthesized.deallocate()
        additionalTargets.deallocate()
        visited.deallocate()
        rateName.deallocate()
        rateKey.deallocate()
        proofs.deallocate()
        wildcardName.deallocate()
    }
}

/// A node whose A and AAAA records belong in the additional section.
struct AdditionalTarget {
    var node: NodeID
    /// Glue at or below the zone cut of a referral: if it does not fit, the response is truncated
    /// (RFC 9471 §3). Other additional data is simply left out when it does not fit (RFC 2181 §9).
    var required: Bool
}

/// A node already met in a CNAME or DNAME chain, in the zone it belongs to.
struct VisitedNode: Equatable {
    var zone: ObjectIdentifier
    var node: Int32
}

/// An NSEC or NSEC3 RRset that proves part of a DNSSEC answer: its node in the zone it belongs to
/// (unretained: the zone set of the query keeps the zone alive while the answer is written).
struct ProofRecord {
    var zone: Unmanaged<Zone>
    var node: NodeID
}
