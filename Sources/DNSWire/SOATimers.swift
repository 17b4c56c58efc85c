/// The SOA timers that drive a secondary (RFC 1035 §3.3.13, RFC 1034 §4.3.5), in seconds.
public struct SOATimers: Equatable, Sendable {
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    public var minimum: UInt32

    public init(serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32, minimum: UInt32) {
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }

    /// Reads the five 32-bit fields that follow MNAME and RNAME in uncompressed SOA RDATA.
    public init?(soaRData bytes: UnsafeRawBufferPointer) {
        guard DomainName.isValidWirePrefix(bytes, from: 0) else { return nil }
        let mname = nameLength(bytes, from: 0)
        guard DomainName.isValidWirePrefix(bytes, from: mname) else { return nil }
        let start = mname + nameLength(bytes, from: mname)
        guard bytes.count == start + 20 else { return nil }
        func word(_ index: Int) -> UInt32 {
            let at = start + 4 * index
            return UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8
                | UInt32(bytes[at + 3])
        }
        self.init(serial: word(0), refresh: word(1), retry: word(2), expire: word(3), minimum: word(4))
    }
}

extension DomainName {
    /// Whether a complete, valid uncompressed name starts at `start` inside `bytes`.
    public static func isValidWirePrefix(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Bool {
        var position = start
        var length = 0
        while position < bytes.count {
            let label = Int(bytes[position])
            guard label <= NameLimits.maxLabelLength else { return false }
            length += 1 + label
            guard length <= NameLimits.maxWireLength else { return false }
            if label == 0 { return true }
            position += 1 + label
        }
        return false
    }
}
