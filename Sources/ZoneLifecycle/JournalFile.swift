import DNSWire
import DNSZone
import Foundation

/// A zone's IXFR history on disk (`NAME.journal` in `storage`), so a restarted primary still
/// answers IXFR from the versions it served before (RFC 1995). Written whole and atomically
/// (temporary file, then rename) whenever the history changes; it is bounded like the history.
///
/// Format: the magic `ANYDNS-JOURNAL-1\n`, then per difference: from serial, to serial (32-bit),
/// removed and added counts (32-bit), then each record as owner (uncompressed wire name), TYPE,
/// CLASS, TTL, RDLENGTH, RDATA, all in network order.
enum JournalFile {
    static let magic = Array("ANYDNS-JOURNAL-1\n".utf8)

    static func encode(_ history: ZoneHistory) -> [UInt8] {
        var out = magic
        func word32(_ value: UInt32) {
            out += [
                UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF),
                UInt8(value & 0xFF),
            ]
        }
        func word16(_ value: UInt16) { out += [UInt8(value >> 8), UInt8(value & 0xFF)] }
        for diff in history.diffs {
            word32(diff.fromSerial)
            word32(diff.toSerial)
            word32(UInt32(diff.removed.count))
            word32(UInt32(diff.added.count))
            for record in diff.removed + diff.added {
                out += record.owner.wire
                word16(record.type.rawValue)
                word16(record.rrClass.rawValue)
                word32(record.ttl)
                word16(UInt16(record.rdata.count))
                out += record.rdata
            }
        }
        return out
    }

    /// The history in `bytes`, or `nil` when they are not a journal this version wrote.
    static func decode(_ bytes: [UInt8]) -> ZoneHistory? {
        guard bytes.starts(with: magic) else { return nil }
        var diffs: [ZoneDiff] = []
        let name = UnsafeMutableRawBufferPointer.allocate(byteCount: NameLimits.maxWireLength, alignment: 1)
        defer { name.deallocate() }
        let result: ZoneHistory? = bytes.withUnsafeBytes { raw in
            var reader = WireReader(raw, offset: magic.count)
            do throws(WireError) {
                while reader.remaining > 0 {
                    let from = try reader.readUInt32()
                    let to = try reader.readUInt32()
                    let removedCount = Int(try reader.readUInt32())
                    let addedCount = Int(try reader.readUInt32())
                    guard removedCount >= 1, addedCount >= 1, removedCount + addedCount <= reader.remaining
                    else {
                        return nil
                    }
                    var records: [ResourceRecord] = []
                    for _ in 0..<(removedCount + addedCount) {
                        let length = try reader.readName(into: name)
                        let type = RecordType(rawValue: try reader.readUInt16())
                        let rrClass = DNSClass(rawValue: try reader.readUInt16())
                        let ttl = try reader.readUInt32()
                        let rdLength = Int(try reader.readUInt16())
                        guard reader.remaining >= rdLength else { return nil }
                        let start = reader.offset
                        try reader.skip(rdLength)
                        records.append(
                            ResourceRecord(
                                owner: DomainName(trustedWire: Array(name[0..<length])), type: type,
                                rrClass: rrClass,
                                ttl: ttl, rdata: Array(raw[start..<(start + rdLength)])))
                    }
                    diffs.append(
                        ZoneDiff(
                            fromSerial: from, toSerial: to, removed: Array(records[0..<removedCount]),
                            added: Array(records[removedCount...])))
                }
            } catch {
                return nil
            }
            return ZoneHistory(diffs)
        }
        return result
    }

    /// Writes `history` to `path` atomically.
    static func write(_ history: ZoneHistory, to path: String) throws {
        let temporary = path + ".tmp"
        try Data(encode(history)).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }

    /// The history stored at `path` if it leads to `serial` (the version being served).
    static func read(from path: String, leadingTo serial: UInt32) -> ZoneHistory? {
        guard let data = FileManager.default.contents(atPath: path), let history = decode(Array(data)),
            history.diffs.last?.toSerial == serial
        else { return nil }
        return history
    }
}
