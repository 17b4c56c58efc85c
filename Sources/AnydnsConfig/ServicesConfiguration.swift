import Yams

extension Configuration {
    /// `services:` — an anycast service of the `.any` member table (README "Anycast services"):
    /// its name, anycast addresses, the TSIG keys that may change its members, how its name is
    /// answered, how members are probed, and how long a member lives without a report.
    public struct Service: Equatable, Sendable {
        public enum Policy: String, Equatable, Sendable {
            /// The zone's data answers the name: the anycast address (the paper's §3.3).
            case anycast
            /// The reachable member with the fewest sessions (the paper's §3.2).
            case leastSessions = "least-sessions"
        }

        public enum Probe: Equatable, Sendable {
            case tcp(port: Int)
            case icmp
            case none
        }

        /// Absolute, with the trailing dot.
        public var name: String
        public var anycast: [String]
        public var keys: [String]
        public var policy: Policy = .anycast
        public var probe: Probe = .tcp(port: 80)
        /// Seconds between probes of each member.
        public var probeInterval: Double = 5
        /// Seconds without a report before a member is dropped.
        public var lease: Int = 30

        public init(name: String, anycast: [String], keys: [String]) {
            self.name = name
            self.anycast = anycast
            self.keys = keys
        }
    }
}

extension NodeReader {
    /// `services:`, read after `keys:`, whose names its entries use.
    func services(_ node: Node, keys: [String]) throws(ConfigurationError) -> [Configuration.Service] {
        var result: [Configuration.Service] = []
        for (index, item) in try sequence(node, at: "services").enumerated() {
            let path = "services[\(index)]"
            let fields = try mapping(
                item, at: path,
                allowed: ["name", "anycast", "keys", "policy", "probe", "probe-interval", "lease"])
            guard let nameNode = fields["name"] else { throw fail("\(path).name", "missing") }
            var name = try string(nameNode, at: "\(path).name")
            guard isDomainName(name), name != "." else {
                throw fail("\(path).name", "expected a domain name, got \(name)")
            }
            if !name.hasSuffix(".") { name += "." }
            guard !result.contains(where: { $0.name.lowercased() == name.lowercased() }) else {
                throw fail("\(path).name", "service \(name) is listed twice")
            }
            guard let anycastNode = fields["anycast"] else { throw fail("\(path).anycast", "missing") }
            let anycast = try stringList(anycastNode, at: "\(path).anycast")
            for (position, address) in anycast.enumerated() where !isNumericAddress(address) {
                throw fail(
                    "\(path).anycast[\(position)]", "expected a numeric IPv4 or IPv6 address, got \(address)")
            }
            guard !anycast.isEmpty else { throw fail("\(path).anycast", "needs at least one address") }
            let serviceKeys = try names(fields["keys"], at: "\(path).keys", among: keys, kind: "key")
            guard !serviceKeys.isEmpty else {
                throw fail("\(path).keys", "needs at least one key: without one no member can join")
            }
            var service = Configuration.Service(name: name, anycast: anycast, keys: serviceKeys)
            if let policyNode = fields["policy"] {
                let text = try string(policyNode, at: "\(path).policy")
                guard let policy = Configuration.Service.Policy(rawValue: text) else {
                    throw fail("\(path).policy", "expected anycast or least-sessions, got \(text)")
                }
                service.policy = policy
            }
            if let probeNode = fields["probe"] {
                let text = try string(probeNode, at: "\(path).probe")
                if text == "icmp" {
                    service.probe = .icmp
                } else if text == "none" {
                    service.probe = Configuration.Service.Probe.none
                } else if text.hasPrefix("tcp:"), let port = Int(text.dropFirst(4)),
                    (1...65535).contains(port)
                {
                    service.probe = .tcp(port: port)
                } else {
                    throw fail("\(path).probe", "expected tcp:PORT, icmp or none, got \(text)")
                }
            }
            try read("probe-interval", of: fields, in: path, range: 0.1...3600, into: &service.probeInterval)
            try read("lease", of: fields, in: path, range: 1...86400, into: &service.lease)
            result.append(service)
        }
        return result
    }
}
