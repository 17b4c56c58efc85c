import DNSWire

extension Zone {
    /// The apex SOA's timers.
    public var soaTimers: SOATimers {
        withFirstRecord(of: soa) { _, rdata in SOATimers(soaRData: rdata)! }
    }

    /// The apex SOA record as a value.
    public var soaRecord: ResourceRecord {
        withFirstRecord(of: soa) { ttl, rdata in
            ResourceRecord(owner: origin, type: .soa, ttl: ttl, rdata: Array(rdata))
        }
    }

    /// Calls `body` with every record of the zone: the apex SOA first, then every other RRset
    /// node by node (the order of a zone transfer, RFC 5936 §2.2). Owners are lowercase.
    public func forEachRecordInTransferOrder(
        _ body: (
            _ owner: UnsafeRawBufferPointer, _ type: RecordType, _ ttl: UInt32,
            _ rdata: UnsafeRawBufferPointer
        ) throws -> Void
    ) rethrows {
        try withName(of: apex) { owner in
            try forEachRecord(of: soa) { ttl, rdata, _ in try body(owner, .soa, ttl, rdata) }
        }
        for node in nodes.indices {
            let id = NodeID(rawValue: Int32(node))
            let entry = nodes[node]
            guard entry.rrsetCount > 0 else { continue }
            try withName(of: id) { owner in
                for set in entry.firstRRSet..<(entry.firstRRSet + entry.rrsetCount) {
                    let rrset = RRSetID(rawValue: set)
                    if rrset == soa { continue }
                    let type = rrsets[Int(set)].type
                    try forEachRecord(of: rrset) { ttl, rdata, _ in try body(owner, type, ttl, rdata) }
                }
            }
        }
    }

    /// Every record as a value (journals and IXFR; not for the query path).
    public func allRecords() -> [ResourceRecord] {
        var result: [ResourceRecord] = []
        result.reserveCapacity(recordCount)
        forEachRecordInTransferOrder { owner, type, ttl, rdata in
            result.append(
                ResourceRecord(
                    owner: DomainName(trustedWire: Array(owner)), type: type, ttl: ttl, rdata: Array(rdata)))
        }
        return result
    }
}

extension ZoneRecordTable {
    /// An empty table for records received from `source` (e.g. `AXFR from 192.0.2.53:53`),
    /// filled with ``append(received:)``.
    public init(receivingFrom source: String) {
        self.init()
        _ = fileNumber(source)
    }

    /// Adds a record read from a message, its position in the transfer as its "line"; `false`
    /// when the table is full.
    public mutating func append(received record: WireRecord) -> Bool {
        append(
            owner: record.owner, type: record.type, rrClass: record.rrClass, ttl: record.ttl,
            rdata: record.rdata,
            file: 0, line: count + 1)
    }

    /// Adds a record value (the first SOA of a transfer, kept aside until the answer's form is
    /// known); `false` when the table is full.
    public mutating func append(received record: ResourceRecord) -> Bool {
        record.owner.wire.withUnsafeBytes { owner in
            record.rdata.withUnsafeBytes { rdata in
                append(
                    owner: owner, type: record.type, rrClass: record.rrClass, ttl: record.ttl, rdata: rdata,
                    file: 0,
                    line: count + 1)
            }
        }
    }
}

/// A position in a zone's records in transfer order (the apex SOA first, then every other RRset
/// node by node), so a transfer can be written one message at a time.
public struct ZoneRecordCursor: Sendable {
    var node: Int32 = 0
    var rrset: Int32 = -1
    var record: Int32 = 0
    var soaWritten = false

    public init() {}

    /// Whether every record has been written.
    public internal(set) var finished = false
}

extension Zone {
    /// Writes records from `cursor` on until the writer's limit; returns how many were written.
    /// The cursor is left at the first record that did not fit (`finished` when none is left).
    public func writeRecords(from cursor: inout ZoneRecordCursor, into writer: inout MessageWriter) -> Int {
        var written = 0
        if !cursor.soaWritten {
            let fitted = withName(of: apex) { owner in
                writeOne(
                    rrset: soa, record: rrsets[Int(soa.rawValue)].firstRecord, owner: owner, into: &writer)
            }
            guard fitted else { return 0 }
            cursor.soaWritten = true
            written += 1
        }
        while Int(cursor.node) < nodes.count {
            let entry = nodes[Int(cursor.node)]
            if cursor.rrset < entry.firstRRSet {
                cursor.rrset = entry.firstRRSet
                cursor.record = entry.rrsetCount > 0 ? rrsets[Int(entry.firstRRSet)].firstRecord : 0
            }
            let stop = withName(of: NodeID(rawValue: cursor.node)) { owner -> Bool in
                while cursor.rrset < entry.firstRRSet + entry.rrsetCount {
                    let set = rrsets[Int(cursor.rrset)]
                    if cursor.rrset != soa.rawValue {
                        while cursor.record < set.firstRecord + set.recordCount {
                            guard
                                writeOne(
                                    rrset: RRSetID(rawValue: cursor.rrset), record: cursor.record,
                                    owner: owner, into: &writer)
                            else { return true }
                            written += 1
                            cursor.record += 1
                        }
                    }
                    cursor.rrset += 1
                    if cursor.rrset < entry.firstRRSet + entry.rrsetCount {
                        cursor.record = rrsets[Int(cursor.rrset)].firstRecord
                    }
                }
                return false
            }
            if stop { return written }
            cursor.node += 1
            cursor.rrset = -1
        }
        cursor.finished = true
        return written
    }

    /// Writes one record; false (and nothing written) when it does not fit.
    private func writeOne(
        rrset: RRSetID, record index: Int32, owner: UnsafeRawBufferPointer, into writer: inout MessageWriter
    )
        -> Bool
    {
        let record = records[Int(index)]
        let type = rrsets[Int(rrset.rawValue)].type
        let mark = writer.mark
        let fitted = rdata.withUnsafeBytes { bytes -> Bool in
            let start = Int(record.rdataStart)
            do {
                try writer.writeRecord(
                    owner: owner, type: type, ttl: record.ttl,
                    rdata: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + Int(record.rdataLength))]))
                return true
            } catch {
                return false
            }
        }
        if !fitted { writer.rollback(to: mark) }
        return fitted
    }
}
