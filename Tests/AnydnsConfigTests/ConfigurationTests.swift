import AnydnsConfig
import DNSAuth
import Foundation
import Testing

/// Parses `yaml` and returns the error it must raise; records an issue if it parses.
func parseError(_ yaml: String) -> ConfigurationError? {
    do {
        let configuration = try Configuration.parse(yaml, file: "test.yaml")
        Issue.record("parsed without error: \(configuration)")
        return nil
    } catch {
        return error
    }
}

/// A YAML document that must be refused, and the key path the error must name.
struct BadConfiguration: Sendable, CustomTestStringConvertible {
    var yaml: String
    var key: String
    /// Words the message must contain.
    var message: String
    var testDescription: String { "\(key): \(yaml.replacingOccurrences(of: "\n", with: "⏎"))" }

    init(_ key: String, _ message: String, _ yaml: String) {
        self.key = key
        self.message = message
        self.yaml = yaml
    }
}

let validZones = """
    zones:
      - origin: example.com.
        file: example.com.zone
      - origin: example.org.
        file: example.org.zone

    """

@Suite("Configuration: YAML parsing and validation with key paths")
struct ConfigurationTests {
    @Test("a complete configuration parses to the expected values")
    func completeConfigurationParses() throws {
        let yaml = """
            # every section, every key
            listen:
              - 127.0.0.1:5300
              - "[::1]:5300"
              - 0.0.0.0:53
            zones:
              - origin: example.com.
                file: zones/example.com.zone
              - origin: Example.ORG
                file: /var/lib/anydns/example.org.zone
              - origin: .
                file: root.zone
            identity:
              name: ns1.example.net
              version: hidden
              nsid: false
            limits:
              tcp-connections: 250
              tcp-idle-timeout: 2.5

            """
        let configuration = try Configuration.parse(yaml)
        #expect(
            configuration
                == Configuration(
                    listen: ["127.0.0.1:5300", "[::1]:5300", "0.0.0.0:53"],
                    zones: [
                        .init(origin: "example.com.", file: "zones/example.com.zone"),
                        .init(origin: "Example.ORG", file: "/var/lib/anydns/example.org.zone"),
                        .init(origin: ".", file: "root.zone"),
                    ],
                    identity: .init(name: "ns1.example.net", version: nil, nsid: false),
                    limits: .init(tcpConnections: 250, tcpIdleTimeout: 2.5)))
    }

    @Test("omitted sections take their defaults; a version other than `hidden` is kept")
    func defaultsAndVisibleVersion() throws {
        let configuration = try Configuration.parse("identity:\n  version: anydns 1.0\n")
        #expect(configuration.listen.isEmpty)
        #expect(configuration.zones.isEmpty)
        #expect(configuration.identity == .init(name: nil, version: "anydns 1.0", nsid: true))
        #expect(configuration.limits == .init(tcpConnections: 1000, tcpIdleTimeout: 10))
        // An empty document is an empty configuration, not an error.
        #expect(try Configuration.parse("") == Configuration(listen: [], zones: []))
        #expect(try Configuration.parse("# only a comment\n") == Configuration(listen: [], zones: []))
        // Whole numbers are accepted where a number is expected.
        #expect(try Configuration.parse("limits:\n  tcp-idle-timeout: 30\n").limits.tcpIdleTimeout == 30)
    }

    @Test(
        "an unknown key is refused at every level, naming its full path",
        arguments: [
            BadConfiguration("listne", "unknown key", "listne: []\n"),
            BadConfiguration(
                "zones[1].fiel", "unknown key",
                validZones.replacingOccurrences(of: "file: example.org.zone", with: "file: x\n    fiel: y")),
            BadConfiguration(
                "zones[0].ttl", "unknown key", "zones:\n  - origin: example.com.\n    file: a\n    ttl: 5\n"),
            BadConfiguration("identity.hostname", "unknown key", "identity:\n  hostname: ns1\n"),
            BadConfiguration("limits.udp-payload", "unknown key", "limits:\n  udp-payload: 1232\n"),
        ])
    func unknownKeysAreRefused(bad: BadConfiguration) throws {
        let error = try #require(parseError(bad.yaml))
        #expect(error.key == bad.key)
        #expect(error.message.contains(bad.message))
        #expect(error.file == "test.yaml")
    }

    @Test("a range error echoes the value given")
    func rangeErrorsEchoTheValue() throws {
        let port = try #require(parseError("dns:\n  port: 70000\n"))
        #expect(port.key == "dns.port")
        #expect(port.message == "expected a whole number from 1 to 65535, got 70000")
        #expect(try #require(parseError("dns:\n  port: [53]\n")).message.hasSuffix(", got a list"))
        #expect(
            try #require(parseError("dns:\n  port: fifty-three\n")).message.hasSuffix(", got fifty-three"))
        let interval = try #require(parseError("health:\n  probe-interval: -1\n"))
        #expect(interval.message.hasSuffix(", got -1"), "\(interval.message)")
    }

    @Test("the unknown-key error lists the keys allowed at that place")
    func unknownKeyListsAllowedKeys() throws {
        let error = try #require(parseError("limits:\n  tcp-conections: 5\n"))
        #expect(error.key == "limits.tcp-conections")
        #expect(error.message.contains("tcp-connections, tcp-connections-per-client, tcp-idle-timeout"))
        #expect(error.description == "test.yaml: limits.tcp-conections: \(error.message)")
    }

    @Test(
        "a listen address must be a numeric ADDR:PORT or [ADDR6]:PORT",
        arguments: [
            "localhost:53", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:dns",
            "256.0.0.1:53", "::1:53", "[::1]", "[::1]53", "[::1]:", "[zz::1]:53", "[127.0.0.1]:53", ":53", "",
        ])
    func badListenAddressIsRefused(address: String) throws {
        let error = try #require(parseError("listen:\n  - 127.0.0.1:53\n  - \"\(address)\"\n"))
        #expect(error.key == "listen[1]")
        #expect(error.message.contains("ADDR:PORT"))
    }

    @Test(
        "good listen addresses are kept as written",
        arguments: [
            "127.0.0.1:53", "0.0.0.0:65535", "[::]:53", "[::1]:5300", "[2001:db8::53]:1", "192.0.2.1:1",
        ])
    func goodListenAddressIsAccepted(address: String) throws {
        #expect(try Configuration.parse("listen: [\"\(address)\"]\n").listen == [address])
    }

    @Test("dns.workers sets the UDP workers per address; omitted, it is left to the core count")
    func workersParse() throws {
        #expect(try Configuration.parse("dns:\n  workers: 4\n").dns.workers == 4)
        #expect(try Configuration.parse("dns:\n  port: 5300\n").dns.workers == nil)
    }

    @Test(
        "dns.workers outside 1...256 or not a whole number is refused; the bounds are accepted",
        arguments: [
            ("0", "from"), ("-1", "from"), ("257", "from"), ("two", "whole number"),
            ("1.5", "whole number"), ("1", nil), ("256", nil),
        ] as [(String, String?)])
    func workersAreRangeChecked(value: String, message: String?) throws {
        let yaml = "dns:\n  workers: \(value)\n"
        guard let message else {
            #expect(try Configuration.parse(yaml).dns.workers == Int(value))
            return
        }
        let error = try #require(parseError(yaml))
        #expect(error.key == "dns.workers")
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test(
        "a zone origin must be a domain name",
        arguments: [
            "exa mple.com.", "a..com.", "example.com..", "", "ex@mple.com.", "..",
            String(repeating: "a", count: 64) + ".com.",
            String(repeating: "abcdefghi.", count: 26),  // 260 characters
        ])
    func badOriginIsRefused(origin: String) throws {
        let yaml = validZones.replacingOccurrences(of: "origin: example.org.", with: "origin: \"\(origin)\"")
        let error = try #require(parseError(yaml))
        #expect(error.key == "zones[1].origin")
        #expect(error.message.contains("domain name"))
    }

    @Test(
        "good origins are accepted",
        arguments: [
            "example.com.", "example.com", "EXAMPLE.com.", ".", "_tcp.example.com.", "xn--bcher-kva.example.",
            "0.192.in-addr.arpa.",
        ])
    func goodOriginIsAccepted(origin: String) throws {
        let configuration = try Configuration.parse("zones:\n  - origin: \"\(origin)\"\n    file: z\n")
        #expect(configuration.zones == [.init(origin: origin, file: "z")])
    }

    @Test(
        "the same zone twice is refused at the second, whatever the case or final dot",
        arguments: ["example.com.", "example.com", "EXAMPLE.Com."])
    func duplicateZoneIsRefused(second: String) throws {
        let yaml = validZones + "  - origin: \(second)\n    file: again.zone\n"
        let error = try #require(parseError(yaml))
        #expect(error.key == "zones[2].origin")
        #expect(error.message.contains("listed twice"))
    }

    @Test("a zone without origin or without file is refused, naming the missing key")
    func missingZoneFieldsAreRefused() throws {
        let noFile = try #require(
            parseError(validZones.replacingOccurrences(of: "    file: example.org.zone\n", with: "")))
        #expect(noFile.key == "zones[1].file")
        #expect(noFile.message == "missing (or primaries, for a secondary zone)")
        let noOrigin = try #require(parseError("zones:\n  - file: a.zone\n"))
        #expect(noOrigin.key == "zones[0].origin")
        #expect(noOrigin.message == "missing")
    }

    @Test(
        "a value of the wrong type is refused, naming its path",
        arguments: [
            BadConfiguration("", "mapping", "- listen\n"),
            BadConfiguration("", "mapping", "just a string\n"),
            BadConfiguration("listen", "list", "listen: 127.0.0.1:53\n"),
            BadConfiguration("listen[0]", "string", "listen:\n  - [127.0.0.1, 53]\n"),
            BadConfiguration("zones", "list", "zones:\n  origin: example.com.\n"),
            BadConfiguration("zones[0]", "mapping", "zones:\n  - example.com.\n"),
            BadConfiguration(
                "zones[0].origin", "string", "zones:\n  - origin: [example.com.]\n    file: a\n"),
            BadConfiguration(
                "zones[0].file", "string", "zones:\n  - origin: example.com.\n    file: {path: a}\n"),
            BadConfiguration("identity", "mapping", "identity: ns1\n"),
            BadConfiguration("identity.name", "string", "identity:\n  name: [a, b]\n"),
            BadConfiguration("identity.version", "string", "identity:\n  version: {a: b}\n"),
            BadConfiguration("identity.nsid", "true or false", "identity:\n  nsid: maybe\n"),
            BadConfiguration("limits", "mapping", "limits: 5\n"),
            BadConfiguration("limits.tcp-connections", "whole number", "limits:\n  tcp-connections: many\n"),
            BadConfiguration("limits.tcp-connections", "whole number", "limits:\n  tcp-connections: 1.5\n"),
            BadConfiguration(
                "limits.tcp-connections", "whole number", "limits:\n  tcp-connections: \"250\"\n"),
            BadConfiguration("limits.tcp-idle-timeout", "number", "limits:\n  tcp-idle-timeout: soon\n"),
        ])
    func wrongTypesAreRefused(bad: BadConfiguration) throws {
        let error = try #require(parseError(bad.yaml))
        #expect(error.key == bad.key)
        #expect(error.message.contains(bad.message), "\(error.message)")
    }

    @Test(
        "limits outside their ranges are refused; the bounds themselves are accepted",
        arguments: [
            ("tcp-connections", "0", false), ("tcp-connections", "-1", false),
            ("tcp-connections", "100001", false),
            ("tcp-connections", "1", true), ("tcp-connections", "100000", true),
            ("tcp-idle-timeout", "0", false), ("tcp-idle-timeout", "0.05", false),
            ("tcp-idle-timeout", "3600.5", false),
            ("tcp-idle-timeout", ".nan", false), ("tcp-idle-timeout", ".inf", false),
            ("tcp-idle-timeout", "0.1", true), ("tcp-idle-timeout", "3600", true),
        ] as [(String, String, Bool)])
    func limitsAreRangeChecked(key: String, value: String, accepted: Bool) throws {
        let yaml = "limits:\n  \(key): \(value)\n"
        if accepted {
            #expect(throws: Never.self) { try Configuration.parse(yaml) }
        } else {
            let error = try #require(parseError(yaml))
            #expect(error.key == "limits.\(key)")
            #expect(error.message.contains("from"))
        }
    }

    @Test("text that is not YAML is refused with an error on the document")
    func invalidYAMLIsRefused() throws {
        for yaml in [
            "listen: [127.0.0.1:53\n", "zones:\n  - origin: a\n   file: b\n  bad\n",
            "listen: []\nlisten: []\n",
        ] {
            let error = try #require(parseError(yaml))
            #expect(error.key == "", "\(yaml)")
            #expect(error.message.hasPrefix("not valid YAML"), "\(error.message)")
            #expect(error.description.hasPrefix("test.yaml: not valid YAML"))
        }
    }
}

@Suite("Configuration.load: reading the file and resolving zone paths")
struct ConfigurationLoadTests {
    /// A fresh directory, removed when the test ends.
    final class Directory {
        let path = NSTemporaryDirectory() + "anydns-config-tests-" + UUID().uuidString
        init() { try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        func write(_ name: String, _ text: String) -> String {
            let file = path + "/" + name
            try! text.write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }
    }

    @Test(
        "relative zone paths are resolved against the configuration file's directory; absolute ones are kept")
    func relativeZonePathsAreResolved() throws {
        let directory = Directory()
        let path = directory.write(
            "anydns.yaml",
            """
            zones:
              - origin: example.com.
                file: zones/example.com.zone
              - origin: example.org.
                file: /srv/zones/example.org.zone
              - origin: example.net.
                file: ../shared/example.net.zone

            """)
        let configuration = try Configuration.load(path: path)
        #expect(
            configuration.zones.map(\.file) == [
                directory.path + "/zones/example.com.zone", "/srv/zones/example.org.zone",
                directory.path + "/../shared/example.net.zone",
            ])
        #expect(configuration.zones.map(\.origin) == ["example.com.", "example.org.", "example.net."])
    }

    @Test("errors from a loaded file name that file")
    func loadErrorsNameTheFile() throws {
        let directory = Directory()
        let path = directory.write("bad.yaml", "limits:\n  tcp-connections: 0\n")
        let error = #expect(throws: ConfigurationError.self) { try Configuration.load(path: path) }
        #expect(error?.file == path)
        #expect(error?.key == "limits.tcp-connections")
        #expect(error?.message == "expected a whole number from 1 to 100000, got 0")
    }

    @Test("a configuration file that cannot be read is an error naming the file")
    func unreadableFileIsAnError() throws {
        let path = "/nonexistent-anydns-test/anydns.yaml"
        do {
            _ = try Configuration.load(path: path)
            Issue.record("loaded a file that does not exist")
        } catch {
            #expect(error.file == path)
            #expect(error.key == "")
            #expect(error.message.contains("cannot read"))
        }
    }
}
