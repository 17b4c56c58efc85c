import DNSAuth
import DNSWire
import DNSZone

/// Another server this one talks to: an address and the key that signs what goes to it.
public struct RemoteServer: Sendable, Equatable, CustomStringConvertible {
    public var address: ListenAddress
    public var key: TSIGKey?

    public init(address: ListenAddress, key: TSIGKey?) {
        self.address = address
        self.key = key
    }

    public var description: String { key.map { "\(address) key \($0.name)" } ?? address.description }
}

/// One zone the lifecycle owns: where its data comes from and what is done with each version.
/// The registry (``ZoneService/apply(_:)``) takes the whole list at start and on every reload.
public struct ZoneConfig: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A primary zone read from a zone file.
        case file(path: String)
        /// A secondary zone transferred from these primaries, tried in order (RFC 5936, RFC 1995).
        case transfer(primaries: [RemoteServer])
    }

    /// Lowercase (RFC 4343), as the store names zones.
    public var origin: DomainName
    public var source: Source
    /// Where to send NOTIFY on every new serial (RFC 1996 §3.5).
    public var notify: [RemoteServer]
    /// Whether the zone keeps IXFR history (it may be transferred out).
    public var journaled: Bool

    public init(origin: DomainName, source: Source, notify: [RemoteServer] = [], journaled: Bool = false) {
        self.origin = origin.lowercased()
        self.source = source
        self.notify = notify
        self.journaled = journaled
    }

    public var isSecondary: Bool {
        if case .transfer = source { return true }
        return false
    }

    var primaries: [RemoteServer] {
        if case .transfer(let primaries) = source { return primaries }
        return []
    }

    /// The zone file, or where the zone is transferred from, as `/health` shows it.
    public var sourceDescription: String {
        switch source {
        case .file(let path): path
        case .transfer(let primaries): "transfer from \(primaries.map(\.description).joined(separator: ", "))"
        }
    }
}

/// What the zone lifecycle is told at start and keeps until a restart.
public struct ZoneServiceSettings: Sendable {
    public var journalLimits: ZoneHistory.Limits
    /// Directory for transferred zones, journals and timers; `nil`: memory only.
    public var storage: String?
    /// Seconds one SOA query may take; a transfer gets ``transferTimeout``.
    public var queryTimeout: Double = 2
    public var transferTimeout: Double = 120

    public init(journalLimits: ZoneHistory.Limits = .init(), storage: String? = nil) {
        self.journalLimits = journalLimits
        self.storage = storage
    }
}
