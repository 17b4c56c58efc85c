import DNSWire

/// Every zone served, as one immutable snapshot: what the responder reads for a query, and what a
/// reload replaces whole.
public final class ZoneSet: Sendable {
    public let zones: [Zone]
    private let apexes: NameIndex

    public init(_ zones: [Zone]) {
        self.zones = zones
        apexes = NameIndex(zones.map(\.origin.wire))
    }

    public static let empty = ZoneSet([])

    /// The zone with the deepest apex at or above `name`, and how many labels `name` has below
    /// that apex; `nil` when no zone is authoritative for it.
    public func zone(for name: NameView) -> (zone: Zone, apexLabels: Int)? {
        if zones.isEmpty { return nil }
        for dropped in 0...name.labelCount {
            if let index = apexes.find(name.suffix(dropping: dropped)) {
                return (zones[Int(index)], dropped)
            }
        }
        return nil
    }

    public func zone(named origin: DomainName) -> Zone? {
        zones.first { $0.origin == origin.lowercased() }
    }
}

extension Zone {
    /// How many labels `name` has below this zone's apex, or `nil` when it is not in the zone.
    public func labelsBelowApex(_ name: NameView) -> Int? {
        let below = name.labelCount - originLabels
        guard below >= 0 else { return nil }
        let suffix = name.suffix(dropping: below)
        guard suffix.count == origin.wire.count else { return nil }
        return origin.wire.withUnsafeBytes { originBytes in
            originBytes.elementsEqual(suffix) ? below : nil
        }
    }

    /// Calls `body` with the RDATA of the first record of `rrset` and its TTL (CNAME and DNAME
    /// have exactly one).
    public func withFirstRecord<R>(
        of rrset: RRSetID, _ body: (_ ttl: UInt32, _ rdata: UnsafeRawBufferPointer) -> R
    ) -> R {
        let set = rrsets[Int(rrset.rawValue)]
        let record = records[Int(set.firstRecord)]
        return rdata.withUnsafeBytes { bytes in
            let start = Int(record.rdataStart)
            return body(
                record.ttl, UnsafeRawBufferPointer(rebasing: bytes[start..<(start + Int(record.rdataLength))])
            )
        }
    }
}
