/// Thrown when a write would pass the writer's current size limit; the caller rolls back to a mark
/// and decides whether that means TC=1 (RFC 2181 §9) or simply leaving optional data out.
public enum WriteOverflow: Error, Sendable {
    case limitReached(limit: Int)
}

/// Memory for building responses, allocated once per worker and reused for every packet, so the
/// per-packet path allocates nothing.
public final class ResponseScratch: @unchecked Sendable {
    /// Large enough for the biggest DNS message (a TCP response).
    public static let messageCapacity = 65_535
    /// Label starts remembered for compression; names beyond this are written uncompressed.
    public static let compressionCapacity = 512

    public let message: UnsafeMutableRawBufferPointer
    public let compressionOffsets: UnsafeMutableBufferPointer<UInt16>

    public init() {
        message = .allocate(byteCount: Self.messageCapacity, alignment: 8)
        compressionOffsets = .allocate(capacity: Self.compressionCapacity)
    }

    deinit {
        message.deallocate()
        compressionOffsets.deallocate()
    }
}

/// Writes a DNS message into caller-owned memory, compressing names (RFC 1035 §4.1.4).
///
/// Invariant: `0 <= count <= limit <= capacity`. Every append checks `limit`, which the responder
/// lowers to the client's UDP payload size (minus room kept for the OPT record).
public struct MessageWriter {
    public let base: UnsafeMutableRawPointer
    public let capacity: Int
    public private(set) var count: Int = 0
    public var limit: Int {
        didSet {
            precondition(limit >= count && limit <= capacity, "limit \(limit) outside \(count)...\(capacity)")
        }
    }
    private let table: UnsafeMutableBufferPointer<UInt16>
    private var tableCount = 0
    /// How many label positions are remembered for compression. Every name written is compared
    /// with each of them, so a writer that fills 64 KiB messages with thousands of names (a zone
    /// transfer) keeps this small: the zone apex and the first names still compress every owner.
    public var compressionLimit: Int

    /// A point to roll back to.
    public struct Mark {
        fileprivate let count: Int
        fileprivate let tableCount: Int
    }

    public init(scratch: ResponseScratch, limit: Int = ResponseScratch.messageCapacity) {
        base = scratch.message.baseAddress!
        capacity = scratch.message.count
        table = scratch.compressionOffsets
        compressionLimit = scratch.compressionOffsets.count
        self.limit = min(limit, capacity)
    }

    /// The bytes written so far.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    public var mark: Mark { Mark(count: count, tableCount: tableCount) }

    public mutating func rollback(to mark: Mark) {
        precondition(mark.count <= count, "rollback forward from \(count) to \(mark.count)")
        count = mark.count
        tableCount = mark.tableCount
    }

    @inline(__always)
    private func ensure(_ extra: Int) throws(WriteOverflow) {
        if count + extra > limit { throw .limitReached(limit: limit) }
    }

    public mutating func append(_ byte: UInt8) throws(WriteOverflow) {
        try ensure(1)
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    public mutating func append(_ value: UInt16) throws(WriteOverflow) {
        try ensure(2)
        base.storeBytes(of: value.bigEndian, toByteOffset: count, as: UInt16.self)
        count += 2
    }

    public mutating func append(_ value: UInt32) throws(WriteOverflow) {
        try ensure(4)
        base.storeBytes(of: value.bigEndian, toByteOffset: count, as: UInt32.self)
        count += 4
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws(WriteOverflow) {
        try ensure(bytes.count)
        if bytes.count > 0 {
            (base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        count += bytes.count
    }

    /// Overwrites a 16-bit field written earlier (counts, RDLENGTH).
    public func patch(_ value: UInt16, at offset: Int) {
        precondition(offset + 2 <= count, "patch at \(offset) beyond \(count)")
        base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// Reads back a 16-bit field written earlier.
    public func uint16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Remembers the labels of an uncompressed name already in the message at `offset` (the
    /// question, copied as sent) so later names can point at it.
    public mutating func rememberName(at offset: Int) {
        var position = offset
        while position < count, base.load(fromByteOffset: position, as: UInt8.self) != 0 {
            let length = Int(base.load(fromByteOffset: position, as: UInt8.self))
            guard length <= NameLimits.maxLabelLength else { return }  // a pointer: leave it be
            remember(position)
            position += 1 + length
        }
    }

    /// Writes an uncompressed wire name, replacing its longest suffix already in the message by
    /// a pointer when `compress` is true (RFC 1035 §4.1.4). RFC 3597 §4 limits compression inside
    /// RDATA to the well-known types; owner names are always compressible.
    public mutating func writeName(_ name: UnsafeRawBufferPointer, compress: Bool = true)
        throws(WriteOverflow)
    {
        var suffix = 0
        var pointer: Int? = nil
        if compress && tableCount > 0 {
            while name[suffix] != 0 {
                if let found = findInMessage(name, from: suffix) {
                    pointer = found
                    break
                }
                suffix += 1 + Int(name[suffix])
            }
        }
        let literalLength = pointer == nil ? name.count : suffix
        try ensure(literalLength + (pointer == nil ? 0 : 2))
        let start = count
        if literalLength > 0 {
            (base + count).copyMemory(from: name.baseAddress!, byteCount: literalLength)
            count += literalLength
        }
        if let pointer {
            try append(UInt16(0xC000 | pointer))
        }
        if compress {
            var position = 0
            while position < literalLength && name[position] != 0 {
                remember(start + position)
                position += 1 + Int(name[position])
            }
        }
    }

    private mutating func remember(_ offset: Int) {
        guard offset < 0x4000, tableCount < min(table.count, compressionLimit) else { return }
        table[tableCount] = UInt16(offset)
        tableCount += 1
    }

    /// The offset of a name in the message equal (case-insensitively) to `name[from...]`.
    private func findInMessage(_ name: UnsafeRawBufferPointer, from start: Int) -> Int? {
        for index in 0..<tableCount {
            let candidate = Int(table[index])
            if messageName(at: candidate, equals: name, from: start) { return candidate }
        }
        return nil
    }

    /// Compares the (possibly compressed) name this writer put at `offset` with `name[start...]`.
    private func messageName(at offset: Int, equals name: UnsafeRawBufferPointer, from start: Int) -> Bool {
        var position = offset
        var other = start
        while true {
            var length = Int(base.load(fromByteOffset: position, as: UInt8.self))
            while length & 0xC0 == 0xC0 {
                position = (length & 0x3F) << 8 | Int(base.load(fromByteOffset: position + 1, as: UInt8.self))
                length = Int(base.load(fromByteOffset: position, as: UInt8.self))
            }
            guard length == Int(name[other]) else { return false }
            if length == 0 { return true }
            for k in 1...length {
                let mine = base.load(fromByteOffset: position + k, as: UInt8.self)
                if asciiLowercase(mine) != asciiLowercase(name[other + k]) { return false }
            }
            position += 1 + length
            other += 1 + length
        }
    }
}

extension MessageWriter {
    /// Writes RDATA, compressing the embedded names of the types RFC 3597 §4 allows (NS, CNAME,
    /// PTR, MX, SOA) and copying every other type byte for byte. Returns nothing; RDLENGTH is
    /// written by the caller around this call.
    ///
    /// - Precondition: `rdata` is well formed for `type` (checked when the zone was loaded).
    public mutating func writeRData(_ rdata: UnsafeRawBufferPointer, type: RecordType) throws(WriteOverflow) {
        switch type {
        case .ns, .cname, .ptr:
            try writeName(rdata)
        case .mx:
            try append(UnsafeRawBufferPointer(rebasing: rdata[0..<2]))
            try writeName(UnsafeRawBufferPointer(rebasing: rdata[2...]))
        case .soa:
            let mname = nameLength(rdata, from: 0)
            let rname = nameLength(rdata, from: mname)
            try writeName(UnsafeRawBufferPointer(rebasing: rdata[0..<mname]))
            try writeName(UnsafeRawBufferPointer(rebasing: rdata[mname..<(mname + rname)]))
            try append(UnsafeRawBufferPointer(rebasing: rdata[(mname + rname)...]))
        default:
            try append(rdata)
        }
    }

    /// Writes one resource record: owner, TYPE, CLASS, TTL, RDLENGTH, RDATA (RFC 1035 §4.1.3).
    public mutating func writeRecord(
        owner: UnsafeRawBufferPointer, type: RecordType, rrClass: DNSClass = .internet, ttl: UInt32,
        rdata: UnsafeRawBufferPointer
    ) throws(WriteOverflow) {
        try writeName(owner)
        try append(type.rawValue)
        try append(rrClass.rawValue)
        try append(ttl)
        let lengthOffset = count
        try append(UInt16(0))
        try writeRData(rdata, type: type)
        patch(UInt16(count - lengthOffset - 2), at: lengthOffset)
    }
}

/// Length of the uncompressed name starting at `start` in trusted bytes.
@inline(__always)
public func nameLength(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
    var position = start
    while bytes[position] != 0 { position += 1 + Int(bytes[position]) }
    return position + 1 - start
}
