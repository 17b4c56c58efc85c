/// The TSIG Error field (RFC 8945 §3, §4.2; IANA "DNS RCODEs" registry): extended codes that only
/// ever appear in a TSIG RR, alongside RCODE NOTAUTH in the header.
public struct TSIGErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = TSIGErrorCode(rawValue: 0)
    /// The MAC did not verify (RFC 8945 §5.2.2).
    public static let badSig = TSIGErrorCode(rawValue: 16)
    /// The key or its algorithm is not known (RFC 8945 §5.2.1).
    public static let badKey = TSIGErrorCode(rawValue: 17)
    /// Time Signed is further than Fudge from the receiver's clock (RFC 8945 §5.2.3).
    public static let badTime = TSIGErrorCode(rawValue: 18)
    /// The MAC is truncated below the receiver's minimum (RFC 8945 §5.2.4).
    public static let badTrunc = TSIGErrorCode(rawValue: 22)

    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 16: "BADSIG"
        case 17: "BADKEY"
        case 18: "BADTIME"
        case 22: "BADTRUNC"
        default: "TSIG error \(rawValue)"
        }
    }
}
