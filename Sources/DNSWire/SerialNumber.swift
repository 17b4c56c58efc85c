/// A zone serial compared with RFC 1982 serial number arithmetic (SERIAL_BITS = 32), as
/// RFC 1034 §4.3.5 and RFC 1996 require for deciding whether a zone changed.
///
/// Two serials exactly 2^31 apart are incomparable: neither is greater (RFC 1982 §3.2); such a
/// pair counts as "not newer", so a secondary never takes it for an update.
public struct SerialNumber: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// RFC 1982 §3.2: `self` is greater than `other`.
    public func isNewer(than other: SerialNumber) -> Bool {
        let a = rawValue
        let b = other.rawValue
        return (a < b && b &- a > 0x8000_0000) || (a > b && a &- b < 0x8000_0000)
    }

    /// RFC 1982 §3.1: adds `n` (at most 2^31 - 1).
    public func adding(_ n: UInt32) -> SerialNumber {
        precondition(n <= 0x7FFF_FFFF, "RFC 1982 §3.1: cannot add \(n) (more than 2^31 - 1)")
        return SerialNumber(rawValue &+ n)
    }

    public var description: String { String(rawValue) }
}
