import DNSAuth
import DNSWire
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Addresses, prefixes and access lists")
struct ACLTests {
    static let transferKey = DomainName("transfer-key.")!

    @Test(
        "numeric addresses parse, IPv4-mapped IPv6 as IPv4 (RFC 4291 §2.5.5.2)",
        arguments: [
            ("192.0.2.1", IPAddress.v4(0xC000_0201), "192.0.2.1"),
            ("0.0.0.0", .v4(0), "0.0.0.0"),
            ("2001:db8::1", .v6(0x2001_0DB8_0000_0000, 1), "2001:db8::1"),
            ("::", .v6(0, 0), "::"),
            ("::ffff:192.0.2.1", .v4(0xC000_0201), "192.0.2.1"),
        ])
    func addressesParse_RFC4291_2_5_5_2(text: String, expected: IPAddress, description: String) {
        #expect(IPAddress(text) == expected)
        #expect(expected.description == description)
    }

    @Test(
        "non-numeric or malformed addresses are refused",
        arguments: ["", "localhost", "192.0.2", "1.2.3.256", "fe80::1%eth0", "2001:db8:::1", "192.0.2.1/24"])
    func badAddressesAreRefused(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("addresses read from sockaddr_in and sockaddr_in6, mapped IPv6 as IPv4")
    func socketAddresses() {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0xC000_0201).bigEndian
            raw.storeBytes(of: address, as: sockaddr_in.self)
        }
        #expect(
            withUnsafeBytes(of: &storage) { IPAddress(socketAddress: $0.baseAddress!) }
                == IPAddress("192.0.2.1"))
        for (text, expected) in [
            ("2001:db8::7", IPAddress("2001:db8::7")!), ("::ffff:198.51.100.9", .v4(0xC633_6409)),
        ] {
            withUnsafeMutableBytes(of: &storage) { raw in
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                _ = inet_pton(AF_INET6, text, &address.sin6_addr)
                raw.storeBytes(of: address, as: sockaddr_in6.self)
            }
            #expect(withUnsafeBytes(of: &storage) { IPAddress(socketAddress: $0.baseAddress!) } == expected)
        }
        withUnsafeMutableBytes(of: &storage) { raw in
            var address = sockaddr()
            address.sa_family = sa_family_t(AF_UNIX)
            raw.storeBytes(of: address, as: sockaddr.self)
        }
        #expect(withUnsafeBytes(of: &storage) { IPAddress(socketAddress: $0.baseAddress!) } == nil)
    }

    @Test(
        "prefixes contain exactly the addresses under them",
        arguments: [
            ("192.0.2.0/24", "192.0.2.0", true), ("192.0.2.0/24", "192.0.2.255", true),
            ("192.0.2.0/24", "192.0.3.0", false), ("192.0.2.0/24", "2001:db8::1", false),
            ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.0", false),
            ("192.0.2.1", "192.0.2.1", true), ("192.0.2.1", "192.0.2.2", false),
            ("0.0.0.0/0", "203.0.113.9", true), ("0.0.0.0/0", "::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true), ("2001:db8::/32", "2001:db9::1", false),
            ("2001:db8::/32", "192.0.2.1", false),
            ("2001:db8:0:1::/64", "2001:db8:0:1:ffff::", true),
            ("2001:db8:0:1::/64", "2001:db8:0:2::", false),
            ("2001:db8::1:0/112", "2001:db8::1:ffff", true), ("2001:db8::1:0/112", "2001:db8::2:0", false),
            ("::/0", "2001:db8::1", true), ("::/0", "192.0.2.1", false),
            ("::1", "::1", true), ("::1", "::2", false),
            ("::ffff:192.0.2.0/120", "192.0.2.77", true), ("::ffff:192.0.2.0/120", "::ffff:192.0.3.1", false),
            ("192.0.2.0/24", "::ffff:192.0.2.5", true),
        ])
    func prefixContainment(prefix: String, address: String, expected: Bool) throws {
        let parsed = try #require(AddressPrefix(prefix))
        #expect(parsed.contains(try #require(IPAddress(address))) == expected)
    }

    @Test("host bits beyond the prefix are accepted and cleared")
    func hostBitsAreCleared() throws {
        let prefix = try #require(AddressPrefix("192.0.2.77/24"))
        #expect(prefix == AddressPrefix("192.0.2.0/24"))
        #expect(prefix.description == "192.0.2.0/24")
        #expect(AddressPrefix("2001:db8::ff/120")?.description == "2001:db8::/120")
        #expect(AddressPrefix("192.0.2.1")?.description == "192.0.2.1/32")
        #expect(AddressPrefix("::ffff:192.0.2.0/120")?.description == "192.0.2.0/24")
    }

    @Test(
        "malformed prefixes are refused",
        arguments: [
            "192.0.2.0/33", "2001:db8::/129", "192.0.2.0/", "192.0.2.0/-1", "192.0.2.0/+8", "/24",
            "192.0.2.0/24/8", "example.com/24", "192.0.2.0/0024",
        ])
    func badPrefixesAreRefused(text: String) {
        #expect(AddressPrefix(text) == nil)
    }

    @Test("a rule with prefixes and no key allows by address alone")
    func addressOnlyRule() {
        let rule = AccessRule(name: "secondaries", prefixes: [AddressPrefix("192.0.2.0/24")!], keyName: nil)
        #expect(rule.allows(IPAddress("192.0.2.10")!, verifiedKey: nil))
        #expect(rule.allows(IPAddress("192.0.2.10")!, verifiedKey: Self.transferKey))
        #expect(!rule.allows(IPAddress("198.51.100.1")!, verifiedKey: nil))
    }

    @Test("a rule with a key needs a request verified with that key, from an allowed address")
    func keyRuleNeedsBoth() {
        let rule = AccessRule(
            name: "signed", prefixes: [AddressPrefix("2001:db8::/32")!], keyName: DomainName("Transfer-Key.")!
        )
        let inside = IPAddress("2001:db8::53")!
        #expect(rule.allows(inside, verifiedKey: Self.transferKey))
        #expect(rule.allows(inside, verifiedKey: DomainName("TRANSFER-KEY.")!))
        #expect(!rule.allows(inside, verifiedKey: nil))
        #expect(!rule.allows(inside, verifiedKey: DomainName("other-key.")!))
        #expect(!rule.allows(IPAddress("2001:db9::53")!, verifiedKey: Self.transferKey))
    }

    @Test("a rule with a key and no prefixes allows any address with the key")
    func keyOnlyRule() {
        let rule = AccessRule(name: "any-signed", prefixes: [], keyName: Self.transferKey)
        #expect(rule.allows(IPAddress("203.0.113.1")!, verifiedKey: Self.transferKey))
        #expect(rule.allows(IPAddress("::1")!, verifiedKey: Self.transferKey))
        #expect(!rule.allows(IPAddress("203.0.113.1")!, verifiedKey: nil))
    }

    @Test("a list allows when any rule does; an empty list denies everything")
    func listIsAnyOfItsRules() {
        let list = AccessList([
            AccessRule(name: "v4", prefixes: [AddressPrefix("192.0.2.0/24")!], keyName: nil),
            AccessRule(name: "signed", prefixes: [], keyName: Self.transferKey),
        ])
        #expect(list.allows(IPAddress("192.0.2.1")!, verifiedKey: nil))
        #expect(list.allows(IPAddress("2001:db8::1")!, verifiedKey: Self.transferKey))
        #expect(!list.allows(IPAddress("2001:db8::1")!, verifiedKey: nil))
        #expect(!AccessList.denyAll.allows(IPAddress("192.0.2.1")!, verifiedKey: Self.transferKey))
        #expect(!AccessList([]).allows(IPAddress("::1")!, verifiedKey: nil))
        let anyone = AccessList([AccessRule(name: "any", prefixes: [], keyName: nil)])
        #expect(anyone.allows(IPAddress("::1")!, verifiedKey: nil))
    }
}
