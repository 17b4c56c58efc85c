import DNSAuth
import DNSGuard
import Yams

extension NodeReader {
    /// `rate-limit` and `cookies`: what protects the server under attack.
    func defenceSettings(_ top: [String: Node], into configuration: inout Configuration)
        throws(ConfigurationError)
    {
        if let rateLimit = top["rate-limit"] {
            let fields = try mapping(
                rateLimit, at: "rate-limit",
                allowed: [
                    "responses-per-second", "slip", "ipv4-prefix", "ipv6-prefix", "exempt", "log-only",
                    "table-size",
                ])
            var settings = RateLimitSettings()
            // The table counts up to 65,535 responses per bucket and second: a higher rate is
            // never reached, which is what a benchmark of the accounting cost wants.
            try read(
                "responses-per-second", of: fields, in: "rate-limit", range: 0...10_000_000,
                into: &settings.responsesPerSecond)
            try read("slip", of: fields, in: "rate-limit", range: 0...100, into: &settings.slip)
            try read(
                "ipv4-prefix", of: fields, in: "rate-limit", range: 8...32, into: &settings.ipv4PrefixLength)
            try read(
                "ipv6-prefix", of: fields, in: "rate-limit", range: 16...128, into: &settings.ipv6PrefixLength
            )
            if let value = fields["exempt"] {
                for (index, text) in try stringList(value, at: "rate-limit.exempt").enumerated() {
                    guard let prefix = AddressPrefix(text) else {
                        throw fail(
                            "rate-limit.exempt[\(index)]",
                            "expected an address or prefix such as 192.0.2.0/24 or 2001:db8::/32, got \(text)"
                        )
                    }
                    settings.exempt.append(prefix)
                }
            }
            try read("log-only", of: fields, in: "rate-limit", into: &settings.logOnly)
            try read(
                "table-size", of: fields, in: "rate-limit", range: 1024...(1 << 26), into: &settings.tableSize
            )
            configuration.rateLimit = settings
        }
        if let cookies = top["cookies"] {
            let fields = try mapping(
                cookies, at: "cookies", allowed: ["secret", "previous-secret", "require-under-load"])
            for (key, path) in [
                ("secret", \Configuration.Cookies.secret), ("previous-secret", \.previousSecret),
            ] {
                guard let value = fields[key] else { continue }
                let text = try string(value, at: "cookies.\(key)")
                let isHex = text.utf8.allSatisfy {
                    (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0)
                }
                guard text.utf8.count == 32, isHex else {
                    throw fail(
                        "cookies.\(key)",
                        "expected 16 octets as 32 hexadecimal digits, got \(text.utf8.count) characters")
                }
                configuration.cookies[keyPath: path] = text
            }
            if configuration.cookies.previousSecret != nil && configuration.cookies.secret == nil {
                throw fail("cookies.previous-secret", "needs cookies.secret, the one that replaces it")
            }
            try read(
                "require-under-load", of: fields, in: "cookies", range: 0...100_000_000,
                into: &configuration.cookies.requireUnderLoad)
        }
    }
}
