/// The fixed 12-octet message header (RFC 1035 §4.1.1).
public struct DNSHeader: Equatable, Sendable {
    public static let length = 12

    public var id: UInt16
    /// QR, OPCODE, AA, TC, RD, RA, Z, AD, CD and the low four RCODE bits, as on the wire.
    public var flags: UInt16
    public var questionCount: UInt16
    public var answerCount: UInt16
    public var authorityCount: UInt16
    public var additionalCount: UInt16

    public init(
        id: UInt16 = 0, flags: UInt16 = 0, questionCount: UInt16 = 0, answerCount: UInt16 = 0,
        authorityCount: UInt16 = 0, additionalCount: UInt16 = 0
    ) {
        self.id = id
        self.flags = flags
        self.questionCount = questionCount
        self.answerCount = answerCount
        self.authorityCount = authorityCount
        self.additionalCount = additionalCount
    }

    /// Reads the header at the start of `bytes`; `nil` if fewer than 12 octets.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= DNSHeader.length else { return nil }
        func word(_ index: Int) -> UInt16 { UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]) }
        self.init(
            id: word(0), flags: word(2), questionCount: word(4), answerCount: word(6),
            authorityCount: word(8), additionalCount: word(10))
    }

    public enum Flag {
        public static let qr: UInt16 = 0x8000
        public static let aa: UInt16 = 0x0400
        public static let tc: UInt16 = 0x0200
        public static let rd: UInt16 = 0x0100
        public static let ra: UInt16 = 0x0080
        public static let ad: UInt16 = 0x0020
        public static let cd: UInt16 = 0x0010
    }

    public var isResponse: Bool { flags & Flag.qr != 0 }
    public var opcode: Opcode { Opcode(rawValue: UInt8((flags >> 11) & 0xF)) }
    public var rcodeBits: UInt8 { UInt8(flags & 0xF) }
    public func has(_ flag: UInt16) -> Bool { flags & flag != 0 }
}
