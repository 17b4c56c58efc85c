import CAnydnsCrypto
import Testing

/// The OpenSSL shim behind cookies and the rate-limit table (docs/ARCHITECTURE.md, "One
/// cryptography stack"): SipHash-2-4 as its authors define it, and random keys.
@Suite("OpenSSL shim: SipHash-2-4 reference vectors, random bytes, constant-time compare")
struct CryptoStackTests {
    /// Key 00 01 … 0f, message 00 01 … (n-1): the 64-bit vectors of the SipHash reference
    /// implementation (Aumasson and Bernstein, vectors.h), as little-endian octets.
    @Test(arguments: [
        (0, [0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72] as [UInt8]),
        (15, [0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1]),
    ])
    func sipHashMatchesTheReference(length: Int, expected: [UInt8]) {
        let key = (0..<16).map(UInt8.init)
        let message = (0..<length).map(UInt8.init)
        var output = [UInt8](repeating: 0, count: 8)
        let status = anydns_siphash24(&output, message, message.count, key)
        #expect(status == 0)
        #expect(output == expected)
    }

    @Test func sipHashIsRekeyedOnEveryCall() {
        let message: [UInt8] = [1, 2, 3]
        var first = [UInt8](repeating: 0, count: 8)
        var second = [UInt8](repeating: 0, count: 8)
        var again = [UInt8](repeating: 0, count: 8)
        _ = anydns_siphash24(&first, message, 3, [UInt8](repeating: 1, count: 16))
        _ = anydns_siphash24(&second, message, 3, [UInt8](repeating: 2, count: 16))
        _ = anydns_siphash24(&again, message, 3, [UInt8](repeating: 1, count: 16))
        #expect(first != second)
        #expect(first == again)
    }

    @Test func randomBytesDiffer() {
        var first = [UInt8](repeating: 0, count: 16)
        var second = [UInt8](repeating: 0, count: 16)
        #expect(anydns_random_bytes(&first, 16) == 0)
        #expect(anydns_random_bytes(&second, 16) == 0)
        #expect(first != second)
    }

    @Test func constantTimeCompare() {
        #expect(anydns_constant_time_compare([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8], 3) == 0)
        #expect(anydns_constant_time_compare([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8], 3) != 0)
    }
}
