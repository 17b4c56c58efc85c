import DNSWire

/// One record as read from a zone file, before checks: the loader's output, the checker's input.
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
