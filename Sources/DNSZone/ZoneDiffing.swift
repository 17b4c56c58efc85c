import DNSWire

/// Differences between zone versions computed on the zones' own tables, node by node, and
/// applied to them the same way: only the records that changed become values, so diffing or
/// patching a million-record zone for one changed record costs a pass over its arrays, not a
/// value (and an allocation) per record.
extension Zone {
    /// The RDATA of record `index`.
    fileprivate func withRData<R>(_ index: Int32, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let record = records[Int(index)]
        return rdata.withUnsafeBytes { bytes in
            let start = Int(record.rdataStart)
            return body(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + Int(record.rdataLength))]))
        }
    }

    /// Whether record `mine` of this zone and record `theirs` of `other` have the same TTL and
    /// RDATA octets.
    fileprivate func sameRecord(_ mine: Int32, in other: Zone, _ theirs: Int32) -> Bool {
        guard records[Int(mine)].ttl == other.records[Int(theirs)].ttl,
            records[Int(mine)].rdataLength == other.records[Int(theirs)].rdataLength
        else { return false }
        return withRData(mine) { a in other.withRData(theirs) { b in a.elementsEqual(b) } }
    }

    /// Record `index` of RRset `set` at `node` as a value.
    fileprivate func value(node: Int, set: Int32, record index: Int32) -> ResourceRecord {
        let type = rrsets[Int(set)].type
        let owner = withName(of: NodeID(rawValue: Int32(node))) { DomainName(trustedWire: Array($0)) }
        return withRData(index) { rdata in
            ResourceRecord(owner: owner, type: type, ttl: records[Int(index)].ttl, rdata: Array(rdata))
        }
    }

    /// The records of this zone (apex SOA excepted) that `other` does not hold, as values.
    fileprivate func recordsMissing(from other: Zone) -> [ResourceRecord] {
        var missing: [ResourceRecord] = []
        for node in nodes.indices where nodes[node].rrsetCount > 0 {
            let entry = nodes[node]
            let otherNode = withName(of: NodeID(rawValue: Int32(node))) { other.index.find($0) }
            for set in entry.firstRRSet..<(entry.firstRRSet + entry.rrsetCount) where set != soa.rawValue {
                let rrset = rrsets[Int(set)]
                let otherSet = otherNode.flatMap { other.rrset(NodeID(rawValue: $0), rrset.type) }
                for index in rrset.firstRecord..<(rrset.firstRecord + rrset.recordCount) {
                    let found =
                        otherSet.map { theirs in
                            let set = other.rrsets[Int(theirs.rawValue)]
                            return (set.firstRecord..<(set.firstRecord + set.recordCount)).contains {
                                sameRecord(index, in: other, $0)
                            }
                        } ?? false
                    if !found { missing.append(value(node: node, set: set, record: index)) }
                }
            }
        }
        return missing
    }

    /// The record index of `record` (owner, type, RDATA; TTL aside) in this zone, if present.
    fileprivate func find(_ record: ResourceRecord) -> Int32? {
        let owner = record.owner.lowercased()
        guard let node = owner.wire.withUnsafeBytes({ index.find($0) }),
            let set = rrset(NodeID(rawValue: node), record.type)
        else { return nil }
        let entry = rrsets[Int(set.rawValue)]
        return (entry.firstRecord..<(entry.firstRecord + entry.recordCount)).first { candidate in
            withRData(candidate) { $0.elementsEqual(record.rdata) }
        }
    }

    /// This zone's records with `diffs` applied in order, as a table for ``ZoneBuilder``
    /// (RFC 1995 §4); `nil` when a removed record is missing or the chain does not start at this
    /// zone's serial, i.e. the history does not fit the data (then fall back to AXFR).
    public func applying(_ diffs: [ZoneDiff], source: String) -> ZoneRecordTable? {
        guard let first = diffs.first, first.fromSerial == serial,
            zip(diffs, diffs.dropFirst()).allSatisfy({ $0.toSerial == $1.fromSerial })
        else { return nil }
        // Removals and additions cancel out across diffs; what is left touches few records.
        var removedHere = Set<Int32>()
        var added: [ResourceRecord] = []
        for diff in diffs {
            for record in diff.removed.dropFirst() {
                if let position = added.firstIndex(where: { $0.sameData(as: record) }) {
                    added.remove(at: position)
                } else if let index = find(record), !removedHere.contains(index) {
                    removedHere.insert(index)
                } else {
                    return nil
                }
            }
            added += diff.added.dropFirst()
        }
        var table = ZoneRecordTable(receivingFrom: source)
        guard table.append(received: diffs.last!.added[0]) else { return nil }
        var full = false
        forEachRecordIndex { owner, type, index in
            guard !full, index != rrsets[Int(soa.rawValue)].firstRecord || type != .soa else { return }
            guard !removedHere.contains(index) else { return }
            let record = records[Int(index)]
            full =
                !rdata.withUnsafeBytes { bytes in
                    let start = Int(record.rdataStart)
                    return table.append(
                        owner: owner, type: type, rrClass: .internet, ttl: record.ttl,
                        rdata: UnsafeRawBufferPointer(
                            rebasing: bytes[start..<(start + Int(record.rdataLength))]),
                        file: 0, line: table.count + 1)
                }
        }
        for record in added where !full {
            full = !table.append(received: record)
        }
        return full ? nil : table
    }

    /// Calls `body` with every record's owner, type and index, node by node.
    fileprivate func forEachRecordIndex(_ body: (UnsafeRawBufferPointer, RecordType, Int32) -> Void) {
        for node in nodes.indices where nodes[node].rrsetCount > 0 {
            let entry = nodes[node]
            withName(of: NodeID(rawValue: Int32(node))) { owner in
                for set in entry.firstRRSet..<(entry.firstRRSet + entry.rrsetCount) {
                    let rrset = rrsets[Int(set)]
                    for index in rrset.firstRecord..<(rrset.firstRecord + rrset.recordCount) {
                        body(owner, rrset.type, index)
                    }
                }
            }
        }
    }
}

extension ZoneDiff {
    /// The difference between two versions of a zone (RFC 1995 §4), computed on their tables:
    /// owners compare case-insensitively (zones store them lowercase), RDATA octet by octet, and
    /// a changed TTL is a removal plus an addition.
    public static func between(_ old: Zone, _ new: Zone) -> ZoneDiff {
        ZoneDiff(
            fromSerial: old.serial, toSerial: new.serial,
            removed: [old.soaRecord] + old.recordsMissing(from: new),
            added: [new.soaRecord] + new.recordsMissing(from: old))
    }
}

extension ResourceRecord {
    /// Same owner (case-insensitively), type and RDATA; TTL aside (how IXFR deletions match).
    fileprivate func sameData(as other: ResourceRecord) -> Bool {
        type == other.type && rdata == other.rdata && owner.lowercased() == other.owner.lowercased()
    }
}
