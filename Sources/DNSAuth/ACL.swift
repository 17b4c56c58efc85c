import DNSWire

/// One named access control list from the configuration: address prefixes and, optionally, a TSIG
/// key. With both, both must match (as NSD's `ADDRESS KEY` pairs and Knot's `address` + `key`).
public struct AccessRule: Sendable, Equatable {
    public var name: String
    /// Prefixes the client address must be in; empty means any address.
    public var prefixes: [AddressPrefix]
    /// When set, the request must carry a TSIG that verified with this key (RFC 8945 §5.2); nil
    /// means no key is needed. Stored lowercased.
    public var keyName: DomainName?

    public init(name: String, prefixes: [AddressPrefix], keyName: DomainName?) {
        self.name = name
        self.prefixes = prefixes
        self.keyName = keyName?.lowercased()
    }

    /// Whether the rule allows a request from `address` whose TSIG verified with the key named
    /// `verifiedKey` (nil when unsigned): the address is in one of the prefixes (or there are none)
    /// and the key, if the rule names one, is that key (compared case-insensitively).
    public func allows(_ address: IPAddress, verifiedKey: DomainName?) -> Bool {
        if let keyName {
            guard let verifiedKey, sameName(keyName, verifiedKey) else { return false }
        }
        return prefixes.isEmpty || prefixes.contains { $0.contains(address) }
    }
}

/// What a zone's `allow-transfer` or `allow-notify` names: several rules, any of which may allow.
/// An empty list allows nothing (default deny).
public struct AccessList: Sendable, Equatable {
    public var rules: [AccessRule]

    public static let denyAll = AccessList([])

    public init(_ rules: [AccessRule]) { self.rules = rules }

    public var isEmpty: Bool { rules.isEmpty }

    /// Whether some rule allows the request (``AccessRule/allows(_:verifiedKey:)``).
    public func allows(_ address: IPAddress, verifiedKey: DomainName?) -> Bool {
        rules.contains { $0.allows(address, verifiedKey: verifiedKey) }
    }
}
