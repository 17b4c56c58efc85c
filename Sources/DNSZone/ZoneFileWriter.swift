import CLDNS
import DNSWire

#if canImport(Glibc)
    import Glibc
#endif

/// Writes a zone as a master file (RFC 1035 §5) that ``ZoneLoader`` reads back: how a secondary
/// keeps its last good copy on disk. Records are turned into text by libldns, so every type it
/// knows is written in its presentation format and the others in RFC 3597 generic form.
public enum ZoneFileWriter {
    public struct WriteError: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    /// Writes `zone` to `path` atomically: a temporary file beside it, flushed to disk, then
    /// renamed over `path`, so a crash leaves either the old copy or the new one, never half.
    public static func write(_ zone: Zone, to path: String, comment: String) throws(WriteError) {
        let temporary = path + ".tmp"
        guard let file = fopen(temporary, "w") else {
            throw WriteError(path: temporary, message: "cannot create: \(String(cString: strerror(errno)))")
        }
        var failed = fputs("; \(comment)\n$ORIGIN \(zone.origin)\n", file) < 0
        var wire: [UInt8] = []
        wire.reserveCapacity(512)
        zone.forEachRecordInTransferOrder { owner, type, ttl, rdata in
            guard !failed else { return }
            wire.removeAll(keepingCapacity: true)
            wire.append(contentsOf: owner)
            appendWord(&wire, type.rawValue)
            appendWord(&wire, DNSClass.internet.rawValue)
            appendWord(&wire, UInt16(ttl >> 16))
            appendWord(&wire, UInt16(ttl & 0xFFFF))
            appendWord(&wire, UInt16(rdata.count))
            wire.append(contentsOf: rdata)
            // The owner in our own presentation: libldns leaves `"` and `(` unescaped in owner
            // names, which no zone file reader takes back (RFC 1035 §5.1).
            let ownerText = DomainName(trustedWire: Array(owner)).description
            guard let line = presentation(of: wire, owner: ownerText, type: type, ttl: ttl, rdata: rdata)
            else {
                failed = true
                return
            }
            failed = fputs(line, file) < 0
        }
        failed = fflush(file) != 0 || failed
        failed = fsync(fileno(file)) != 0 || failed
        failed = fclose(file) != 0 || failed
        guard !failed else {
            unlink(temporary)
            throw WriteError(path: temporary, message: "cannot write: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw WriteError(path: path, message: "cannot rename \(temporary) into place: \(reason)")
        }
    }

    private static func appendWord(_ bytes: inout [UInt8], _ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    /// One record in presentation format with its newline, from uncompressed wire format: the
    /// type's own presentation from libldns when reading it back gives the same record, else the
    /// generic form of RFC 3597 §5 (`TYPE65 \\# 4 0A000001`), so that data a primary sent that
    /// the type's text form cannot carry (trailing octets, say) is stored exactly.
    private static func presentation(
        of wire: [UInt8], owner: String, type: RecordType, ttl: UInt32, rdata: UnsafeRawBufferPointer
    ) -> String? {
        wire.withUnsafeBufferPointer { bytes -> String? in
            var rr: UnsafeMutablePointer<ldns_rr>? = nil
            var position = 0
            guard
                ldns_wire2rr(&rr, bytes.baseAddress, bytes.count, &position, LDNS_SECTION_ANSWER)
                    == LDNS_STATUS_OK, let rr
            else { return generic(owner: owner, type: type, ttl: ttl, rdata: rdata) }
            defer { ldns_rr_free(rr) }
            guard let text = ldns_rr2str(rr) else { return nil }
            defer { free(text) }
            let typed = String(cString: text)
            var back: UnsafeMutablePointer<ldns_rr>? = nil
            guard let tab = typed.firstIndex(of: "\t"), case let line = owner + typed[tab...],
                ldns_rr_new_frm_str(&back, line, ttl, nil, nil) == LDNS_STATUS_OK, let back
            else { return generic(owner: owner, type: type, ttl: ttl, rdata: rdata) }
            defer { ldns_rr_free(back) }
            return ldns_rr_compare(rr, back) == 0
                ? line : generic(owner: owner, type: type, ttl: ttl, rdata: rdata)
        }
    }

    /// The RFC 3597 §5 form of a record: `OWNER TTL IN TYPEn \# LENGTH HEX`, made only for the
    /// records that need it.
    private static func generic(owner: String, type: RecordType, ttl: UInt32, rdata: UnsafeRawBufferPointer)
        -> String
    {
        let hex = rdata.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return byte < 0x10 ? "0" + digits : digits
        }
        return "\(owner)\t\(ttl)\tIN\tTYPE\(type.rawValue)\t\\# \(rdata.count)"
            + (rdata.isEmpty ? "" : " " + hex.joined()) + "\n"
    }
}
