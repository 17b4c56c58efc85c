import DNSAuth
import DNSWire
import Yams

/// The top of the file and the server's own sections: `listen`, `dns`, `identity`,
/// `management`, `health`, `lame-duck`, `maintenance-file`, `limits`; the other sections are
/// read by their own files (`Configuration+Transfers.swift`, `Configuration+Defences.swift`,
/// `ServicesConfiguration.swift`).
extension NodeReader {
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
            try read(
                "probe-interval", of: fields, in: "health", range: 0.1...60,
                into: &configuration.health.probeInterval)
            try read(
                "probe-max-age", of: fields, in: "health", range: 0.2...600,
                into: &configuration.health.probeMaxAge)
            try read(
                "probe-timeout", of: fields, in: "health", range: 0.05...30,
                into: &configuration.health.probeTimeout)
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
            try read(
                "tcp-connections", of: fields, in: "limits", range: 1...100_000,
                into: &configuration.limits.tcpConnections)
            try read(
                "tcp-connections-per-client", of: fields, in: "limits", range: 1...100_000,
                into: &configuration.limits.tcpConnectionsPerClient)
            try read(
                "tcp-idle-timeout", of: fields, in: "limits", range: 0.1...3600,
                into: &configuration.limits.tcpIdleTimeout)
        }
        try defenceSettings(top, into: &configuration)
        return configuration
    }
}
