import AnydnsConfig
import Foundation
import Testing

private let transferYAML = """
    keys:
      - name: transfer
        algorithm: hmac-sha256
        secret: K2tf3TRjvQkVCmJF3/Z9vA==
    remotes:
      - name: hidden-primary
        address: [192.0.2.53:53]
        key: transfer
      - name: site-secondaries
        address: [198.51.100.12:53, "[2001:db8::12]:53"]
    acls:
      - name: sites
        address: [198.51.100.0/24, "2001:db8::/32"]
        key: transfer
    storage: /var/lib/anydns
    journal: {max-entries: 10, max-bytes: 65536}
    zones:
      - origin: example.net.
        primaries: [hidden-primary]
        allow-notify: [sites]
      - origin: example.com.
        file: example.com.zone
        allow-transfer: [sites]
        notify: [site-secondaries]
    """

@Suite("Configuration: keys, remotes, ACLs and secondary zones (README \"Zone transfers\")")
struct TransferConfigurationTests {
    @Test("the hidden-primary example parses into keys, remotes, ACLs and zone roles")
    func exampleParses() throws {
        let configuration = try Configuration.parse(transferYAML)
        #expect(
            configuration.keys == [
                .init(name: "transfer", algorithm: "hmac-sha256", secret: "K2tf3TRjvQkVCmJF3/Z9vA==")
            ])
        #expect(configuration.remotes.map(\.name) == ["hidden-primary", "site-secondaries"])
        #expect(configuration.remotes[1].addresses == ["198.51.100.12:53", "[2001:db8::12]:53"])
        #expect(configuration.remotes[1].key == nil)
        #expect(
            configuration.acls == [
                .init(name: "sites", prefixes: ["198.51.100.0/24", "2001:db8::/32"], key: "transfer")
            ])
        #expect(configuration.storage == "/var/lib/anydns")
        #expect(configuration.journal == .init(maxEntries: 10, maxBytes: 65536))
        #expect(configuration.zones[0].isSecondary && configuration.zones[0].file.isEmpty)
        #expect(configuration.zones[0].allowNotify == ["sites"])
        #expect(!configuration.zones[1].isSecondary && configuration.zones[1].notify == ["site-secondaries"])
    }

    @Test(
        "each mistake is an error naming the key",
        arguments: [
            (
                "algorithm: hmac-sha256", "algorithm: hmac-md5", "keys[0].algorithm",
                "unknown algorithm hmac-md5"
            ),
            ("secret: K2tf3TRjvQkVCmJF3/Z9vA==", "secret: not*base64", "keys[0].secret", "base64"),
            (
                "    key: transfer\n  - name: site", "    key: nokey\n  - name: site",
                "remotes[0].key", "unknown key nokey"
            ),
            ("address: [192.0.2.53:53]", "address: [192.0.2.53]", "remotes[0].address[0]", "ADDR:PORT"),
            ("198.51.100.0/24,", "198.51.100.0/33,", "acls[0].address[0]", "prefix"),
            (
                "primaries: [hidden-primary]", "primaries: [nobody]", "zones[0].primaries[0]",
                "unknown remote nobody"
            ),
            (
                "allow-transfer: [sites]", "allow-transfer: [others]", "zones[1].allow-transfer[0]",
                "unknown acl others"
            ),
            (
                "    primaries: [hidden-primary]\n",
                "    primaries: [hidden-primary]\n    file: x.zone\n", "zones[0].file", "not both"
            ),
        ] as [(String, String, String, String)])
    func mistakesNameTheKey(original: String, replacement: String, key: String, message: String) throws {
        let text = transferYAML.replacingOccurrences(of: original, with: replacement)
        #expect(text != transferYAML, "the case must change the YAML")
        let error = try #require(parseError(text))
        #expect(error.key == key, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test("secret-file is read relative to the configuration, and must hold base64")
    func secretFileIsRead() throws {
        let directory = NSTemporaryDirectory() + "anydns-config-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "K2tf3TRjvQkVCmJF3/Z9vA==\n".write(
            toFile: directory + "/transfer.key", atomically: true, encoding: .utf8)
        let yaml = transferYAML.replacingOccurrences(
            of: "secret: K2tf3TRjvQkVCmJF3/Z9vA==", with: "secret-file: transfer.key")
        try yaml.write(toFile: directory + "/anydns.yaml", atomically: true, encoding: .utf8)
        let configuration = try Configuration.load(path: directory + "/anydns.yaml")
        #expect(configuration.keys[0].secret == "K2tf3TRjvQkVCmJF3/Z9vA==")
        try "not a secret".write(toFile: directory + "/transfer.key", atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try Configuration.load(path: directory + "/anydns.yaml") }
    }
}
