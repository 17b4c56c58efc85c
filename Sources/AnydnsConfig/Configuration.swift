import DNSAuth
import DNSWire
import Foundation
import Yams

/// The server's configuration, as read from YAML (README "Configuration").
///
/// Values are checked when read: an unknown key or a bad value is an error naming the key path
/// (`zones[1].origin`), never silently ignored (README "Configuration").
public struct Configuration: Equatable, Sendable {
    /// Extra DNS listen addresses, `ADDR:PORT` or `[ADDR6]:PORT`.
    public var listen: [String]
    public var zones: [ZoneEntry]
    public var identity: Identity
    public var limits: Limits
    /// The shared anycast addresses and the DNS port, served on every site.
    public var dns = DNS()
    public var management = Management()
    public var health = Health()
    /// Seconds DNS keeps answering after SIGTERM while `/readyz` says 503 (the drain, README "Signals").
    public var lameDuck: Double = 5
    /// While this file exists, `/readyz` is 503 (planned maintenance).
    public var maintenanceFile: String? = nil
    /// TSIG keys (RFC 8945), by name.
    public var keys: [Key] = []
    /// Other servers (primaries, secondaries to notify), by name.
    public var remotes: [Remote] = []
    /// Access control lists, by name, used by zones' `allow-transfer` and `allow-notify`.
    public var acls: [ACL] = []
    /// Directory for transferred zones, journals and timers; `nil` keeps them in memory only.
    public var storage: String? = nil
    /// How much IXFR history (RFC 1995) each zone keeps.
    public var journal = Journal()
    /// Response rate limiting (README "Rate limiting").
    public var rateLimit = RateLimit()
    /// DNS cookies, RFC 7873 and RFC 9018 (README "DNS cookies").
    public var cookies = Cookies()
    /// Anycast services of the `.any` member table (README "Anycast services").
    public var services: [Service] = []

    /// `rate-limit:` — responses per second per client prefix and response class, as NSD's
    /// `rrl-*` and Knot DNS's `mod-rrl`; 0 (the default) is off.
    public struct RateLimit: Equatable, Sendable {
        public var responsesPerSecond: Int = 0
        public var slip: Int = 2
        public var ipv4Prefix: Int = 24
        public var ipv6Prefix: Int = 56
        /// Address prefixes never limited.
        public var exempt: [String] = []
        public var logOnly: Bool = false
        public var tableSize: Int = 262_144

        public init() {}
    }

    /// `cookies:` — the server cookie secret shared by every site (32 hex digits), the previous
    /// one during a rotation, and the UDP query rate above which a valid server cookie is required.
    public struct Cookies: Equatable, Sendable {
        public var secret: String? = nil
        public var previousSecret: String? = nil
        public var requireUnderLoad: Int = 0

        public init() {}
    }

    /// A TSIG key: `name`, `algorithm` (hmac-sha1/256/384/512) and a base64 secret, given inline
    /// or read from `secret-file` (so the YAML can be shared without the secret).
    public struct Key: Equatable, Sendable {
        public var name: String
        public var algorithm: String
        public var secret: String

        public init(name: String, algorithm: String, secret: String) {
            self.name = name
            self.algorithm = algorithm
            self.secret = secret
        }
    }

    /// Another server: one or more `ADDR:PORT` / `[ADDR6]:PORT`, and the key to sign with.
    public struct Remote: Equatable, Sendable {
        public var name: String
        public var addresses: [String]
        public var key: String?

        public init(name: String, addresses: [String], key: String? = nil) {
            self.name = name
            self.addresses = addresses
            self.key = key
        }
    }

    /// Address prefixes and, optionally, a key: with both, both must match.
    public struct ACL: Equatable, Sendable {
        public var name: String
        public var prefixes: [String]
        public var key: String?

        public init(name: String, prefixes: [String], key: String? = nil) {
            self.name = name
            self.prefixes = prefixes
            self.key = key
        }
    }

    public struct Journal: Equatable, Sendable {
        /// Versions kept per zone.
        public var maxEntries: Int = 100
        /// Bytes of differences kept per zone.
        public var maxBytes: Int = 16 << 20

        public init(maxEntries: Int = 100, maxBytes: Int = 16 << 20) {
            self.maxEntries = maxEntries
            self.maxBytes = maxBytes
        }
    }

    public struct DNS: Equatable, Sendable {
        /// DNS port on the anycast and management addresses.
        public var port: Int = 53
        /// Numeric IPv4/IPv6 anycast addresses (the address on `lo` at every site).
        public var anycast: [String] = []
        /// UDP sockets (SO_REUSEPORT) per listening address, each answered by its own worker;
        /// `nil` means one per available CPU core.
        public var workers: Int? = nil

        public init(port: Int = 53, anycast: [String] = [], workers: Int? = nil) {
            self.port = port
            self.anycast = anycast
            self.workers = workers
        }
    }

    public struct Management: Equatable, Sendable {
        /// The site's unique address: DNS at `dns.port` and HTTP at `httpPort`. Usually given
        /// per site with `--management` or `ANYDNS_MANAGEMENT` instead.
        public var address: String? = nil
        public var httpPort: Int = 8053

        public init(address: String? = nil, httpPort: Int = 8053) {
            self.address = address
            self.httpPort = httpPort
        }
    }

    public struct Health: Equatable, Sendable {
        /// Seconds between self-probe rounds.
        public var probeInterval: Double = 1
        /// A self-probe round older than this many seconds makes `/readyz` 503.
        public var probeMaxAge: Double = 5
        /// Seconds one self-probe query may take.
        public var probeTimeout: Double = 1

        public init(probeInterval: Double = 1, probeMaxAge: Double = 5, probeTimeout: Double = 1) {
            self.probeInterval = probeInterval
            self.probeMaxAge = probeMaxAge
            self.probeTimeout = probeTimeout
        }
    }

    public struct ZoneEntry: Equatable, Sendable {
        /// Absolute domain name with trailing dot, as written.
        public var origin: String
        /// Path of the zone file; relative paths are resolved against the configuration file's
        /// directory. Empty for a secondary zone, which lives in `storage`.
        public var file: String
        /// Remotes to transfer the zone from: set for a secondary zone.
        public var primaries: [String] = []
        /// ACL names allowed to transfer the zone (default: nobody).
        public var allowTransfer: [String] = []
        /// ACL names allowed to send NOTIFY for the zone (default: nobody).
        public var allowNotify: [String] = []
        /// Remotes to send NOTIFY to on every new serial (RFC 1996).
        public var notify: [String] = []

        public init(
            origin: String, file: String, primaries: [String] = [], allowTransfer: [String] = [],
            allowNotify: [String] = [], notify: [String] = []
        ) {
            self.origin = origin
            self.file = file
            self.primaries = primaries
            self.allowTransfer = allowTransfer
            self.allowNotify = allowNotify
            self.notify = notify
        }

        public var isSecondary: Bool { !primaries.isEmpty }
    }

    public struct Identity: Equatable, Sendable {
        /// Site identity for `id.server` / `hostname.bind` and NSID; `nil` means the host name.
        public var name: String?
        /// Version for `version.bind` / `version.server`; `nil` hides it.
        public var version: String?
        public var nsid: Bool

        public init(name: String? = nil, version: String? = nil, nsid: Bool = true) {
            self.name = name
            self.version = version
            self.nsid = nsid
        }
    }

    public struct Limits: Equatable, Sendable {
        public var tcpConnections: Int
        /// Open TCP connections one client address may hold per listener.
        public var tcpConnectionsPerClient: Int
        public var tcpIdleTimeout: Double

        public init(
            tcpConnections: Int = 1000, tcpConnectionsPerClient: Int = 50, tcpIdleTimeout: Double = 10
        ) {
            self.tcpConnections = tcpConnections
            self.tcpConnectionsPerClient = tcpConnectionsPerClient
            self.tcpIdleTimeout = tcpIdleTimeout
        }
    }

    public init(listen: [String], zones: [ZoneEntry], identity: Identity = .init(), limits: Limits = .init())
    {
        self.listen = listen
        self.zones = zones
        self.identity = identity
        self.limits = limits
    }

    /// Listeners used when neither a configuration nor `--listen` names any: the quick start's.
    public static let defaultListen = ["127.0.0.1:5300", "[::1]:5300"]
}

/// A configuration problem, naming the key.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    /// Dotted key path such as `zones[0].file`; empty for the document itself.
    public var key: String
    public var message: String

    public var description: String {
        key.isEmpty ? "\(file): \(message)" : "\(file): \(key): \(message)"
    }
}

extension Configuration {
    /// Reads and checks a configuration file. Zone paths are made absolute against its directory.
    public static func load(path: String) throws(ConfigurationError) -> Configuration {
        guard let data = FileManager.default.contents(atPath: path),
            let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationError(file: path, key: "", message: "cannot read the file")
        }
        var configuration = try parse(text, file: path)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        for index in configuration.zones.indices
        where !configuration.zones[index].file.isEmpty && !configuration.zones[index].file.hasPrefix("/") {
            configuration.zones[index].file = directory + "/" + configuration.zones[index].file
        }
        if let file = configuration.maintenanceFile, !file.hasPrefix("/") {
            configuration.maintenanceFile = directory + "/" + file
        }
        if let storage = configuration.storage, !storage.hasPrefix("/") {
            configuration.storage = directory + "/" + storage
        }
        for index in configuration.keys.indices where configuration.keys[index].secret.hasPrefix("file:") {
            var secretFile = String(configuration.keys[index].secret.dropFirst("file:".count))
            if !secretFile.hasPrefix("/") { secretFile = directory + "/" + secretFile }
            guard let data = FileManager.default.contents(atPath: secretFile),
                let text = String(data: data, encoding: .utf8)
            else {
                throw ConfigurationError(
                    file: path, key: "keys[\(index)].secret-file", message: "cannot read \(secretFile)")
            }
            let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard Data(base64Encoded: secret) != nil, !secret.isEmpty else {
                throw ConfigurationError(
                    file: path, key: "keys[\(index)].secret-file",
                    message: "\(secretFile) does not hold a base64 secret")
            }
            configuration.keys[index].secret = secret
        }
        return configuration
    }

    /// Parses YAML text; `file` only names the source in errors.
    public static func parse(_ text: String, file: String = "<config>") throws(ConfigurationError)
        -> Configuration
    {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(file: file, key: "", message: "not valid YAML: \(error)")
        }
        var reader = NodeReader(file: file)
        guard let root else { return Configuration(listen: [], zones: []) }
        return try reader.configuration(root)
    }
}

/// Walks the YAML tree, checking each key against the keys allowed at that place.
struct NodeReader {
    let file: String

    func fail(_ key: String, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, key: key, message: message)
    }

    func mapping(_ node: Node, at key: String, allowed: [String]) throws(ConfigurationError) -> [String: Node]
    {
        guard let mapping = node.mapping else { throw fail(key, "expected a mapping of keys to values") }
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let name = keyNode.string else { throw fail(key, "keys must be strings") }
            let path = key.isEmpty ? name : "\(key).\(name)"
            guard allowed.contains(name) else {
                throw fail(path, "unknown key; allowed keys here: \(allowed.joined(separator: ", "))")
            }
            result[name] = value
        }
        return result
    }

    func string(_ node: Node, at key: String) throws(ConfigurationError) -> String {
        guard let scalar = node.scalar else { throw fail(key, "expected a string") }
        return scalar.string
    }

    func integer(_ node: Node, at key: String, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let value = node.int, range.contains(value) else {
            throw fail(
                key,
                "expected a whole number from \(range.lowerBound) to \(range.upperBound), got \(shown(node))")
        }
        return value
    }

    func number(_ node: Node, at key: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Double
    {
        guard let value = node.float, range.contains(value) else {
            throw fail(
                key, "expected a number from \(range.lowerBound) to \(range.upperBound), got \(shown(node))")
        }
        return value
    }

    /// A value as the operator wrote it, for "…, got VALUE" in a message.
    private func shown(_ node: Node) -> String {
        if let scalar = node.scalar { return scalar.string.isEmpty ? "an empty value" : scalar.string }
        return node.mapping != nil ? "a mapping" : "a list"
    }

    func boolean(_ node: Node, at key: String) throws(ConfigurationError) -> Bool {
        guard let value = node.bool else { throw fail(key, "expected true or false") }
        return value
    }

    func sequence(_ node: Node, at key: String) throws(ConfigurationError) -> [Node] {
        guard let sequence = node.sequence else { throw fail(key, "expected a list") }
        return Array(sequence)
    }

    mutating func configuration(_ root: Node) throws(ConfigurationError) -> Configuration {
        let top = try mapping(
            root, at: "",
            allowed: [
                "dns", "listen", "zones", "identity", "management", "health", "lame-duck", "maintenance-file",
                "limits", "keys", "remotes", "acls", "storage", "journal", "rate-limit", "cookies",
                "services",
            ])
        var configuration = Configuration(listen: [], zones: [])
        if let listen = top["listen"] {
            for (index, item) in try sequence(listen, at: "listen").enumerated() {
                let text = try string(item, at: "listen[\(index)]")
                guard isListenAddress(text) else {
                    throw fail(
                        "listen[\(index)]",
                        "expected ADDR:PORT or [ADDR6]:PORT with a numeric address, got \(text)")
                }
                configuration.listen.append(text)
            }
        }
        try transferSettings(top, into: &configuration)
        if let services = top["services"] {
            configuration.services = try self.services(services, keys: configuration.keys.map(\.name))
        }
        if let zones = top["zones"] {
            var seen: Set<String> = []
            for (index, item) in try sequence(zones, at: "zones").enumerated() {
                let path = "zones[\(index)]"
                let fields = try mapping(
                    item, at: path,
                    allowed: ["origin", "file", "primaries", "allow-transfer", "allow-notify", "notify"])
                guard let originNode = fields["origin"] else { throw fail("\(path).origin", "missing") }
                let origin = try string(originNode, at: "\(path).origin")
                guard isDomainName(origin) else {
                    throw fail("\(path).origin", "expected a domain name such as example.com., got \(origin)")
                }
                let canonical = (origin.hasSuffix(".") ? origin : origin + ".").lowercased()
                guard seen.insert(canonical).inserted else {
                    throw fail("\(path).origin", "zone \(origin) is listed twice")
                }
                let remoteNames = configuration.remotes.map(\.name)
                let aclNames = configuration.acls.map(\.name)
                let primaries = try names(
                    fields["primaries"], at: "\(path).primaries", among: remoteNames, kind: "remote")
                var entry = Configuration.ZoneEntry(
                    origin: origin, file: "", primaries: primaries,
                    allowTransfer: try names(
                        fields["allow-transfer"], at: "\(path).allow-transfer", among: aclNames, kind: "acl"),
                    allowNotify: try names(
                        fields["allow-notify"], at: "\(path).allow-notify", among: aclNames, kind: "acl"),
                    notify: try names(
                        fields["notify"], at: "\(path).notify", among: remoteNames, kind: "remote"))
                if let fileNode = fields["file"] {
                    guard primaries.isEmpty else {
                        throw fail(
                            "\(path).file",
                            "a secondary zone (with primaries) is kept in storage; give file or primaries, not both"
                        )
                    }
                    entry.file = try string(fileNode, at: "\(path).file")
                } else if primaries.isEmpty {
                    throw fail("\(path).file", "missing (or primaries, for a secondary zone)")
                }
                configuration.zones.append(entry)
            }
        }
        if let identity = top["identity"] {
            let fields = try mapping(identity, at: "identity", allowed: ["name", "version", "nsid"])
            if let name = fields["name"] {
                configuration.identity.name = try string(name, at: "identity.name")
            }
            if let version = fields["version"] {
                let text = try string(version, at: "identity.version")
                configuration.identity.version = text == "hidden" ? nil : text
            }
            if let nsid = fields["nsid"] {
                configuration.identity.nsid = try boolean(nsid, at: "identity.nsid")
            }
        }
        if let dns = top["dns"] {
            let fields = try mapping(dns, at: "dns", allowed: ["port", "anycast", "workers"])
            if let port = fields["port"] {
                configuration.dns.port = try integer(port, at: "dns.port", range: 1...65_535)
            }
            if let workers = fields["workers"] {
                configuration.dns.workers = try integer(workers, at: "dns.workers", range: 1...256)
            }
            if let anycast = fields["anycast"] {
                for (index, item) in try sequence(anycast, at: "dns.anycast").enumerated() {
                    let text = try string(item, at: "dns.anycast[\(index)]")
                    guard isNumericAddress(text) else {
                        throw fail(
                            "dns.anycast[\(index)]", "expected a numeric IPv4 or IPv6 address, got \(text)")
                    }
                    configuration.dns.anycast.append(text)
                }
            }
        }
        if let management = top["management"] {
            let fields = try mapping(management, at: "management", allowed: ["address", "http-port"])
            if let address = fields["address"] {
                let text = try string(address, at: "management.address")
                guard isNumericAddress(text) else {
                    throw fail("management.address", "expected a numeric IPv4 or IPv6 address, got \(text)")
                }
                configuration.management.address = text
            }
            if let port = fields["http-port"] {
                configuration.management.httpPort = try integer(
                    port, at: "management.http-port", range: 1...65_535)
            }
        }
        if let health = top["health"] {
            let fields = try mapping(
                health, at: "health", allowed: ["probe-interval", "probe-max-age", "probe-timeout"])
            if let value = fields["probe-interval"] {
                configuration.health.probeInterval = try number(
                    value, at: "health.probe-interval", range: 0.1...60)
            }
            if let value = fields["probe-max-age"] {
                configuration.health.probeMaxAge = try number(
                    value, at: "health.probe-max-age", range: 0.2...600)
            }
            if let value = fields["probe-timeout"] {
                configuration.health.probeTimeout = try number(
                    value, at: "health.probe-timeout", range: 0.05...30)
            }
            guard configuration.health.probeMaxAge > configuration.health.probeInterval else {
                throw fail("health.probe-max-age", "must be larger than health.probe-interval")
            }
        }
        if let lameDuck = top["lame-duck"] {
            configuration.lameDuck = try number(lameDuck, at: "lame-duck", range: 0...3600)
        }
        if let file = top["maintenance-file"] {
            configuration.maintenanceFile = try string(file, at: "maintenance-file")
        }
        if let limits = top["limits"] {
            let fields = try mapping(
                limits, at: "limits",
                allowed: ["tcp-connections", "tcp-connections-per-client", "tcp-idle-timeout"])
            if let value = fields["tcp-connections"] {
                configuration.limits.tcpConnections = try integer(
                    value, at: "limits.tcp-connections", range: 1...100_000)
            }
            if let value = fields["tcp-connections-per-client"] {
                configuration.limits.tcpConnectionsPerClient = try integer(
                    value, at: "limits.tcp-connections-per-client", range: 1...100_000)
            }
            if let value = fields["tcp-idle-timeout"] {
                configuration.limits.tcpIdleTimeout = try number(
                    value, at: "limits.tcp-idle-timeout", range: 0.1...3600)
            }
        }
        try defenceSettings(top, into: &configuration)
        return configuration
    }
}

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
            var settings = Configuration.RateLimit()
            if let value = fields["responses-per-second"] {
                // The table counts up to 65,535 responses per bucket and second: a higher rate is
                // never reached, which is what a benchmark of the accounting cost wants.
                settings.responsesPerSecond = try integer(
                    value, at: "rate-limit.responses-per-second", range: 0...10_000_000)
            }
            if let value = fields["slip"] {
                settings.slip = try integer(value, at: "rate-limit.slip", range: 0...100)
            }
            if let value = fields["ipv4-prefix"] {
                settings.ipv4Prefix = try integer(value, at: "rate-limit.ipv4-prefix", range: 8...32)
            }
            if let value = fields["ipv6-prefix"] {
                settings.ipv6Prefix = try integer(value, at: "rate-limit.ipv6-prefix", range: 16...128)
            }
            if let value = fields["exempt"] {
                for (index, text) in try stringList(value, at: "rate-limit.exempt").enumerated() {
                    guard isAddressPrefix(text) else {
                        throw fail(
                            "rate-limit.exempt[\(index)]",
                            "expected an address or prefix such as 192.0.2.0/24 or 2001:db8::/32, got \(text)"
                        )
                    }
                    settings.exempt.append(text)
                }
            }
            if let value = fields["log-only"] {
                settings.logOnly = try boolean(value, at: "rate-limit.log-only")
            }
            if let value = fields["table-size"] {
                settings.tableSize = try integer(value, at: "rate-limit.table-size", range: 1024...(1 << 26))
            }
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
            if let value = fields["require-under-load"] {
                configuration.cookies.requireUnderLoad = try integer(
                    value, at: "cookies.require-under-load", range: 0...100_000_000)
            }
        }
    }

    /// `keys`, `remotes`, `acls`, `storage` and `journal`: what zone transfers and NOTIFY use.
    /// Read before `zones`, whose entries name them.
    func transferSettings(_ top: [String: Node], into configuration: inout Configuration)
        throws(ConfigurationError)
    {
        if let keys = top["keys"] {
            var seen: Set<String> = []
            for (index, item) in try sequence(keys, at: "keys").enumerated() {
                let path = "keys[\(index)]"
                let fields = try mapping(
                    item, at: path, allowed: ["name", "algorithm", "secret", "secret-file"])
                guard let nameNode = fields["name"] else { throw fail("\(path).name", "missing") }
                let name = try string(nameNode, at: "\(path).name")
                guard isDomainName(name) else {
                    throw fail("\(path).name", "expected a key name in domain-name form, got \(name)")
                }
                guard seen.insert(name.lowercased()).inserted else {
                    throw fail("\(path).name", "key \(name) is listed twice")
                }
                guard let algorithmNode = fields["algorithm"] else {
                    throw fail("\(path).algorithm", "missing")
                }
                let algorithm = try string(algorithmNode, at: "\(path).algorithm").lowercased()
                let algorithms = ["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"]
                guard algorithms.contains(algorithm) else {
                    throw fail(
                        "\(path).algorithm",
                        "unknown algorithm \(algorithm); allowed: \(algorithms.joined(separator: ", "))")
                }
                let secret: String
                switch (fields["secret"], fields["secret-file"]) {
                case (let inline?, nil):
                    secret = try string(inline, at: "\(path).secret")
                    guard !secret.isEmpty, Data(base64Encoded: secret) != nil else {
                        throw fail("\(path).secret", "expected a base64 secret")
                    }
                case (nil, let file?):
                    secret = "file:" + (try string(file, at: "\(path).secret-file"))
                case (nil, nil):
                    throw fail("\(path).secret", "missing (or secret-file)")
                default:
                    throw fail("\(path).secret", "give secret or secret-file, not both")
                }
                configuration.keys.append(.init(name: name, algorithm: algorithm, secret: secret))
            }
        }
        let keyNames = configuration.keys.map(\.name)
        if let remotes = top["remotes"] {
            var seen: Set<String> = []
            for (index, item) in try sequence(remotes, at: "remotes").enumerated() {
                let path = "remotes[\(index)]"
                let fields = try mapping(item, at: path, allowed: ["name", "address", "key"])
                guard let nameNode = fields["name"] else { throw fail("\(path).name", "missing") }
                let name = try string(nameNode, at: "\(path).name")
                guard seen.insert(name).inserted else {
                    throw fail("\(path).name", "remote \(name) is listed twice")
                }
                guard let addressNode = fields["address"] else { throw fail("\(path).address", "missing") }
                var addresses: [String] = []
                for (position, node) in try stringList(addressNode, at: "\(path).address").enumerated() {
                    guard isListenAddress(node) else {
                        throw fail(
                            "\(path).address[\(position)]",
                            "expected ADDR:PORT or [ADDR6]:PORT with a numeric address, got \(node)")
                    }
                    addresses.append(node)
                }
                guard !addresses.isEmpty else { throw fail("\(path).address", "needs at least one address") }
                let key = try fields["key"].map { node throws(ConfigurationError) in
                    try names(node, at: "\(path).key", among: keyNames, kind: "key")[0]
                }
                configuration.remotes.append(.init(name: name, addresses: addresses, key: key))
            }
        }
        if let acls = top["acls"] {
            var seen: Set<String> = []
            for (index, item) in try sequence(acls, at: "acls").enumerated() {
                let path = "acls[\(index)]"
                let fields = try mapping(item, at: path, allowed: ["name", "address", "key"])
                guard let nameNode = fields["name"] else { throw fail("\(path).name", "missing") }
                let name = try string(nameNode, at: "\(path).name")
                guard seen.insert(name).inserted else {
                    throw fail("\(path).name", "acl \(name) is listed twice")
                }
                var prefixes: [String] = []
                if let addressNode = fields["address"] {
                    for (position, text) in try stringList(addressNode, at: "\(path).address").enumerated() {
                        guard isAddressPrefix(text) else {
                            throw fail(
                                "\(path).address[\(position)]",
                                "expected an address or prefix such as 192.0.2.0/24 or 2001:db8::/32, got \(text)"
                            )
                        }
                        prefixes.append(text)
                    }
                }
                let key = try fields["key"].map { node throws(ConfigurationError) in
                    try names(node, at: "\(path).key", among: keyNames, kind: "key")[0]
                }
                guard !prefixes.isEmpty || key != nil else {
                    throw fail(path, "needs address, key, or both")
                }
                configuration.acls.append(.init(name: name, prefixes: prefixes, key: key))
            }
        }
        if let storage = top["storage"] {
            configuration.storage = try string(storage, at: "storage")
        }
        if let journal = top["journal"] {
            let fields = try mapping(journal, at: "journal", allowed: ["max-entries", "max-bytes"])
            if let value = fields["max-entries"] {
                configuration.journal.maxEntries = try integer(
                    value, at: "journal.max-entries", range: 1...100_000)
            }
            if let value = fields["max-bytes"] {
                configuration.journal.maxBytes = try integer(
                    value, at: "journal.max-bytes", range: 1024...(1 << 40))
            }
        }
    }

    /// A name or a list of names, each of which must be one of `among`.
    func names(_ node: Node?, at key: String, among: [String], kind: String) throws(ConfigurationError)
        -> [String]
    {
        guard let node else { return [] }
        let list = try stringList(node, at: key)
        for (index, name) in list.enumerated() where !among.contains(name) {
            let known = among.isEmpty ? "none is defined" : "defined: \(among.joined(separator: ", "))"
            throw fail(
                list.count == 1 && node.scalar != nil ? key : "\(key)[\(index)]",
                "unknown \(kind) \(name); \(known)")
        }
        return list
    }

    /// A single string or a list of strings.
    func stringList(_ node: Node, at key: String) throws(ConfigurationError) -> [String] {
        if let scalar = node.scalar { return [scalar.string] }
        var result: [String] = []
        for (index, item) in try sequence(node, at: key).enumerated() {
            result.append(try string(item, at: "\(key)[\(index)]"))
        }
        return result
    }
}

// The checks below reuse the protocol modules' parsers, so what the configuration accepts is
// exactly what the server can use.

/// `ADDR`, `ADDR/LEN` with a numeric IPv4 (LEN 0-32) or IPv6 (LEN 0-128) address.
func isAddressPrefix(_ text: String) -> Bool { AddressPrefix(text) != nil }

/// `ADDR:PORT` or `[ADDR6]:PORT` with a numeric address (checked again when binding).
func isListenAddress(_ text: String) -> Bool { ListenAddress(text) != nil }

/// A numeric IPv4 or IPv6 address (no port).
public func isNumericAddress(_ text: String) -> Bool { IPAddress(text) != nil }

/// Letters, digits, `-`, `_`, `*` and dots, within the limits of a domain name (RFC 1035 §2.3.4).
func isDomainName(_ text: String) -> Bool {
    !text.isEmpty && DomainName(text) != nil
        && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_*.".contains($0)) }
}
