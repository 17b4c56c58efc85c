import DNSAuth
import Testing

@testable import DNSGuard

/// Server cookies (RFC 7873, RFC 9018) checked against RFC 9018 Appendix A, byte for byte.
@Suite("Server cookies: RFC 9018 test vectors, rotation, age window")
struct ServerCookiesTests {
    let secret = CookieSecret(hex: "e5e973e5a6b2a43f48e7dc849e37bfcf")!

    func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map {
            UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
        }
    }

    func serverCookie(_ cookies: ServerCookies, client: [UInt8], address: String, now: UInt64) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 16)
        client.withUnsafeBytes { clientCookie in
            output.withUnsafeMutableBytes {
                cookies.writeServerCookie(
                    clientCookie: clientCookie, client: IPAddress(address)!, now: now, into: $0)
            }
        }
        return output
    }

    func isValid(_ cookies: ServerCookies, _ option: [UInt8], address: String, now: UInt64) -> Bool {
        option.withUnsafeBytes { cookies.isValid($0, client: IPAddress(address)!, now: now) }
    }

    @Test("A.1: a client cookie alone gets the RFC's server cookie")
    func appendixA1() {
        let cookies = ServerCookies(secret: secret)
        #expect(
            serverCookie(
                cookies, client: bytes("2464c4abcf10c957"), address: "198.51.100.100", now: 1_559_731_985)
                == bytes("010000005cf79f111f8130c3eee29480"))
    }

    @Test("A.2: the cookie of A.1 is valid 40 minutes later, and a fresh one is made")
    func appendixA2() {
        let cookies = ServerCookies(secret: secret)
        let option = bytes("2464c4abcf10c957010000005cf79f111f8130c3eee29480")
        #expect(isValid(cookies, option, address: "198.51.100.100", now: 1_559_734_385))
        #expect(
            serverCookie(
                cookies, client: bytes("2464c4abcf10c957"), address: "198.51.100.100", now: 1_559_734_385)
                == bytes("010000005cf7a871d4a564a1442aca77"))
        // The same cookie from another address is not ours.
        #expect(!isValid(cookies, option, address: "198.51.100.101", now: 1_559_734_385))
    }

    @Test("A.3: reserved octets as received are part of the hash; an old cookie gets a fresh one")
    func appendixA3() {
        let cookies = ServerCookies(secret: secret)
        let option = bytes("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5")
        // Made at 1559727985: valid a minute later, expired (1 h 52 min old) when the RFC's query comes.
        #expect(isValid(cookies, option, address: "203.0.113.203", now: 1_559_728_045))
        #expect(!isValid(cookies, option, address: "203.0.113.203", now: 1_559_734_700))
        #expect(
            serverCookie(
                cookies, client: bytes("fc93fc62807ddb86"), address: "203.0.113.203", now: 1_559_734_700)
                == bytes("010000005cf7a9acf73a7810aca2381e"))
    }

    @Test("A.4: IPv6, a cookie made with the previous secret is accepted during rotation")
    func appendixA4() {
        let old = CookieSecret(hex: "dd3bdf9344b678b185a6f5cb60fca715")!
        let new = CookieSecret(hex: "445536bcd2513298075a5d379663c962")!
        let option = bytes("22681ab97d52c298010000005cf7c57926556bd0934c72f8")
        let address = "2001:db8:220:1:59de:d0f4:8769:82b8"
        #expect(!isValid(ServerCookies(secret: new), option, address: address, now: 1_559_741_961))
        let rotating = ServerCookies(secret: new, previousSecret: old)
        #expect(isValid(rotating, option, address: address, now: 1_559_741_961))
        #expect(
            serverCookie(rotating, client: bytes("22681ab97d52c298"), address: address, now: 1_559_741_961)
                == bytes("010000005cf7c609a6bb79d16625507a"))
    }

    @Test("a cookie is valid up to one hour old and five minutes ahead, not beyond (RFC 9018 §4.3)")
    func ageWindow() {
        let cookies = ServerCookies(secret: secret)
        let made: UInt64 = 1_559_731_985
        let option = bytes("2464c4abcf10c957010000005cf79f111f8130c3eee29480")
        #expect(isValid(cookies, option, address: "198.51.100.100", now: made + 3600))
        #expect(!isValid(cookies, option, address: "198.51.100.100", now: made + 3601))
        #expect(isValid(cookies, option, address: "198.51.100.100", now: made - 300))
        #expect(!isValid(cookies, option, address: "198.51.100.100", now: made - 301))
    }

    @Test("a server cookie of another version, length or hash is not valid")
    func foreignCookies() {
        let cookies = ServerCookies(secret: secret)
        let now: UInt64 = 1_559_731_985
        var option = bytes("2464c4abcf10c957010000005cf79f111f8130c3eee29480")
        option[23] ^= 1
        #expect(!isValid(cookies, option, address: "198.51.100.100", now: now))
        option[23] ^= 1
        option[8] = 2
        #expect(!isValid(cookies, option, address: "198.51.100.100", now: now))
        #expect(
            !isValid(
                cookies, Array(bytes("2464c4abcf10c957010000005cf79f111f8130c3eee29480").prefix(16)),
                address: "198.51.100.100", now: now))
    }

    @Test("secrets are 32 hex digits; two random secrets differ")
    func secrets() {
        #expect(CookieSecret(hex: "000102030405060708090a0b0c0d0e0f")?.bytes == Array(0...15))
        #expect(CookieSecret(hex: "000102030405060708090a0b0c0d0e") == nil)
        #expect(CookieSecret(hex: "000102030405060708090a0b0c0d0e0g") == nil)
        #expect(CookieSecret.random() != CookieSecret.random())
        #expect("\(CookieSecret.random())" == "<cookie secret>")
    }
}
