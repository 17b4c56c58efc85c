import DNSWire

/// One record made in memory (tests, tools), before checks; ``ZoneBuilder`` takes these as well
/// as a ``ZoneRecordTable`` from the reader.
public struct ZoneRecord: Sendable {
    public var owner: DomainName
    public var type: RecordType
    public var rrClass: DNSClass
    public var ttl: UInt32
    /// Uncompressed RDATA in wire format, names as written in the file (case preserved).
    public var rdata: [UInt8]
    public var location: SourceLocation

    public init(
        owner: DomainName, type: RecordType, rrClass: DNSClass = .internet, ttl: UInt32, rdata: [UInt8],
        location: SourceLocation
    ) {
        self.owner = owner
        self.type = type
        self.rrClass = rrClass
        self.ttl = ttl
        self.rdata = rdata
        self.location = location
    }
}

/// Records as read from zone files, stored flat: owner names in one byte buffer, RDATA in
/// another, and a fixed-size entry per record. The reader's output and the checker's input.
///
/// A million-record zone is then a handful of allocations instead of millions, and the RDATA
/// buffer becomes the loaded ``Zone``'s own without a copy.
public struct ZoneRecordTable: Sendable {
    struct Entry: Sendable {
        var ownerStart: Int32
        var ownerLength: UInt8
        var type: RecordType
        var rrClass: DNSClass
        var ttl: UInt32
        var rdataStart: Int32
        var rdataLength: UInt16
        /// Index into ``files``.
        var file: Int32
        var line: Int32
    }

    /// Owner names as written (case preserved), uncompressed wire format. Consecutive records of
    /// one owner share its bytes.
    private(set) var owners: [UInt8] = []
    private(set) var rdata: [UInt8] = []
    private(set) var entries: [Entry] = []
    /// The files records came from; `SourceLocation` is only made when a diagnostic needs one.
    private(set) var files: [String] = []

    /// The largest RDATA a record can carry (RFC 1035 §3.2.1: RDLENGTH is 16 bits).
    static let maxRDataLength = Int(UInt16.max)
    /// Offsets are 32-bit to keep entries small: a zone holds less than 2 GiB of names or RDATA.
    static let maxBufferLength = Int(Int32.max)

    public init() {}

    /// Makes a table of records made in memory.
    public init(_ records: [ZoneRecord]) {
        for record in records {
            let file = fileNumber(record.location.file)
            record.owner.wire.withUnsafeBytes { owner in
                record.rdata.withUnsafeBytes { rdata in
                    _ = append(
                        owner: owner, type: record.type, rrClass: record.rrClass, ttl: record.ttl,
                        rdata: rdata,
                        file: file, line: record.location.line ?? 0)
                }
            }
        }
    }

    public var count: Int { entries.count }

    /// Makes room for the records of a zone file of `fileSize` bytes, so that a large zone is not
    /// copied again and again as it grows. Reserved memory that is never filled is never touched.
    mutating func reserve(forFileOf fileSize: Int) {
        entries.reserveCapacity(entries.count + fileSize / 12)
        owners.reserveCapacity(owners.count + fileSize / 2)
        rdata.reserveCapacity(rdata.count + fileSize / 2)
    }

    /// The number to pass as `file` to ``append(owner:type:rrClass:ttl:rdata:file:line:)``.
    mutating func fileNumber(_ path: String) -> Int32 {
        if let last = files.last, last == path { return Int32(files.count - 1) }
        if let known = files.firstIndex(of: path) { return Int32(known) }
        files.append(path)
        return Int32(files.count - 1)
    }

    /// Adds a record whose owner is a valid uncompressed name; `false` when the table is full or
    /// the RDATA is too long (the caller reports it).
    mutating func append(
        owner: UnsafeRawBufferPointer, type: RecordType, rrClass: DNSClass, ttl: UInt32,
        rdata data: UnsafeRawBufferPointer, file: Int32, line: Int
    ) -> Bool {
        guard data.count <= Self.maxRDataLength,
            rdata.count + data.count <= Self.maxBufferLength,
            owners.count + owner.count <= Self.maxBufferLength
        else { return false }
        var ownerStart = Int32(owners.count)
        if let previous = entries.last, Int(previous.ownerLength) == owner.count,
            owners.withUnsafeBytes({
                $0[Int(previous.ownerStart)..<(Int(previous.ownerStart) + owner.count)].elementsEqual(owner)
            })
        {
            ownerStart = previous.ownerStart
        } else {
            owners.append(contentsOf: owner)
        }
        entries.append(
            Entry(
                ownerStart: ownerStart, ownerLength: UInt8(owner.count), type: type, rrClass: rrClass,
                ttl: ttl,
                rdataStart: Int32(rdata.count), rdataLength: UInt16(data.count), file: file, line: Int32(line)
            ))
        rdata.append(contentsOf: data)
        return true
    }

    func location(_ record: Int) -> SourceLocation {
        let entry = entries[record]
        return SourceLocation(file: files[Int(entry.file)], line: entry.line > 0 ? Int(entry.line) : nil)
    }

    /// The owner as written, for messages.
    func owner(_ record: Int) -> DomainName {
        let entry = entries[record]
        let start = Int(entry.ownerStart)
        return DomainName(trustedWire: Array(owners[start..<(start + Int(entry.ownerLength))]))
    }

    /// Calls `body` with the owner of `record` as written.
    func withOwner<R>(_ record: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let entry = entries[record]
        return Self.withSlice(of: owners, from: entry.ownerStart, count: Int(entry.ownerLength), body)
    }

    /// Calls `body` with the RDATA of `record`.
    func withRData<R>(_ record: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let entry = entries[record]
        return Self.withSlice(of: rdata, from: entry.rdataStart, count: Int(entry.rdataLength), body)
    }

    private static func withSlice<R>(
        of buffer: [UInt8], from start: Int32, count: Int, _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        buffer.withUnsafeBytes {
            body(UnsafeRawBufferPointer(rebasing: $0[Int(start)..<(Int(start) + count)]))
        }
    }

    /// Whether two records carry the same RDATA octets (RFC 2181 §5: identical records are one).
    func sameRData(_ a: Int, _ b: Int) -> Bool {
        let first = entries[a]
        let second = entries[b]
        guard first.rdataLength == second.rdataLength else { return false }
        return rdata.withUnsafeBytes { bytes in
            let length = Int(first.rdataLength)
            return bytes[Int(first.rdataStart)..<(Int(first.rdataStart) + length)]
                .elementsEqual(bytes[Int(second.rdataStart)..<(Int(second.rdataStart) + length)])
        }
    }
}
