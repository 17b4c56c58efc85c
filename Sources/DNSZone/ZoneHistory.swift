import DNSWire

/// What changed between two versions of a zone, in the form IXFR sends it (RFC 1995 §4): the
/// records deleted (the old SOA first) and the records added (the new SOA first).
public struct ZoneDiff: Sendable, Equatable {
    public var fromSerial: UInt32
    public var toSerial: UInt32
    /// Starts with the old SOA.
    public var removed: [ResourceRecord]
    /// Starts with the new SOA.
    public var added: [ResourceRecord]

    public init(fromSerial: UInt32, toSerial: UInt32, removed: [ResourceRecord], added: [ResourceRecord]) {
        self.fromSerial = fromSerial
        self.toSerial = toSerial
        self.removed = removed
        self.added = added
    }

    /// Octets the diff takes, roughly as on the wire; what the journal's byte limit counts.
    public var size: Int {
        (removed + added).reduce(0) { $0 + $1.owner.wire.count + 10 + $1.rdata.count }
    }
}

/// The bounded list of differences that leads to a zone's current version, oldest first: the
/// journal IXFR answers from. Each diff starts where the one before it ended.
public struct ZoneHistory: Sendable, Equatable {
    public private(set) var diffs: [ZoneDiff]

    public init(_ diffs: [ZoneDiff] = []) { self.diffs = diffs }

    /// How much history to keep: the oldest diffs are dropped first.
    public struct Limits: Sendable, Equatable {
        public var maxEntries: Int
        public var maxBytes: Int

        public init(maxEntries: Int = 100, maxBytes: Int = 16 << 20) {
            self.maxEntries = maxEntries
            self.maxBytes = maxBytes
        }
    }

    /// The diffs that take a client at `serial` to the current version, or `nil` when the
    /// history does not reach back that far (RFC 1995 §2: then send the whole zone).
    public func diffs(from serial: UInt32) -> ArraySlice<ZoneDiff>? {
        guard let start = diffs.firstIndex(where: { $0.fromSerial == serial }) else { return nil }
        return diffs[start...]
    }

    /// This history followed by `diff`, trimmed to `limits`. A diff that does not continue the
    /// history (a zone edited behind our back) starts it anew.
    public func appending(_ diff: ZoneDiff, limits: Limits) -> ZoneHistory {
        var kept = diffs
        if let last = kept.last, last.toSerial != diff.fromSerial { kept.removeAll() }
        kept.append(diff)
        var bytes = kept.reduce(0) { $0 + $1.size }
        while kept.count > limits.maxEntries || (bytes > limits.maxBytes && kept.count > 0) {
            bytes -= kept.removeFirst().size
        }
        return ZoneHistory(kept)
    }
}
