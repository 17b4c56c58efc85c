import CAnydnsCrypto
import DNSAuth

/// The 16-octet key of server cookies (RFC 9018 §4.2). Every anycast site given the same secret
/// makes the same cookies, so a client that moves between sites keeps a valid one.
public struct CookieSecret: Sendable, Equatable, CustomStringConvertible {
    public static let length = 16
    /// Exactly ``length`` octets.
    public let bytes: [UInt8]

    /// 32 hexadecimal digits; `nil` for anything else.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 2 * Self.length else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        self.bytes = bytes
    }

    /// A secret from OpenSSL's random generator, seeded by the operating system: this process's
    /// cookies are then valid here only.
    public static func random() -> CookieSecret {
        CookieSecret(uncheckedBytes: randomBytes(length))
    }

    init(uncheckedBytes: [UInt8]) { bytes = uncheckedBytes }

    /// Never the secret itself: logs and `/health` show only whether one is set.
    public var description: String { "<cookie secret>" }
}

/// DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018): version 1, three reserved
/// octets, a 32-bit timestamp and SipHash-2-4 (OpenSSL) over the client cookie, those eight
/// octets and the client address. Checking and making a cookie allocates nothing.
public struct ServerCookies: Sendable {
    public static let clientCookieLength = 8
    /// The server cookie made here (RFC 9018 §4): version, reserved, timestamp, hash.
    public static let serverCookieLength = 16
    /// A client cookie and our server cookie: the COOKIE option of every answer we make.
    public static let optionLength = clientCookieLength + serverCookieLength
    /// A cookie older than this is no longer valid (RFC 9018 §4.3: one hour).
    public static let maximumAge: UInt32 = 3600
    /// A cookie this far in the future is still accepted, for clocks slightly apart (RFC 9018 §4.3).
    public static let maximumSkew: UInt32 = 300

    public let secret: CookieSecret
    /// Still accepted while the sites change secrets (RFC 9018 §5: rollover); never used to make
    /// new cookies.
    public let previousSecret: CookieSecret?

    public init(secret: CookieSecret, previousSecret: CookieSecret? = nil) {
        self.secret = secret
        self.previousSecret = previousSecret
    }

    /// Whether `option` (client cookie and server cookie, as received) carries a server cookie
    /// made here, for this client, with the current or the previous secret, that has not expired.
    public func isValid(_ option: UnsafeRawBufferPointer, client: IPAddress, now: UInt64) -> Bool {
        guard option.count == Self.optionLength, option[8] == 1 else { return false }
        let timestamp =
            UInt32(option[12]) << 24 | UInt32(option[13]) << 16 | UInt32(option[14]) << 8 | UInt32(option[15])
        // RFC 1982 arithmetic on the 32-bit time, so the check keeps working past 2106.
        let age = UInt32(truncatingIfNeeded: now) &- timestamp
        guard age <= Self.maximumAge || age >= 0 &- Self.maximumSkew else { return false }
        // The hash covers the cookie's header as received, reserved octets included (RFC 9018 §4.4).
        let clientCookie = UnsafeRawBufferPointer(rebasing: option[0..<8])
        let header = UnsafeRawBufferPointer(rebasing: option[8..<16])
        let received = UnsafeRawBufferPointer(rebasing: option[16..<24])
        return withUnsafeTemporaryAllocation(byteCount: 8, alignment: 8) { expected in
            // No array of keys: checking a cookie allocates nothing.
            Self.hash(clientCookie, header: header, client: client, key: secret, into: expected)
            if anydns_constant_time_compare(expected.baseAddress!, received.baseAddress!, 8) == 0 {
                return true
            }
            guard let previousSecret else { return false }
            Self.hash(clientCookie, header: header, client: client, key: previousSecret, into: expected)
            return anydns_constant_time_compare(expected.baseAddress!, received.baseAddress!, 8) == 0
        }
    }

    /// Writes a fresh server cookie (16 octets) for `clientCookie` and `client` at time `now`.
    public func writeServerCookie(
        clientCookie: UnsafeRawBufferPointer, client: IPAddress, now: UInt64,
        into output: UnsafeMutableRawBufferPointer
    ) {
        let timestamp = UInt32(truncatingIfNeeded: now)
        output[0] = 1  // version
        output[1] = 0  // reserved
        output[2] = 0
        output[3] = 0
        for index in 0..<4 { output[4 + index] = UInt8(truncatingIfNeeded: timestamp >> (24 - 8 * index)) }
        Self.hash(
            clientCookie, header: UnsafeRawBufferPointer(rebasing: output[0..<8]), client: client,
            key: secret,
            into: UnsafeMutableRawBufferPointer(rebasing: output[8..<16]))
    }

    /// SipHash-2-4 over client cookie | version | reserved | timestamp | client address
    /// (RFC 9018 §4.4: 20 octets for IPv4, 32 for IPv6), keyed with `key`.
    private static func hash(
        _ clientCookie: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer, client: IPAddress,
        key: CookieSecret, into output: UnsafeMutableRawBufferPointer
    ) {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { input in
            UnsafeMutableRawBufferPointer(rebasing: input[0..<8]).copyMemory(from: clientCookie)
            UnsafeMutableRawBufferPointer(rebasing: input[8..<16]).copyMemory(from: header)
            let length =
                16 + client.writeNetworkOrder(into: UnsafeMutableRawBufferPointer(rebasing: input[16...]))
            key.bytes.withUnsafeBufferPointer { keyBytes in
                _ = anydns_siphash24(
                    output.baseAddress!.assumingMemoryBound(to: UInt8.self), input.baseAddress!, length,
                    keyBytes.baseAddress!)
            }
        }
    }
}

private func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
    default: return nil
    }
}
