#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address as a plain value: comparing and matching one allocates nothing, so it can
/// be checked per packet. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) is
/// always stored as `.v4`, so a client reaching a dual-stack socket over IPv4 matches IPv4 prefixes.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address as a number in host order (`192.0.2.1` is `0xC000_0201`).
    case v4(UInt32)
    /// The high and low 64 bits in host order.
    case v6(UInt64, UInt64)

    /// Parses numeric text (`192.0.2.1`, `2001:db8::1`) with `inet_pton`; `nil` for anything else,
    /// host names and zone indexes (`fe80::1%eth0`) included.
    public init?(_ text: String) {
        guard let parsed = IPAddress(unmappedText: text) else { return nil }
        self = parsed.unmapped
    }

    public var isIPv6: Bool {
        if case .v6 = self { return true }
        return false
    }

    /// 127.0.0.0/8 or ::1 (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3).
    public var isLoopback: Bool {
        switch self {
        case .v4(let address): return address >> 24 == 127
        case .v6(let high, let low): return high == 0 && low == 1
        }
    }

    /// The IPv4 address `a.b.c.d`.
    public init(v4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self = .v4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    /// The address in a `sockaddr_in` or `sockaddr_in6` (as in a `sockaddr_storage` filled by
    /// `recvfrom` or `accept`); `nil` for other families.
    public init?(socketAddress: UnsafeRawPointer) {
        let family = socketAddress.loadUnaligned(
            fromByteOffset: MemoryLayout<sockaddr>.offset(of: \sockaddr.sa_family)!, as: sa_family_t.self)
        switch Int32(family) {
        case AF_INET:
            let address = socketAddress.loadUnaligned(as: sockaddr_in.self)
            self = .v4(UInt32(bigEndian: address.sin_addr.s_addr))
        case AF_INET6:
            let address = socketAddress.loadUnaligned(as: sockaddr_in6.self)
            self = withUnsafeBytes(of: address.sin6_addr) { IPAddress(v6Bytes: $0) }.unmapped
        default:
            return nil
        }
    }

    /// Parses numeric text without turning IPv4-mapped IPv6 addresses into `.v4`.
    init?(unmappedText text: String) {
        if text.utf8.contains(UInt8(ascii: ":")) {
            var address = in6_addr()
            guard withUnsafeMutableBytes(of: &address, { inet_pton(AF_INET6, text, $0.baseAddress) }) == 1
            else { return nil }
            self = withUnsafeBytes(of: address) { IPAddress(v6Bytes: $0) }
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
            self = .v4(UInt32(bigEndian: address.s_addr))
        }
    }

    /// Sixteen octets in network order.
    public init(v6Bytes bytes: UnsafeRawBufferPointer) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 {
            high = high << 8 | UInt64(bytes[index])
            low = low << 8 | UInt64(bytes[index + 8])
        }
        self = .v6(high, low)
    }

    /// Writes the address in network order (4 or 16 octets) and returns how many were written;
    /// `output` holds at least 16.
    public func writeNetworkOrder(into output: UnsafeMutableRawBufferPointer) -> Int {
        switch self {
        case .v4(let value):
            for index in 0..<4 { output[index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * index)) }
            return 4
        case .v6(let high, let low):
            for index in 0..<8 {
                output[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
                output[index + 8] = UInt8(truncatingIfNeeded: low >> (56 - 8 * index))
            }
            return 16
        }
    }

    /// The high 64 bits of every IPv4-mapped address, `::ffff:0:0/96` (RFC 4291 §2.5.5.2).
    static let mappedHigh: UInt64 = 0
    static let mappedLowPrefix: UInt64 = 0x0000_FFFF_0000_0000

    /// `.v4` for an IPv4-mapped IPv6 address, `self` otherwise.
    var unmapped: IPAddress {
        if case .v6(let high, let low) = self, high == IPAddress.mappedHigh,
            low & 0xFFFF_FFFF_0000_0000 == IPAddress.mappedLowPrefix
        {
            return .v4(UInt32(truncatingIfNeeded: low))
        }
        return self
    }

    /// Numeric text: dotted quad, or RFC 5952 text from `inet_ntop`.
    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
        case .v6(let high, let low):
            var octets = [UInt8](repeating: 0, count: 16)
            for index in 0..<8 {
                octets[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
                octets[index + 8] = UInt8(truncatingIfNeeded: low >> (56 - 8 * index))
            }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = inet_ntop(AF_INET6, octets, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
