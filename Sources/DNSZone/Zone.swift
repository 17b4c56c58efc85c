import DNSWire

/// Identifies a node (an owner name, possibly an empty non-terminal) inside one ``Zone``.
public struct NodeID: Hashable, Sendable {
    public let rawValue: Int32
}

/// Identifies an RRset inside one ``Zone``.
public struct RRSetID: Hashable, Sendable {
    public let rawValue: Int32
}

/// What the zone holds for a name, before any section is written (RFC 1034 §4.3.2 step 3).
/// DNS outcomes are values, not errors; the responder maps them to the wire.
public enum LookupResult: Equatable, Sendable {
    /// The asked type exists at the name (or at the wildcard that matched it).
    case answer(NodeID, RRSetID, wildcard: Bool)
    /// The name (or wildcard) holds a CNAME and the asked type is not CNAME (RFC 1034 §3.6.2).
    case cname(NodeID, RRSetID, wildcard: Bool)
    /// QTYPE ANY at a name with data (RFC 8482 chooses what to send).
    case any(NodeID, wildcard: Bool)
    /// The name exists (possibly as an empty non-terminal, RFC 8020) but not the type.
    case noData(NodeID, wildcard: Bool)
    /// The name is at or below a zone cut: refer to the NS RRset at the cut (RFC 1034 §4.3.2 3b).
    case delegation(cut: NodeID)
    /// An ancestor holds a DNAME (RFC 6672 §3.2).
    case dname(NodeID, RRSetID)
    /// Neither the name nor a matching wildcard exists (RFC 1034 §4.3.3, RFC 4592); `encloser`
    /// is the closest encloser, the deepest existing ancestor (RFC 4592 §3.3.1).
    case nxDomain(encloser: NodeID)
}

/// One loaded zone: an immutable snapshot, safe to share between threads and swapped whole on
/// reload. Names are stored lowercase; lookups take lowercase names.
///
/// Storage is flat (arrays of small structs indexing two byte buffers, names and RDATA) so that answering touches
/// few cache lines and no reference counts.
public final class Zone: Sendable {
    /// The apex, lowercase.
    public let origin: DomainName
    /// Where the zone came from (the zone file's path).
    public let source: String
    public let serial: UInt32
    public let apex: NodeID
    /// The apex SOA RRset.
    public let soa: RRSetID
    /// TTL of the SOA in negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
    public let negativeTTL: UInt32
    /// Number of records, for logs and metrics.
    public let recordCount: Int
    /// Labels in ``origin`` (0 for the root zone).
    public let originLabels: Int
    /// The differences from earlier versions, for IXFR (RFC 1995); empty for a zone just loaded.
    public let history: ZoneHistory
    /// For a secondary zone: when it expires without a successful refresh (seconds since the
    /// Unix epoch, RFC 1034 §4.3.5); what EDNS EXPIRE counts down (RFC 7314). `nil` on a primary.
    public let expiresAt: UInt64?

    let nodes: [Node]
    let rrsets: [RRSetEntry]
    let records: [RecordEntry]
    /// Owner names, lowercase wire format: the keys of ``index``, shared with it.
    let names: [UInt8]
    /// Every record's RDATA.
    let rdata: [UInt8]
    let index: NameIndex
    /// What proves non-existence in a signed zone (empty in an unsigned one).
    let denial: DenialIndex
    /// Whether the zone is signed, how it denies, and when its first signature expires; `nil`
    /// for an unsigned zone.
    public let signing: ZoneSigning?

    struct Node: Sendable {
        var nameStart: Int32
        var nameLength: UInt8
        var flags: NodeFlags
        var firstRRSet: Int32
        var rrsetCount: Int32
        /// Nearest strict ancestor that is a zone cut, or -1.
        var cutAbove: Int32
        /// The node `*.<this name>`, or -1.
        var wildcardChild: Int32
    }

    struct NodeFlags: OptionSet, Sendable {
        let rawValue: UInt8
        static let apex = NodeFlags(rawValue: 1)
        /// NS at a name other than the apex: a delegation point.
        static let cut = NodeFlags(rawValue: 2)
        static let cname = NodeFlags(rawValue: 4)
        static let dname = NodeFlags(rawValue: 8)
        /// Holds only NSEC3 records (and their RRSIGs): a hashed owner name, which exists for
        /// no query (RFC 5155 §7.2.8).
        static let nsec3Only = NodeFlags(rawValue: 16)
    }

    struct RRSetEntry: Sendable {
        var type: RecordType
        /// How many RRSIG records cover this RRset (RFC 4034 §3): they follow one another in
        /// ``records``, inside the node's RRSIG RRset, from ``firstSignature``.
        var signatureCount: UInt16 = 0
        var firstRecord: Int32
        var recordCount: Int32
        var firstSignature: Int32 = 0
    }

    struct RecordEntry: Sendable {
        var ttl: UInt32
        var rdataStart: Int32
        var rdataLength: UInt16
        /// For NS, MX and SRV: the node of the target name in this zone, or -1 (additional data).
        var targetNode: Int32
    }

    init(
        origin: DomainName, source: String, serial: UInt32, soa: RRSetID, negativeTTL: UInt32,
        nodes: [Node], rrsets: [RRSetEntry], records: [RecordEntry], rdata: [UInt8], index: NameIndex,
        denial: DenialIndex = DenialIndex(), signing: ZoneSigning? = nil,
        history: ZoneHistory = ZoneHistory(), expiresAt: UInt64? = nil
    ) {
        self.origin = origin
        self.source = source
        self.serial = serial
        self.apex = NodeID(rawValue: 0)
        self.soa = soa
        self.negativeTTL = negativeTTL
        self.nodes = nodes
        self.rrsets = rrsets
        self.records = records
        self.names = index.keys
        self.rdata = rdata
        self.index = index
        self.denial = denial
        self.signing = signing
        self.recordCount = records.count
        self.originLabels = origin.labelCount
        self.history = history
        self.expiresAt = expiresAt
    }

    /// The same zone data with another history or expiry time; the tables are shared, not copied.
    public func with(history: ZoneHistory? = nil, expiresAt: UInt64?? = nil) -> Zone {
        Zone(
            origin: origin, source: source, serial: serial, soa: soa, negativeTTL: negativeTTL,
            nodes: nodes, rrsets: rrsets, records: records, rdata: rdata, index: index,
            denial: denial, signing: signing, history: history ?? self.history,
            expiresAt: expiresAt ?? self.expiresAt)
    }

    // MARK: Lookup

    /// Classifies `name` for `type` (RFC 1034 §4.3.2 step 3, RFC 4592 §3.3.1, RFC 6672 §3.2).
    ///
    /// - Parameters:
    ///   - name: a lowercase name at or below ``origin``.
    ///   - apexLabels: how many labels `name` has above the origin (0 when `name` is the origin).
    public func lookup(_ name: NameView, apexLabels: Int, type: RecordType) -> LookupResult {
        // Closest encloser: the deepest existing node on the path (the apex always exists).
        var depth = 0
        var found: Int32 = 0
        while depth < apexLabels {
            // A hashed NSEC3 owner is not a name of the zone, whatever the type asked
            // (RFC 5155 §7.2.8, as NSD and Knot DNS).
            if let node = index.find(name.suffix(dropping: depth)),
                !nodes[Int(node)].flags.contains(.nsec3Only)
            {
                found = node
                break
            }
            depth += 1
        }
        if depth == apexLabels { found = 0 }
        let node = nodes[Int(found)]
        let id = NodeID(rawValue: found)
        let exact = depth == 0

        // Zone cuts first: data at or below a cut belongs to the child (DS excepted at the cut).
        if node.cutAbove >= 0 { return .delegation(cut: NodeID(rawValue: node.cutAbove)) }
        if node.flags.contains(.cut) && !(exact && type == .ds) { return .delegation(cut: id) }

        if !exact {
            if node.flags.contains(.dname), let dname = rrset(id, .dname) { return .dname(id, dname) }
            if node.wildcardChild >= 0 {
                return classify(NodeID(rawValue: node.wildcardChild), type: type, wildcard: true)
            }
            return .nxDomain(encloser: id)
        }
        return classify(id, type: type, wildcard: false)
    }

    private func classify(_ id: NodeID, type: RecordType, wildcard: Bool) -> LookupResult {
        let node = nodes[Int(id.rawValue)]
        if type == .any {
            return node.rrsetCount > 0 ? .any(id, wildcard: wildcard) : .noData(id, wildcard: wildcard)
        }
        if let found = rrset(id, type) { return .answer(id, found, wildcard: wildcard) }
        if node.flags.contains(.cname), let cname = rrset(id, .cname) {
            return .cname(id, cname, wildcard: wildcard)
        }
        return .noData(id, wildcard: wildcard)
    }

    /// The node for an exact lowercase name, if it exists (possibly as an empty non-terminal).
    public func node(named name: UnsafeRawBufferPointer) -> NodeID? {
        index.find(name).map(NodeID.init(rawValue:))
    }

    // MARK: Accessors

    /// Whether `node` is the cut `cut` or lies below it (glue that belongs to that delegation).
    public func isAtOrBelowCut(_ node: NodeID, cut: NodeID) -> Bool {
        node == cut || nodes[Int(node.rawValue)].cutAbove == cut.rawValue
    }

    /// The RRset of `type` at `node`.
    public func rrset(_ node: NodeID, _ type: RecordType) -> RRSetID? {
        let entry = nodes[Int(node.rawValue)]
        var index = entry.firstRRSet
        let end = entry.firstRRSet + entry.rrsetCount
        while index < end {
            if rrsets[Int(index)].type == type { return RRSetID(rawValue: index) }
            index += 1
        }
        return nil
    }

    /// All RRsets at `node`, in zone order.
    public func rrsets(at node: NodeID) -> [RRSetID] {
        let entry = nodes[Int(node.rawValue)]
        return (entry.firstRRSet..<(entry.firstRRSet + entry.rrsetCount)).map(RRSetID.init(rawValue:))
    }

    /// The RRset ANY is answered with (RFC 8482 §4.2 picks one): the first at `node` that is
    /// data, not RRSIG, NSEC or NSEC3 (which come with DO=1 or when asked for by type), else the
    /// first; `nil` when the node holds none.
    public func firstRRSet(at node: NodeID) -> RRSetID? {
        let entry = nodes[Int(node.rawValue)]
        guard entry.rrsetCount > 0 else { return nil }
        var index = entry.firstRRSet
        while index < entry.firstRRSet + entry.rrsetCount {
            let type = rrsets[Int(index)].type
            if type != .rrsig && type != .nsec && type != .nsec3 { return RRSetID(rawValue: index) }
            index += 1
        }
        return RRSetID(rawValue: entry.firstRRSet)
    }

    public func type(of rrset: RRSetID) -> RecordType { rrsets[Int(rrset.rawValue)].type }

    /// Calls `body` with the node's lowercase owner name.
    public func withName<R>(of node: NodeID, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let entry = nodes[Int(node.rawValue)]
        return try names.withUnsafeBytes {
            try body(
                UnsafeRawBufferPointer(
                    rebasing: $0[Int(entry.nameStart)..<(Int(entry.nameStart) + Int(entry.nameLength))]))
        }
    }

    /// The owner name as a value (for tests, logs and the checker; not for the query path).
    public func name(of node: NodeID) -> DomainName {
        withName(of: node) { DomainName(trustedWire: Array($0)) }
    }

    /// Calls `body` with each record's TTL, RDATA and additional-data target node.
    public func forEachRecord(
        of rrset: RRSetID,
        _ body: (_ ttl: UInt32, _ rdata: UnsafeRawBufferPointer, _ target: NodeID?) throws -> Void
    ) rethrows {
        let set = rrsets[Int(rrset.rawValue)]
        try rdata.withUnsafeBytes { bytes in
            for index in set.firstRecord..<(set.firstRecord + set.recordCount) {
                let record = records[Int(index)]
                let start = Int(record.rdataStart)
                let rdata = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + Int(record.rdataLength))])
                try body(
                    record.ttl, rdata, record.targetNode >= 0 ? NodeID(rawValue: record.targetNode) : nil)
            }
        }
    }

    /// Writes every record of `rrset` with `owner` as owner name, then with `signatures` the
    /// RRSIGs that cover it (RFC 4035 §3.1.1; their RDATA untouched, so a wildcard's keep its
    /// labels field, RFC 4035 §3.1.3.3); returns how many records were written. On overflow the
    /// writer is left mid-RRset: the caller rolls back to its mark.
    public func write(
        _ rrset: RRSetID, owner: UnsafeRawBufferPointer, ttlCap: UInt32 = .max, signatures: Bool = false,
        into writer: inout MessageWriter
    ) throws(WriteOverflow) -> Int {
        let set = rrsets[Int(rrset.rawValue)]
        try writeRecords(
            set.firstRecord, count: Int(set.recordCount), type: set.type, owner: owner, ttlCap: ttlCap,
            into: &writer)
        guard signatures && set.signatureCount > 0 else { return Int(set.recordCount) }
        try writeRecords(
            set.firstSignature, count: Int(set.signatureCount), type: .rrsig, owner: owner, ttlCap: ttlCap,
            into: &writer)
        return Int(set.recordCount) + Int(set.signatureCount)
    }

    private func writeRecords(
        _ first: Int32, count: Int, type: RecordType, owner: UnsafeRawBufferPointer, ttlCap: UInt32,
        into writer: inout MessageWriter
    ) throws(WriteOverflow) {
        let overflow: WriteOverflow? = rdata.withUnsafeBytes { bytes in
            for index in Int(first)..<(Int(first) + count) {
                let record = records[index]
                let start = Int(record.rdataStart)
                do throws(WriteOverflow) {
                    try writer.writeRecord(
                        owner: owner, type: type, ttl: min(record.ttl, ttlCap),
                        rdata: UnsafeRawBufferPointer(
                            rebasing: bytes[start..<(start + Int(record.rdataLength))]))
                } catch {
                    return error
                }
            }
            return nil
        }
        if let overflow { throw overflow }
    }

    /// Whether `rrset` has RRSIGs covering it.
    public func isSigned(_ rrset: RRSetID) -> Bool { rrsets[Int(rrset.rawValue)].signatureCount > 0 }
}
