import AnydnsConfig
import Testing

/// Which changes a reload applies and which need a restart (README "Signals").
@Suite("Keys that need a restart")
struct RestartKeysTests {
    let base = """
        dns:
          port: 53
          anycast: [10.53.0.1]
        management:
          address: 198.51.100.11
        keys:
          - name: transfer
            algorithm: hmac-sha256
            secret: c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0
          - name: notify-in
            algorithm: hmac-sha256
            secret: c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0
        remotes:
          - name: primary
            address: "192.0.2.1:53"
            key: transfer
        zones:
          - origin: any.
            file: any.zone
          - origin: example.com.
            primaries: [primary]
        identity:
          name: site-a

        """

    func keys(_ edit: (String) -> String) throws -> [String] {
        let old = try Configuration.parse(base, file: "a.yaml")
        let new = try Configuration.parse(edit(base), file: "a.yaml")
        return old.keysNeedingRestart(in: new)
    }

    @Test func whatAppliesAtRunTimeNeedsNoRestart() throws {
        #expect(try keys { $0.replacingOccurrences(of: "site-a", with: "site-b") } == [])
        #expect(
            try keys {
                $0 + "lame-duck: 9\nlimits:\n  tcp-connections: 5\nrate-limit:\n  responses-per-second: 5\n"
            } == [])
        #expect(try keys { $0 + "maintenance-file: /run/m\nhealth:\n  probe-interval: 3\n" } == [])
        // An incoming key (not used to sign anything going out) applies at once.
        #expect(
            try keys {
                $0.replacingOccurrences(
                    of: "  - name: notify-in\n    algorithm: hmac-sha256",
                    with: "  - name: notify-in\n    algorithm: hmac-sha512")
            } == [])
        #expect(
            try keys { $0.replacingOccurrences(of: "    file: any.zone", with: "    file: other.zone") } == []
        )
    }

    @Test func socketsNeedARestart() throws {
        #expect(try keys { $0.replacingOccurrences(of: "port: 53", with: "port: 5353") } == ["dns.port"])
        #expect(
            try keys { $0.replacingOccurrences(of: "[10.53.0.1]", with: "[10.53.0.2]") } == ["dns.anycast"])
        #expect(
            try keys { $0.replacingOccurrences(of: "198.51.100.11", with: "198.51.100.12") } == [
                "management.address"
            ])
        #expect(
            try keys {
                $0.replacingOccurrences(
                    of: "  address: 198.51.100.11", with: "  address: 198.51.100.11\n  http-port: 9053")
            } == ["management.http-port"])
        #expect(try keys { $0 + "listen: [\"127.0.0.1:5300\"]\n" } == ["listen"])
    }

    /// The zone lifecycle's registry takes the zone list on every reload: secondary zones added or
    /// removed, their primaries, NOTIFY targets, remotes and the keys that sign for them apply at
    /// once. Only where it keeps its files and how long its journals are need a restart.
    @Test func theZoneRegistryAppliesAtRunTime() throws {
        #expect(try keys { $0.replacingOccurrences(of: "192.0.2.1:53", with: "192.0.2.2:53") } == [])
        #expect(
            try keys {
                $0.replacingOccurrences(
                    of: "  - name: transfer\n    algorithm: hmac-sha256",
                    with: "  - name: transfer\n    algorithm: hmac-sha512")
            } == [])
        #expect(
            try keys {
                $0.replacingOccurrences(of: "    primaries: [primary]\n", with: "    file: example.zone\n")
            } == [])
        #expect(
            try keys {
                $0.replacingOccurrences(
                    of: "    file: any.zone\n", with: "    file: any.zone\n    notify: [primary]\n")
            } == [])
        #expect(try keys { $0 + "storage: /var/lib/anydns\n" } == ["storage"])
        #expect(try keys { $0 + "journal:\n  max-entries: 5\n" } == ["journal"])
    }
}
