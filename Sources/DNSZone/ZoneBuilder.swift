import DNSWire

#if canImport(Glibc)
    import Glibc
#endif

/// Checks a zone's records for the errors an authoritative server must refuse, then builds the
/// immutable ``Zone`` snapshot. Pure: no I/O, so it can be tested with records made in memory.
///
/// Errors (the zone is refused): records outside the origin or not of class IN; a missing,
/// misplaced or second SOA; no NS at the apex; CNAME beside other data or two CNAMEs
/// (RFC 1034 §3.6.2, RFC 2181 §10.1); two DNAMEs or data below a DNAME (RFC 6672 §2.4);
/// meta-types (RFC 6895 §3.1). Warnings: in-zone name servers without address records (missing
/// glue), TTLs that differ inside an RRset (RFC 2181 §5.2), and what NSD and Knot DNS load too:
/// data other than glue at or below a delegation (occluded, RFC 1034 §4.2.1), DS away from a
/// delegation point (RFC 4035 §2.4). Identical records are
/// merged (RFC 2181 §5).
public enum ZoneBuilder {
    /// Checks records made in memory.
    public static func build(
        origin: DomainName, source: String, records: [ZoneRecord], diagnostics: [ZoneDiagnostic] = [],
        now: UInt64? = nil
    ) -> Result<LoadedZone, ZoneLoadError> {
        build(
            origin: origin, source: source, table: ZoneRecordTable(records), diagnostics: diagnostics,
            now: now)
    }

    /// Checks records read from zone files; the zone keeps the table's RDATA buffer as its own.
    /// `now` (seconds since the Unix epoch, the clock when `nil`) is when signatures are checked.
    public static func build(
        origin: DomainName, source: String, table: ZoneRecordTable, diagnostics: [ZoneDiagnostic] = [],
        now: UInt64? = nil
    ) -> Result<LoadedZone, ZoneLoadError> {
        var checker = Checker(
            origin: origin.lowercased(), source: source, table: table, diagnostics: diagnostics)
        checker.collect()
        checker.addEmptyNonTerminals()
        checker.groupRRSets()
        checker.indexSignatures()
        checker.findCutsAndNameServers()
        checker.checkApex()
        checker.checkNodes()
        if !checker.diagnostics.contains(where: { $0.severity == .error }) {
            checker.checkSigning(now: now ?? UInt64(time(nil)))
        }
        guard !checker.diagnostics.contains(where: { $0.severity == .error }) else {
            return .failure(ZoneLoadError(origin: origin, diagnostics: checker.diagnostics))
        }
        let zone = checker.makeZone()
        return .success(LoadedZone(zone: zone, warnings: checker.diagnostics))
    }
}

/// Loads a zone file from disk: ``ZoneFileReader`` then ``ZoneBuilder``.
public enum ZoneLoader {
    public static func load(path: String, origin: DomainName, now: UInt64? = nil) -> Result<
        LoadedZone, ZoneLoadError
    > {
        var reader = ZoneFileReader()
        reader.read(path: path, origin: origin)
        // A file that could not be read is that one error, not a cascade of "no SOA", "no NS".
        if reader.records.count == 0, reader.diagnostics.contains(where: { $0.severity == .error }) {
            return .failure(ZoneLoadError(origin: origin, diagnostics: reader.diagnostics))
        }
        return ZoneBuilder.build(
            origin: origin, source: path, table: reader.records, diagnostics: reader.diagnostics, now: now)
    }
}

/// The checker's working state: every table is flat and indexed by node or record number, so a
/// million-name zone is checked with a few dozen allocations, not millions.
///
/// Node 0 is the apex; nodes are numbered in the order their names first appear, then the empty
/// non-terminals. Output RRsets are contiguous per node, output records contiguous per RRset:
/// they become ``Zone``'s arrays as they are.
struct Checker {
    let origin: DomainName
    let source: String
    let table: ZoneRecordTable
    var diagnostics: [ZoneDiagnostic]

    /// Node names, lowercase.
    var names: NameIndex
    /// The node of each table record, or -1 for a refused record.
    var recordNode: [Int32] = []

    // Per node.
    var parent: [Int32] = []
    var flags: [Zone.NodeFlags] = []
    /// Some NS record names this node: its address records are glue.
    var isNameServer: [Bool] = []
    /// Nearest strict ancestor that is a cut (the apex never is), or -1.
    var cutAbove: [Int32] = []
    /// Nearest strict ancestor holding a DNAME (the apex included), or -1.
    var dnameAbove: [Int32] = []
    var firstRRSet: [Int32] = []
    var rrsetCount: [Int32] = []

    // Output.
    var rrsets: [Zone.RRSetEntry] = []
    var records: [Zone.RecordEntry] = []
    /// The table record each output record came from, for locations and owner names.
    var recordSource: [Int32] = []

    // DNSSEC (ZoneBuilder+DNSSEC.swift).
    var denial = DenialIndex()
    var signing: ZoneSigning? = nil
    /// Warnings of one kind given so far, so a zone signed wrong everywhere gives a few lines.
    var warningCounts: [String: Int] = [:]

    init(origin: DomainName, source: String, table: ZoneRecordTable, diagnostics: [ZoneDiagnostic]) {
        self.origin = origin
        self.source = source
        self.table = table
        self.diagnostics = diagnostics
        names = NameIndex()
    }

    mutating func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(ZoneDiagnostic(.error, location, message))
    }

    mutating func warning(_ location: SourceLocation, _ message: String) {
        diagnostics.append(ZoneDiagnostic(.warning, location, message))
    }

    // MARK: Nodes

    /// Numbers the apex 0, then gives each record its node, refusing what can never be in this
    /// zone.
    ///
    /// Records come in runs that share one owner. The hash of every run's owner is taken first,
    /// so that the node table's slot for a run a few ahead is already being fetched while this
    /// one is inserted: with a million names, each new name's slot is otherwise a cache miss.
    /// The number of runs also bounds the number of names, so the table is sized once.
    mutating func collect() {
        let lookahead = 8
        let entries = table.entries
        var runHashes: [UInt32] = []
        var previousOwner: Int32 = -1
        for number in entries.indices where entries[number].ownerStart != previousOwner {
            previousOwner = entries[number].ownerStart
            runHashes.append(table.withOwner(number) { NameIndex.hashLowercased($0) })
        }
        names = NameIndex(reservingCapacity: runHashes.count + 1)
        _ = origin.wire.withUnsafeBytes { names.insert($0) }
        recordNode = [Int32](repeating: -1, count: table.count)
        var lowered = [UInt8](repeating: 0, count: NameLimits.maxWireLength)
        var run = -1
        var node: Int32 = -1  // of the current run; -1 when its owner is outside the zone
        previousOwner = -1
        for (number, entry) in entries.enumerated() {
            if entry.ownerStart != previousOwner {
                previousOwner = entry.ownerStart
                run += 1
                if run + lookahead < runHashes.count { names.prefetch(hash: runHashes[run + lookahead]) }
                node = table.withOwner(number) { owner in
                    guard origin.wire.withUnsafeBytes({ DomainName.isSubdomain(owner, of: $0) }) else {
                        return -1
                    }
                    return withLowercased(owner, in: &lowered) {
                        names.insert($0, hash: runHashes[run]).number
                    }
                }
            }
            guard entry.rrClass == .internet else {
                error(table.location(number), "class \(entry.rrClass) is not supported, only IN")
                continue
            }
            guard node >= 0 else {
                error(table.location(number), "\(table.owner(number)) is outside the zone \(origin)")
                continue
            }
            guard !entry.type.isMeta else {
                error(table.location(number), "type \(entry.type) cannot appear in a zone")
                continue
            }
            recordNode[number] = node
        }
    }

    /// Every ancestor between an owner and the apex exists (RFC 8020); finds each node's parent.
    mutating func addEmptyNonTerminals() {
        parent = [Int32](repeating: -1, count: names.count)
        var scratch = [UInt8](repeating: 0, count: NameLimits.maxWireLength)
        var node: Int32 = 1
        while Int(node) < names.count {
            // The parent is the node's own key without its first label.
            let (start, length) = names.keyRange(node)
            let firstLabel = 1 + Int(names.keys[Int(start)])
            let suffix = (Int(start) + firstLabel)..<(Int(start) + Int(length))
            let found: Int32? = names.keys.withUnsafeBytes { keys in
                let bytes = UnsafeRawBufferPointer(rebasing: keys[suffix])
                if let known = names.find(bytes) { return known }
                // Not known yet: an empty non-terminal. Copied out, as inserting moves the keys.
                scratch.withUnsafeMutableBytes { $0.copyMemory(from: bytes) }
                return nil
            }
            if let found {
                parent[Int(node)] = found
            } else {
                parent[Int(node)] = scratch.withUnsafeBytes {
                    names.insert(UnsafeRawBufferPointer(rebasing: $0[0..<suffix.count])).number
                }
                parent.append(-1)
            }
            node += 1
        }
    }

    /// Sorts records into RRsets per node, apex SOA then NS first (the order ANY and transfers
    /// expect), merging identical records (RFC 2181 §5).
    mutating func groupRRSets() {
        let nodeCount = names.count
        // Counting sort of the accepted records by node; file order is kept within a node.
        var start = [Int32](repeating: 0, count: nodeCount + 1)
        for node in recordNode where node >= 0 { start[Int(node) + 1] += 1 }
        for node in 0..<nodeCount { start[node + 1] += start[node] }
        var order = [Int32](repeating: 0, count: Int(start[nodeCount]))
        var fill = start
        for (record, node) in recordNode.enumerated() where node >= 0 {
            order[Int(fill[Int(node)])] = Int32(record)
            fill[Int(node)] += 1
        }
        records.reserveCapacity(order.count)
        recordSource.reserveCapacity(order.count)
        rrsets.reserveCapacity(order.count)
        firstRRSet = [Int32](repeating: 0, count: nodeCount)
        rrsetCount = [Int32](repeating: 0, count: nodeCount)
        let entries = table.entries
        var types: [RecordType] = []
        for node in 0..<nodeCount {
            firstRRSet[node] = Int32(rrsets.count)
            let members = order[Int(start[node])..<Int(start[node + 1])]
            types.removeAll(keepingCapacity: true)
            for record in members where !types.contains(entries[Int(record)].type) {
                types.append(entries[Int(record)].type)
            }
            for rank in 0...2 {
                for type in types where Checker.rank(type) == rank {
                    addRRSet(type, from: members, entries: entries)
                }
            }
            rrsetCount[node] = Int32(rrsets.count) - firstRRSet[node]
        }
    }

    private mutating func addRRSet(
        _ type: RecordType, from members: ArraySlice<Int32>, entries: [ZoneRecordTable.Entry]
    ) {
        let first = records.count
        for record in members where entries[Int(record)].type == type {
            let entry = entries[Int(record)]
            let duplicate = (first..<records.count).contains {
                table.sameRData(Int(recordSource[$0]), Int(record))
            }
            if duplicate { continue }
            // RRSIGs take the TTL of the RRset each covers (RFC 4034 §3): theirs may differ.
            if records.count > first && records[first].ttl != entry.ttl && type != .rrsig {
                let firstSource = Int(recordSource[first])
                warning(
                    table.location(Int(record)),
                    "TTL \(entry.ttl) differs from \(records[first].ttl) at \(table.location(firstSource)) in the \(type) RRset of \(table.owner(Int(record)))"
                )
            }
            records.append(
                Zone.RecordEntry(
                    ttl: entry.ttl, rdataStart: entry.rdataStart, rdataLength: entry.rdataLength,
                    targetNode: -1))
            recordSource.append(record)
        }
        rrsets.append(
            Zone.RRSetEntry(type: type, firstRecord: Int32(first), recordCount: Int32(records.count - first)))
    }

    /// Marks cuts, DNAMEs, CNAMEs and name servers, then each node's nearest cut and DNAME above.
    mutating func findCutsAndNameServers() {
        let nodeCount = names.count
        flags = [Zone.NodeFlags](repeating: [], count: nodeCount)
        flags[0].insert(.apex)
        isNameServer = [Bool](repeating: false, count: nodeCount)
        var lowered = [UInt8](repeating: 0, count: NameLimits.maxWireLength)
        for node in 0..<nodeCount {
            for set in rrsetRange(Int32(node)) {
                switch rrsets[set].type {
                // The apex NS is the zone's own; a DNAME may sit at the apex (RFC 6672 §2.3).
                case .ns:
                    if node != 0 { flags[node].insert(.cut) }
                    for record in recordRange(set) {
                        if let target = lookUpName(inRData: record, at: 0, scratch: &lowered) {
                            isNameServer[Int(target)] = true
                        }
                    }
                case .dname: flags[node].insert(.dname)
                case .cname: flags[node].insert(.cname)
                default: break
                }
            }
            let range = rrsetRange(Int32(node))
            if range.contains(where: { rrsets[$0].type == .nsec3 })
                && range.allSatisfy({ rrsets[$0].type == .nsec3 || rrsets[$0].type == .rrsig })
            {
                flags[node].insert(.nsec3Only)
            }
        }
        // Parents may be numbered after their children: walk up until a known node, then fill in.
        cutAbove = [Int32](repeating: -2, count: nodeCount)
        dnameAbove = [Int32](repeating: -2, count: nodeCount)
        cutAbove[0] = -1
        dnameAbove[0] = -1
        var pending: [Int32] = []
        for node in 0..<nodeCount where cutAbove[node] == -2 {
            var here = Int32(node)
            while cutAbove[Int(here)] == -2 {
                pending.append(here)
                here = parent[Int(here)]
            }
            while let child = pending.popLast() {
                let up = Int(parent[Int(child)])
                cutAbove[Int(child)] = flags[up].contains(.cut) ? Int32(up) : cutAbove[up]
                dnameAbove[Int(child)] = flags[up].contains(.dname) ? Int32(up) : dnameAbove[up]
            }
        }
    }

    // MARK: Checks

    mutating func checkApex() {
        let whole = SourceLocation(file: source, line: nil)
        if let soa = rrset(0, .soa) {
            let first = recordRange(soa).lowerBound
            for extra in recordRange(soa).dropFirst() {
                error(
                    location(extra), "second SOA record for \(origin) (first at \(location(first)))")
            }
        } else {
            error(whole, "no SOA record at the zone apex \(origin)")
        }
        if rrset(0, .ns) == nil {
            error(whole, "no NS records at the zone apex \(origin)")
        }
    }

    mutating func checkNodes() {
        for node in 0..<Int32(names.count) where rrsetCount[Int(node)] > 0 {
            let isApex = node == 0
            let isCut = flags[Int(node)].contains(.cut)
            // A cut strictly above wins: NS and DS there are data below that delegation.
            let cut = cutAbove[Int(node)] >= 0 ? cutAbove[Int(node)] : (isCut ? node : -1)
            for set in rrsetRange(node) {
                let type = rrsets[set].type
                let records = recordRange(set)
                let first = records.lowerBound
                if type == .soa && !isApex {
                    error(location(first), "SOA record at \(owner(first)), not at the zone apex \(origin)")
                }
                // NSD and Knot DNS load the next three, so a secondary must too (its primary
                // serves them): they are warnings, and occluded data is never answered.
                if type == .ds && !isCut {
                    warning(location(first), "DS record at \(owner(first)), which is not a delegation point")
                }
                if cut >= 0, !isGlueOrCutData(type, node: node, atCut: cut == node) {
                    if cut == node {
                        warning(
                            location(first),
                            "\(type) record at \(owner(first)) is non-glue data at delegation point \(name(cut)) (occluded: never answered)"
                        )
                    } else {
                        warning(
                            location(first),
                            "\(type) record at \(owner(first)) is below delegation \(name(cut)) (occluded: never answered)"
                        )
                    }
                }
                // Hashed NSEC3 owners sit below the apex but are no names of the zone: a DNAME at
                // the apex (RFC 6672 §2.3) does not occlude them.
                if dnameAbove[Int(node)] >= 0 && !flags[Int(node)].contains(.nsec3Only) {
                    error(
                        location(first),
                        "\(type) record at \(owner(first)) is below the DNAME at \(name(dnameAbove[Int(node)]))"
                    )
                }
                if (type == .cname || type == .dname) && records.count > 1 {
                    error(location(first + 1), "more than one \(type) record at \(owner(first))")
                }
            }
            checkCNAME(node)
            checkGlue(node)
        }
    }

    /// RFC 1034 §3.6.2, RFC 2181 §10.1: a CNAME owner holds nothing else (RRSIG and NSEC aside).
    private mutating func checkCNAME(_ node: Int32) {
        guard let cnameSet = rrset(node, .cname) else { return }
        let cname = recordRange(cnameSet).lowerBound
        for set in rrsetRange(node) {
            let type = rrsets[set].type
            guard type != .cname && type != .rrsig && type != .nsec else { continue }
            let other = recordRange(set).lowerBound
            let (later, earlier, earlierType) =
                line(other) > line(cname) ? (other, cname, RecordType.cname) : (cname, other, type)
            error(
                location(later),
                "CNAME and other data at \(owner(cname)) (\(earlierType) at \(location(earlier)))")
        }
    }

    /// In-zone name servers need address records, or resolvers cannot reach them (RFC 1034 §4.2.1).
    private mutating func checkGlue(_ node: Int32) {
        guard let ns = rrset(node, .ns) else { return }
        for record in recordRange(ns) {
            let target = withRData(record) { DomainName(wire: Array($0))?.lowercased() }
            guard let target, target.isSubdomain(of: origin) else { continue }
            let hasAddress =
                target.wire.withUnsafeBytes { names.find($0) }.map { found in
                    rrset(found, .a) != nil || rrset(found, .aaaa) != nil
                } ?? false
            if !hasAddress {
                warning(
                    location(record),
                    "missing glue: name server \(target) of \(owner(record)) has no A or AAAA record")
            }
        }
    }

    /// At a cut: NS, DS (and DNSSEC records) of the delegation; at or below it: address records of
    /// a name that some NS record names (glue). Anything else is occluded data.
    private func isGlueOrCutData(_ type: RecordType, node: Int32, atCut: Bool) -> Bool {
        switch type {
        case .a, .aaaa: isNameServer[Int(node)]
        case .ns, .ds, .rrsig, .nsec: atCut
        default: false
        }
    }

    // MARK: Building the snapshot

    /// Links wildcards and additional-data targets, and hands the arrays to ``Zone``.
    mutating func makeZone() -> Zone {
        let nodeCount = names.count
        var nodes: [Zone.Node] = []
        nodes.reserveCapacity(nodeCount)
        for node in 0..<nodeCount {
            let (nameStart, nameLength) = names.keyRange(Int32(node))
            nodes.append(
                Zone.Node(
                    nameStart: nameStart, nameLength: nameLength, flags: flags[node],
                    firstRRSet: firstRRSet[node],
                    rrsetCount: rrsetCount[node], cutAbove: cutAbove[node], wildcardChild: -1))
        }
        names.keys.withUnsafeBytes { keys in
            for node in 1..<nodeCount {
                let start = Int(nodes[node].nameStart)
                if keys[start] == 1 && keys[start + 1] == UInt8(ascii: "*") {
                    nodes[Int(parent[node])].wildcardChild = Int32(node)
                }
            }
        }
        var lowered = [UInt8](repeating: 0, count: NameLimits.maxWireLength)
        for set in rrsets.indices {
            // The name whose addresses go in the additional section (RFC 1035 §3.3.9, §3.3.11; RFC 2782).
            let offset: Int
            switch rrsets[set].type {
            case .ns: offset = 0
            case .mx: offset = 2
            case .srv: offset = 6
            default: continue
            }
            for record in recordRange(set) {
                records[record].targetNode = lookUpName(inRData: record, at: offset, scratch: &lowered) ?? -1
            }
        }
        let soa = rrset(0, .soa)!
        let soaRecord = records[recordRange(soa).lowerBound]
        // libldns and the transfer reader only hand over SOA RDATA of the right shape.
        let timers = withRData(recordRange(soa).lowerBound) { SOATimers(soaRData: $0)! }
        return Zone(
            origin: origin, source: source, serial: timers.serial, soa: RRSetID(rawValue: Int32(soa)),
            negativeTTL: min(soaRecord.ttl, timers.minimum), nodes: nodes, rrsets: rrsets, records: records,
            rdata: table.rdata, index: names, denial: denial, signing: signing)
    }

    private static func rank(_ type: RecordType) -> Int {
        switch type {
        case .soa: 0
        case .ns: 1
        default: 2
        }
    }

    // MARK: Small accessors

    func rrsetRange(_ node: Int32) -> Range<Int> {
        Int(firstRRSet[Int(node)])..<Int(firstRRSet[Int(node)] + rrsetCount[Int(node)])
    }

    func recordRange(_ set: Int) -> Range<Int> {
        Int(rrsets[set].firstRecord)..<Int(rrsets[set].firstRecord + rrsets[set].recordCount)
    }

    func rrset(_ node: Int32, _ type: RecordType) -> Int? {
        rrsetRange(node).first { rrsets[$0].type == type }
    }

    func location(_ record: Int) -> SourceLocation { table.location(Int(recordSource[record])) }
    private func line(_ record: Int) -> Int32 { table.entries[Int(recordSource[record])].line }
    func owner(_ record: Int) -> DomainName { table.owner(Int(recordSource[record])) }
    func name(_ node: Int32) -> DomainName {
        names.withKey(node) { DomainName(trustedWire: Array($0)) }
    }

    func withRData<R>(_ record: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        table.withRData(Int(recordSource[record]), body)
    }

    /// The node named by the domain name that fills output record `record`'s RDATA from
    /// `offset` to its end, if that is one valid name and a node of this zone.
    private func lookUpName(inRData record: Int, at offset: Int, scratch: inout [UInt8]) -> Int32? {
        withRData(record) { rdata -> Int32? in
            guard rdata.count > offset else { return nil }
            let target = UnsafeRawBufferPointer(rebasing: rdata[offset...])
            guard DomainName.isValidWire(target) else { return nil }
            return withLowercased(target, in: &scratch) { names.find($0) }
        }
    }
}

/// Calls `body` with `name` ASCII-lowercased (RFC 4343) in `scratch`, which holds a whole name.
func withLowercased<R>(
    _ name: UnsafeRawBufferPointer, in scratch: inout [UInt8], _ body: (UnsafeRawBufferPointer) -> R
) -> R {
    scratch.withUnsafeMutableBytes { lowered in
        for k in 0..<name.count { lowered[k] = asciiLowercase(name[k]) }
        return body(UnsafeRawBufferPointer(rebasing: lowered[0..<name.count]))
    }
}
