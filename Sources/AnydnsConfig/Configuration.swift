import Foundation
import Yams

/// The server's configuration, as read from YAML (README "Configuration").
///
/// Values are checked when read: an unknown key or a bad value is an error naming the key path
/// (`zones[1].origin`), never silently ignored (SPEC.md §5).
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
    /// Seconds DNS keeps answering after SIGTERM while `/readyz` says 503 (SPEC.md §4 drain).
    public var lameDuck: Double = 5
    /// While this file exists, `/readyz` is 503 (planned maintenance).
    public var maintenanceFile: String? = nil

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
        /// Path of the zone file; relative paths are resolved against the configuration file's directory.
        public var file: String

        public init(origin: String, file: String) {
            self.origin = origin
            self.file = file
        }
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
        public var tcpIdleTimeout: Double

        public init(tcpConnections: Int = 1000, tcpIdleTimeout: Double = 10) {
            self.tcpConnections = tcpConnections
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

/// A configuration problem, naming the key (STYLE.md habit 8).
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
        for index in configuration.zones.indices where !configuration.zones[index].file.hasPrefix("/") {
            configuration.zones[index].file = directory + "/" + configuration.zones[index].file
        }
        if let file = configuration.maintenanceFile, !file.hasPrefix("/") {
            configuration.maintenanceFile = directory + "/" + file
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
private struct NodeReader {
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
            throw fail(key, "expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func number(_ node: Node, at key: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Double
    {
        guard let value = node.float, range.contains(value) else {
            throw fail(key, "expected a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
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
                "limits",
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
        if let zones = top["zones"] {
            var seen: Set<String> = []
            for (index, item) in try sequence(zones, at: "zones").enumerated() {
                let path = "zones[\(index)]"
                let fields = try mapping(item, at: path, allowed: ["origin", "file"])
                guard let originNode = fields["origin"] else { throw fail("\(path).origin", "missing") }
                guard let fileNode = fields["file"] else { throw fail("\(path).file", "missing") }
                let origin = try string(originNode, at: "\(path).origin")
                guard isDomainName(origin) else {
                    throw fail("\(path).origin", "expected a domain name such as example.com., got \(origin)")
                }
                let canonical = (origin.hasSuffix(".") ? origin : origin + ".").lowercased()
                guard seen.insert(canonical).inserted else {
                    throw fail("\(path).origin", "zone \(origin) is listed twice")
                }
                configuration.zones.append(
                    .init(origin: origin, file: try string(fileNode, at: "\(path).file")))
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
            let fields = try mapping(limits, at: "limits", allowed: ["tcp-connections", "tcp-idle-timeout"])
            if let value = fields["tcp-connections"] {
                configuration.limits.tcpConnections = try integer(
                    value, at: "limits.tcp-connections", range: 1...100_000)
            }
            if let value = fields["tcp-idle-timeout"] {
                configuration.limits.tcpIdleTimeout = try number(
                    value, at: "limits.tcp-idle-timeout", range: 0.1...3600)
            }
        }
        return configuration
    }
}

/// `ADDR:PORT` or `[ADDR6]:PORT` with a numeric address (checked again when binding).
func isListenAddress(_ text: String) -> Bool {
    let host: Substring
    let port: Substring
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
            return false
        }
        host = text[text.index(after: text.startIndex)..<close]
        port = text[text.index(close, offsetBy: 2)...]
        var address = in6_addr()
        guard inet_pton(AF_INET6, String(host), &address) == 1 else { return false }
    } else {
        guard let colon = text.lastIndex(of: ":") else { return false }
        host = text[..<colon]
        port = text[text.index(after: colon)...]
        var address = in_addr()
        guard inet_pton(AF_INET, String(host), &address) == 1 else { return false }
    }
    guard port.allSatisfy({ $0.isASCII && $0.isNumber }), let number = UInt16(port), number > 0 else {
        return false
    }
    return true
}

/// A numeric IPv4 or IPv6 address (no port).
public func isNumericAddress(_ text: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
}

/// Letters, digits, `-`, `_`, `*` and dots, labels of 1...63 characters, at most 253 in all.
func isDomainName(_ text: String) -> Bool {
    if text == "." { return true }
    let trimmed = text.hasSuffix(".") ? String(text.dropLast()) : text
    guard !trimmed.isEmpty, trimmed.utf8.count <= 253 else { return false }
    return trimmed.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
        !label.isEmpty && label.utf8.count <= 63
            && label.allSatisfy {
                $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "*")
            }
    }
}
