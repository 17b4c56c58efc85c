/// Memory a ``RecordReader`` decodes into: one owner name and one RDATA, reused for every record.
public final class RecordScratch: @unchecked Sendable {
    /// The largest uncompressed RDATA kept (RFC 1035 §3.2.1: RDLENGTH is 16 bits).
    public static let maxRDataLength = 65_535

    /// Where owner names go (and where a caller may decode a question name).
    public let owner = UnsafeMutableRawBufferPointer.allocate(
        byteCount: NameLimits.maxWireLength, alignment: 8)
    /// Room for the largest RDATA plus one more name, so a name is always decoded in place.
    let rdata = UnsafeMutableRawBufferPointer.allocate(
        byteCount: maxRDataLength + NameLimits.maxWireLength, alignment: 8)

    public init() {}

    deinit {
        owner.deallocate()
        rdata.deallocate()
    }
}

/// One record as read by ``RecordReader``: owner and RDATA uncompressed, in the scratch memory,
/// valid until the reader's next record.
public struct WireRecord {
    public var owner: UnsafeRawBufferPointer
    public var type: RecordType
    public var rrClass: DNSClass
    public var ttl: UInt32
    public var rdata: UnsafeRawBufferPointer
    /// Offset of the record's owner name in the message.
    public var offset: Int

    /// The record as a value (allocates; for the few records kept, not for a whole zone).
    public var value: ResourceRecord {
        ResourceRecord(
            owner: DomainName(trustedWire: Array(owner)), type: type, rrClass: rrClass, ttl: ttl,
            rdata: Array(rdata), offset: offset)
    }
}

/// Reads the records of a message one at a time without allocating: the owner name and the
/// names inside RDATA are decompressed into a ``RecordScratch`` (RFC 3597 §4: the types whose
/// RDATA names may be compressed, and those a receiver should decompress), so a zone transfer of
/// a million records is read straight into flat tables.
public struct RecordReader {
    private var reader: WireReader

    /// Starts at `offset`, the first record of a section.
    public init(_ message: UnsafeRawBufferPointer, at offset: Int) {
        reader = WireReader(message, offset: offset)
    }

    /// Where the next record starts (the end of the last one read).
    public var offset: Int { reader.offset }

    /// Reads the next record into `scratch`.
    public mutating func next(into scratch: RecordScratch) throws(WireError) -> WireRecord {
        let start = reader.offset
        let ownerLength = try reader.readName(into: scratch.owner)
        let type = RecordType(rawValue: try reader.readUInt16())
        let rrClass = DNSClass(rawValue: try reader.readUInt16())
        let ttl = try reader.readUInt32()
        let length = Int(try reader.readUInt16())
        guard reader.remaining >= length else { throw .truncated(offset: reader.offset) }
        let rdataLength = try readRData(type: type, length: length, into: scratch.rdata)
        return WireRecord(
            owner: UnsafeRawBufferPointer(rebasing: scratch.owner[0..<ownerLength]), type: type,
            rrClass: rrClass, ttl: ttl,
            rdata: UnsafeRawBufferPointer(rebasing: scratch.rdata[0..<rdataLength]),
            offset: start)
    }

    /// Copies RDATA of `length` octets into `output`, decompressing the names of the types that
    /// carry compressible names; returns the uncompressed length.
    private mutating func readRData(type: RecordType, length: Int, into output: UnsafeMutableRawBufferPointer)
        throws(WireError) -> Int
    {
        let end = reader.offset + length
        var written = 0
        func copy(_ count: Int, _ reader: inout WireReader) throws(WireError) {
            guard count >= 0, reader.offset + count <= end else { throw .truncated(offset: reader.offset) }
            if count > 0 {
                (output.baseAddress! + written).copyMemory(
                    from: reader.bytes.baseAddress! + reader.offset, byteCount: count)
            }
            written += count
            try reader.skip(count)
        }
        func name(_ reader: inout WireReader) throws(WireError) {
            written += try reader.readName(
                into: UnsafeMutableRawBufferPointer(
                    rebasing: output[written..<(written + NameLimits.maxWireLength)]))
            guard reader.offset <= end else { throw .truncated(offset: reader.offset) }
        }
        switch type.rawValue {
        case 2, 3, 4, 5, 7, 8, 9, 12, 39:  // NS MD MF CNAME MB MG MR PTR DNAME
            try name(&reader)
        case 6:  // SOA: MNAME RNAME and five 32-bit fields
            try name(&reader)
            try name(&reader)
            try copy(20, &reader)
        case 14, 17:  // MINFO, RP: two names
            try name(&reader)
            try name(&reader)
        case 15, 18, 21, 36:  // MX AFSDB RT KX: preference, name
            try copy(2, &reader)
            try name(&reader)
        case 26:  // PX: preference, two names
            try copy(2, &reader)
            try name(&reader)
            try name(&reader)
        case 33:  // SRV: priority, weight, port, target
            try copy(6, &reader)
            try name(&reader)
        default:
            try copy(length, &reader)
        }
        guard reader.offset == end else { throw .truncated(offset: reader.offset) }
        guard written <= RecordScratch.maxRDataLength else { throw .truncated(offset: reader.offset) }
        return written
    }
}
