import DNSWire

/// Checks a zone's records for the errors an authoritative server must refuse, then builds the
/// immutable ``Zone`` snapshot. Pure: no I/O, so it can be tested with records made in memory.
///
/// Errors (the zone is refused): records outside the origin or not of class IN; a missing,
/// misplaced or second SOA; no NS at the apex; CNAME beside other data or two CNAMEs
/// (RFC 1034 §3.6.2, RFC 2181 §10.1); two DNAMEs or data below a DNAME (RFC 6672 §2.4); data
/// other than glue at or below a delegation (RFC 1034 §4.2.1); DS away from a delegation point
/// (RFC 4035 §2.4); meta-types (RFC 6895 §3.1). Warnings: in-zone name servers without address
/// records (missing glue), TTLs that differ inside an RRset (RFC 2181 §5.2). Identical records are
/// merged (RFC 2181 §5).
public enum ZoneBuilder {
    public static func build(
        origin: DomainName, source: String, records input: [ZoneRecord], diagnostics: [ZoneDiagnostic] = []
    ) -> Result<LoadedZone, ZoneLoadError> {
        var checker = Checker(origin: origin.lowercased(), source: source, diagnostics: diagnostics)
        checker.collect(input)
        checker.checkApex()
        checker.checkNodes()
        guard !checker.diagnostics.contains(where: { $0.severity == .error }) else {
            return .failure(ZoneLoadError(origin: origin, diagnostics: checker.diagnostics))
        }
        let zone = checker.makeZone()
        return .success(LoadedZone(zone: zone, warnings: checker.diagnostics))
    }
}

/// Loads a zone file from disk: ``ZoneFileReader`` then ``ZoneBuilder``.
public enum ZoneLoader {
    public static func load(path: String, origin: DomainName) -> Result<LoadedZone, ZoneLoadError> {
        var reader = ZoneFileReader()
        reader.read(path: path, origin: origin)
        return ZoneBuilder.build(
            origin: origin, source: path, records: reader.records, diagnostics: reader.diagnostics)
    }
}

private struct PendingNode {
    var name: DomainName  // lowercase
    var rrsets: [(type: RecordType, records: [ZoneRecord])] = []
}

private struct Checker {
    let origin: DomainName
    let source: String
    var diagnostics: [ZoneDiagnostic]
    var nodes: [PendingNode] = []
    var nodeIndex: [DomainName: Int] = [:]
    var cuts: Set<DomainName> = []
    var dnames: Set<DomainName> = []
    /// Every NS target in the zone, lowercase: address records of these names are glue.
    var nameServers: Set<DomainName> = []

    init(origin: DomainName, source: String, diagnostics: [ZoneDiagnostic]) {
        self.origin = origin
        self.source = source
        self.diagnostics = diagnostics
        nodes.append(PendingNode(name: origin))
        nodeIndex[origin] = 0
    }

    mutating func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(ZoneDiagnostic(.error, location, message))
    }

    mutating func warning(_ location: SourceLocation, _ message: String) {
        diagnostics.append(ZoneDiagnostic(.warning, location, message))
    }

    /// Groups records into nodes and RRsets, refusing what can never be in this zone.
    mutating func collect(_ records: [ZoneRecord]) {
        nodes.reserveCapacity(records.count)
        nodeIndex.reserveCapacity(records.count)
        for record in records {
            let owner = record.owner.lowercased()
            guard record.rrClass == .internet else {
                error(record.location, "class \(record.rrClass) is not supported, only IN")
                continue
            }
            guard owner.isSubdomain(of: origin) else {
                error(record.location, "\(record.owner) is outside the zone \(origin)")
                continue
            }
            guard !record.type.isMeta else {
                error(record.location, "type \(record.type) cannot appear in a zone")
                continue
            }
            let index = nodeIndex[owner] ?? addNode(owner)
            if let set = nodes[index].rrsets.firstIndex(where: { $0.type == record.type }) {
                let existing = nodes[index].rrsets[set].records
                if existing.contains(where: { $0.rdata == record.rdata }) { continue }
                if existing[0].ttl != record.ttl {
                    warning(
                        record.location,
                        "TTL \(record.ttl) differs from \(existing[0].ttl) at \(existing[0].location) in the \(record.type) RRset of \(record.owner)"
                    )
                }
                nodes[index].rrsets[set].records.append(record)
            } else {
                nodes[index].rrsets.append((record.type, [record]))
            }
        }
        for node in nodes {
            for record in node.rrsets.first(where: { $0.type == .ns })?.records ?? [] {
                if let target = DomainName(wire: record.rdata) { nameServers.insert(target.lowercased()) }
            }
        }
        for node in nodes {
            // The apex NS is the zone's own; a DNAME may sit at the apex (RFC 6672 §2.3).
            if node.name != origin && node.rrsets.contains(where: { $0.type == .ns }) {
                cuts.insert(node.name)
            }
            if node.rrsets.contains(where: { $0.type == .dname }) { dnames.insert(node.name) }
        }
    }

    private mutating func addNode(_ name: DomainName) -> Int {
        nodes.append(PendingNode(name: name))
        nodeIndex[name] = nodes.count - 1
        return nodes.count - 1
    }

    mutating func checkApex() {
        let apex = nodes[0]
        let whole = SourceLocation(file: source, line: nil)
        if let soa = apex.rrsets.first(where: { $0.type == .soa }) {
            for extra in soa.records.dropFirst() {
                error(extra.location, "second SOA record for \(origin) (first at \(soa.records[0].location))")
            }
        } else {
            error(whole, "no SOA record at the zone apex \(origin)")
        }
        if !apex.rrsets.contains(where: { $0.type == .ns }) {
            error(whole, "no NS records at the zone apex \(origin)")
        }
    }

    mutating func checkNodes() {
        for node in nodes {
            let isApex = node.name == origin
            // A cut strictly above wins: NS and DS there are data below that delegation.
            let cut =
                node.name.parent.flatMap { cutAtOrAbove($0) } ?? (cuts.contains(node.name) ? node.name : nil)
            for (type, records) in node.rrsets {
                let first = records[0]
                if type == .soa && !isApex {
                    error(first.location, "SOA record at \(first.owner), not at the zone apex \(origin)")
                }
                if type == .ds && !cuts.contains(node.name) {
                    error(first.location, "DS record at \(first.owner), which is not a delegation point")
                }
                if let cut, !isGlueOrCutData(type, owner: node.name, atCut: cut == node.name) {
                    if cut == node.name {
                        error(
                            first.location,
                            "\(type) record at \(first.owner) is non-glue data at delegation point \(cut)")
                    } else {
                        error(first.location, "\(type) record at \(first.owner) is below delegation \(cut)")
                    }
                }
                if let dname = dnameStrictlyAbove(node.name) {
                    error(first.location, "\(type) record at \(first.owner) is below the DNAME at \(dname)")
                }
                if (type == .cname || type == .dname) && records.count > 1 {
                    error(records[1].location, "more than one \(type) record at \(first.owner)")
                }
            }
            checkCNAME(node)
            checkGlue(node)
        }
    }

    /// RFC 1034 §3.6.2, RFC 2181 §10.1: a CNAME owner holds nothing else (RRSIG and NSEC aside).
    private mutating func checkCNAME(_ node: PendingNode) {
        guard let cname = node.rrsets.first(where: { $0.type == .cname })?.records[0] else { return }
        for (type, records) in node.rrsets where type != .cname && type != .rrsig && type != .nsec {
            let other = records[0]
            let later = other.location.line ?? 0 > cname.location.line ?? 0 ? other : cname
            let earlier = later.location == other.location ? cname : other
            error(
                later.location,
                "CNAME and other data at \(cname.owner) (\(earlier.type) at \(earlier.location))")
        }
    }

    /// In-zone name servers need address records, or resolvers cannot reach them (RFC 1034 §4.2.1).
    private mutating func checkGlue(_ node: PendingNode) {
        guard let ns = node.rrsets.first(where: { $0.type == .ns }) else { return }
        for record in ns.records {
            guard let target = DomainName(wire: record.rdata)?.lowercased(), target.isSubdomain(of: origin)
            else {
                continue
            }
            let hasAddress =
                nodeIndex[target].map { index in
                    nodes[index].rrsets.contains { $0.type == .a || $0.type == .aaaa }
                } ?? false
            if !hasAddress {
                warning(
                    record.location,
                    "missing glue: name server \(target) of \(record.owner) has no A or AAAA record")
            }
        }
    }

    /// At a cut: NS, DS (and DNSSEC records) of the delegation; at or below it: address records of
    /// a name that some NS record names (glue). Anything else is occluded data.
    private func isGlueOrCutData(_ type: RecordType, owner: DomainName, atCut: Bool) -> Bool {
        switch type {
        case .a, .aaaa: nameServers.contains(owner)
        case .ns, .ds, .rrsig, .nsec: atCut
        default: false
        }
    }

    /// The zone cut at `name` or above it (the apex is not a cut).
    private func cutAtOrAbove(_ name: DomainName) -> DomainName? {
        var current: DomainName? = name
        while let here = current, here != origin {
            if cuts.contains(here) { return here }
            current = here.parent
        }
        return nil
    }

    private func dnameStrictlyAbove(_ name: DomainName) -> DomainName? {
        var current = name.parent
        while let here = current, here.wire.count >= origin.wire.count {
            if dnames.contains(here) { return here }
            if here == origin { break }
            current = here.parent
        }
        return nil
    }

    // MARK: Building the snapshot

    /// Flattens the checked nodes into the arrays of ``Zone``, adding empty non-terminals.
    mutating func makeZone() -> Zone {
        // Empty non-terminals: every ancestor between an owner and the apex exists (RFC 8020).
        for node in nodes {
            var parent = node.name.parent
            while let here = parent, here != origin, here.isSubdomain(of: origin) {
                if nodeIndex[here] == nil { _ = addNode(here) }
                parent = here.parent
            }
        }
        var arena: [UInt8] = []
        var flatNodes: [Zone.Node] = []
        var flatSets: [Zone.RRSetEntry] = []
        var flatRecords: [Zone.RecordEntry] = []
        var pendingTargets: [(record: Int, target: DomainName)] = []
        var soaID = RRSetID(rawValue: 0)
        var soaTTL: UInt32 = 0
        var soaMinimum: UInt32 = 0
        var serial: UInt32 = 0

        for (nodeNumber, node) in nodes.enumerated() {
            var flags: Zone.NodeFlags = []
            if nodeNumber == 0 { flags.insert(.apex) }
            if cuts.contains(node.name) { flags.insert(.cut) }
            if dnames.contains(node.name) { flags.insert(.dname) }
            if node.rrsets.contains(where: { $0.type == .cname }) { flags.insert(.cname) }
            let nameStart = Int32(arena.count)
            arena.append(contentsOf: node.name.wire)
            // Apex SOA then NS first: the order ANY and transfers expect.
            let ordered = node.rrsets.sorted { rank($0.type) < rank($1.type) }
            let firstSet = Int32(flatSets.count)
            for (type, records) in ordered {
                if type == .soa && nodeNumber == 0 {
                    soaID = RRSetID(rawValue: Int32(flatSets.count))
                    let fields = soaFields(records[0].rdata)
                    soaTTL = records[0].ttl
                    serial = fields.serial
                    soaMinimum = fields.minimum
                }
                flatSets.append(
                    Zone.RRSetEntry(
                        type: type, firstRecord: Int32(flatRecords.count), recordCount: Int32(records.count)))
                for record in records {
                    if let target = additionalTarget(record) {
                        pendingTargets.append((flatRecords.count, target))
                    }
                    flatRecords.append(
                        Zone.RecordEntry(
                            ttl: record.ttl, rdataStart: Int32(arena.count),
                            rdataLength: UInt16(record.rdata.count),
                            targetNode: -1))
                    arena.append(contentsOf: record.rdata)
                }
            }
            flatNodes.append(
                Zone.Node(
                    nameStart: nameStart, nameLength: UInt8(node.name.wire.count), flags: flags,
                    firstRRSet: firstSet,
                    rrsetCount: Int32(ordered.count), cutAbove: -1, wildcardChild: -1))
        }
        for (number, node) in nodes.enumerated() {
            if let parent = node.name.parent, let cut = cutAtOrAbove(parent), let cutIndex = nodeIndex[cut] {
                flatNodes[number].cutAbove = Int32(cutIndex)
            }
            if node.name.wire.starts(with: [1, UInt8(ascii: "*")]), let parent = node.name.parent,
                let parentIndex = nodeIndex[parent]
            {
                flatNodes[parentIndex].wildcardChild = Int32(number)
            }
        }
        for (record, target) in pendingTargets {
            if let node = nodeIndex[target] { flatRecords[record].targetNode = Int32(node) }
        }
        let index = NameIndex(nodes.enumerated().map { ($0.element.name.wire, Int32($0.offset)) })
        return Zone(
            origin: origin, source: source, serial: serial, soa: soaID, negativeTTL: min(soaTTL, soaMinimum),
            nodes: flatNodes, rrsets: flatSets, records: flatRecords, arena: arena, index: index)
    }

    private func rank(_ type: RecordType) -> Int {
        switch type {
        case .soa: 0
        case .ns: 1
        default: 2
        }
    }

    /// The name whose addresses go in the additional section (RFC 1035 §3.3.9, §3.3.11; RFC 2782).
    private func additionalTarget(_ record: ZoneRecord) -> DomainName? {
        let offset: Int
        switch record.type {
        case .ns: offset = 0
        case .mx: offset = 2
        case .srv: offset = 6
        default: return nil
        }
        guard record.rdata.count > offset else { return nil }
        return DomainName(wire: Array(record.rdata[offset...]))?.lowercased()
    }

    private func soaFields(_ rdata: [UInt8]) -> (serial: UInt32, minimum: UInt32) {
        rdata.withUnsafeBytes { bytes in
            let names = nameLength(bytes, from: 0) + nameLength(bytes, from: nameLength(bytes, from: 0))
            func word(_ at: Int) -> UInt32 {
                UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8
                    | UInt32(bytes[at + 3])
            }
            return (word(names), word(names + 16))
        }
    }
}
