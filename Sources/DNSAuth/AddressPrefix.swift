/// An address prefix in CIDR notation (RFC 4632 §3.1, RFC 4291 §2.3): `192.0.2.0/24`,
/// `2001:db8::/32`; a bare address is a /32 or /128.
///
/// Host bits beyond the prefix length are accepted and cleared (`192.0.2.77/24` is `192.0.2.0/24`),
/// as NSD and Knot DNS accept them. An IPv4-mapped IPv6 prefix of length 96 or more
/// (`::ffff:192.0.2.0/120`) is the IPv4 prefix it maps (`192.0.2.0/24`). An IPv6 prefix never contains
/// an IPv4 address, `::/0` included; write `0.0.0.0/0` as well to allow every client.
public struct AddressPrefix: Hashable, Sendable, CustomStringConvertible {
    /// The network address, host bits cleared.
    public let address: IPAddress
    /// Leading bits that must match: 0...32 for IPv4, 0...128 for IPv6.
    public let length: Int

    /// The prefix of `length` bits of `address`; `nil` if `length` is out of range for its family.
    public init?(address: IPAddress, length: Int) {
        switch address {
        case .v4(let value):
            guard (0...32).contains(length) else { return nil }
            self.address = .v4(value & AddressPrefix.mask32(length))
        case .v6(let high, let low):
            guard (0...128).contains(length) else { return nil }
            let (highMask, lowMask) = AddressPrefix.mask128(length)
            self.address = .v6(high & highMask, low & lowMask)
        }
        self.length = length
    }

    /// Parses `ADDRESS` or `ADDRESS/LENGTH`, numeric only; `nil` for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let parsed = IPAddress(unmappedText: String(parts[0])) else { return nil }
        var length: Int
        switch parsed {
        case .v4: length = 32
        case .v6: length = 128
        }
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let value = Int(digits)
            else { return nil }
            length = value
        }
        if case .v4 = parsed.unmapped, case .v6 = parsed, length >= 96, length <= 128 {
            self.init(address: parsed.unmapped, length: length - 96)
        } else {
            self.init(address: parsed, length: length)
        }
    }

    /// Whether the first ``length`` bits of `candidate` are the prefix's; never across families.
    public func contains(_ candidate: IPAddress) -> Bool {
        switch (address, candidate) {
        case (.v4(let network), .v4(let value)):
            return value & AddressPrefix.mask32(length) == network
        case (.v6(let networkHigh, let networkLow), .v6(let high, let low)):
            let (highMask, lowMask) = AddressPrefix.mask128(length)
            return high & highMask == networkHigh && low & lowMask == networkLow
        default:
            return false
        }
    }

    public var description: String { "\(address)/\(length)" }

    private static func mask32(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }

    private static func mask128(_ length: Int) -> (UInt64, UInt64) {
        if length <= 64 {
            return (length == 0 ? 0 : UInt64.max << UInt64(64 - length), 0)
        }
        return (UInt64.max, length == 128 ? UInt64.max : UInt64.max << UInt64(128 - length))
    }
}
