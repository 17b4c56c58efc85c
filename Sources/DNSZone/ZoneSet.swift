import DNSWire

/// Every zone served, as one immutable snapshot: what the responder reads for a query, and what a
/// reload or a transfer replaces whole.
public final class ZoneSet: Sendable {
    public let zones: [Zone]
    /// Zones this server is configured for but cannot serve now: a secondary zone never
    /// transferred, or expired (RFC 1034 §4.3.5). Queries for them get SERVFAIL, as NSD and
    /// Knot DNS answer, never another zone's data and never REFUSED.
    public let unavailable: [DomainName]
    /// Apexes of ``zones`` then of ``unavailable``; an index past the zones is an unavailable one.
    private let apexes: NameIndex

    public init(_ zones: [Zone], unavailable: [DomainName] = []) {
        self.zones = zones
        self.unavailable = unavailable.map { $0.lowercased() }
        apexes = NameIndex(zones.map(\.origin.wire) + self.unavailable.map(\.wire))
    }

    public static let empty = ZoneSet([])

    /// Where a name belongs.
    public enum Match {
        /// `zone` is the deepest zone at or above the name, which is `apexLabels` below its apex.
        case zone(Zone, apexLabels: Int)
        /// The deepest zone at or above the name is configured but not servable now; the name is
        /// `apexLabels` below its apex.
        case unavailable(apexLabels: Int)
        /// No zone here is authoritative for the name.
        case none
    }

    /// The deepest zone (servable or not) at or above `name`; with `droppingAtLeast` 1, the
    /// deepest strictly above it (the parent side of a zone cut, RFC 4035 §3.1.4.1).
    public func match(_ name: NameView, droppingAtLeast first: Int = 0) -> Match {
        if zones.isEmpty && unavailable.isEmpty || first > name.labelCount { return .none }
        for dropped in first...name.labelCount {
            if let index = apexes.find(name.suffix(dropping: dropped)) {
                return Int(index) < zones.count
                    ? .zone(zones[Int(index)], apexLabels: dropped) : .unavailable(apexLabels: dropped)
            }
        }
        return .none
    }

    /// The zone with the deepest apex at or above `name`, and how many labels `name` has below
    /// that apex; `nil` when no servable zone is the deepest for it.
    public func zone(for name: NameView) -> (zone: Zone, apexLabels: Int)? {
        if case .zone(let zone, let labels) = match(name) { return (zone, labels) }
        return nil
    }

    public func zone(named origin: DomainName) -> Zone? {
        let lowered = origin.lowercased()
        return zones.first { $0.origin == lowered }
    }

    /// This set with `zone` served in place of the version of the same origin (added when new);
    /// the other zones are shared, not rebuilt.
    public func replacing(_ zone: Zone) -> ZoneSet {
        var kept = zones.filter { $0.origin != zone.origin }
        kept.append(zone)
        return ZoneSet(kept, unavailable: unavailable.filter { $0 != zone.origin })
    }

    /// This set with `serving` served in place of their versions (added when new), `unavailable`
    /// answering SERVFAIL, and `removing` no longer known at all, in one new set: a change to
    /// many zones costs one set, not one per zone. The other zones are shared, not rebuilt.
    public func updating(
        serving: [Zone], unavailable newlyUnavailable: [DomainName] = [], removing: Set<DomainName> = []
    ) -> ZoneSet {
        let replaced = Set(serving.map(\.origin))
        let down = Set(newlyUnavailable.map { $0.lowercased() })
        let gone = Set(removing.map { $0.lowercased() })
        let kept = zones.filter {
            !replaced.contains($0.origin) && !down.contains($0.origin) && !gone.contains($0.origin)
        }
        let stillUnavailable = unavailable.filter {
            !replaced.contains($0) && !gone.contains($0) && !down.contains($0)
        }
        return ZoneSet(
            kept + serving, unavailable: stillUnavailable + down.sorted { $0.description < $1.description })
    }

    /// This set with the zone `origin` no longer served: it answers SERVFAIL (an expired
    /// secondary zone).
    public func markingUnavailable(_ origin: DomainName) -> ZoneSet {
        let lowered = origin.lowercased()
        return ZoneSet(
            zones.filter { $0.origin != lowered },
            unavailable: unavailable.contains(lowered) ? unavailable : unavailable + [lowered])
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
