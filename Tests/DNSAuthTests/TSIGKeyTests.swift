import DNSAuth
import DNSWire
import Testing

@Suite("TSIG keys, algorithms and keyrings (RFC 8945 §3, §6)")
struct TSIGKeyTests {
    @Test(
        "each algorithm's configuration name, wire name and MAC length (RFC 8945 §6)",
        arguments: [
            (TSIGAlgorithm.hmacSHA1, "hmac-sha1", 20, 10),
            (.hmacSHA256, "hmac-sha256", 32, 16),
            (.hmacSHA384, "hmac-sha384", 48, 24),
            (.hmacSHA512, "hmac-sha512", 64, 32),
        ])
    func algorithmNames_RFC8945_6(algorithm: TSIGAlgorithm, name: String, length: Int, minimum: Int) {
        #expect(algorithm.configName == name)
        #expect(algorithm.wireName == DomainName(name + ".")!)
        #expect(algorithm.macLength == length)
        #expect(algorithm.minimumMACLength == minimum)
        #expect(TSIGAlgorithm(configName: name) == algorithm)
        #expect(TSIGAlgorithm(configName: name.uppercased()) == algorithm)
        let upper = DomainName(name.uppercased() + ".")!
        #expect(upper.wire.withUnsafeBytes { TSIGAlgorithm(wireName: $0) } == algorithm)
    }

    @Test(
        "unsupported algorithm names are refused",
        arguments: ["hmac-md5", "hmac-sha224", "hmac-sha256-128", ""])
    func unsupportedAlgorithmsAreRefused(name: String) {
        #expect(TSIGAlgorithm(configName: name) == nil)
        let wire = DomainName(name.isEmpty ? "." : name)!.wire
        #expect(wire.withUnsafeBytes { TSIGAlgorithm(wireName: $0) } == nil)
    }

    @Test("a key from configuration text: name lowercased, secret decoded")
    func keyFromConfiguration() throws {
        let key = try #require(
            TSIGKey(name: "Transfer-Key", algorithm: "hmac-sha256", base64Secret: "AQIDBAUGBwgJCgsMDQ4PEA=="))
        #expect(key.name == DomainName("transfer-key.")!)
        #expect(key.algorithm == .hmacSHA256)
        #expect(key.secret == Array(1...16))
        // Logging a key must not log its secret.
        #expect(String(describing: key) == "transfer-key. (hmac-sha256)")
        #expect(String(reflecting: key) == "TSIGKey(transfer-key., hmac-sha256, 16-octet secret)")
    }

    @Test(
        "a key with a bad name, algorithm or secret is refused",
        arguments: [
            ("a..b", "hmac-sha256", "AQID"),
            ("key", "hmac-md5", "AQID"),
            ("key", "hmac-sha256", "not base64!"),
            ("key", "hmac-sha256", ""),
        ])
    func badKeyTextIsRefused(name: String, algorithm: String, secret: String) {
        #expect(TSIGKey(name: name, algorithm: algorithm, base64Secret: secret) == nil)
    }

    @Test("the keyring finds keys case-insensitively, by name or by wire bytes")
    func keyringLookup() {
        let first = TSIGKey(name: DomainName("a.example.")!, algorithm: .hmacSHA1, secret: [1])
        let second = TSIGKey(name: DomainName("B.Example.")!, algorithm: .hmacSHA512, secret: [2])
        let keyring = TSIGKeyring([first, second])
        #expect(!keyring.isEmpty)
        #expect(TSIGKeyring([]).isEmpty)
        #expect(keyring.key(named: DomainName("A.EXAMPLE.")!) == first)
        #expect(keyring.key(named: DomainName("b.example.")!) == second)
        #expect(DomainName("b.EXAMPLE.")!.wire.withUnsafeBytes { keyring.key(named: $0) } == second)
        #expect(keyring.key(named: DomainName("c.example.")!) == nil)
        #expect(keyring.key(named: DomainName("example.")!) == nil)
    }
}
