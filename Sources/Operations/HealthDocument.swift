import DNSAuth
import DNSGuard
import Foundation

/// The `/health` view of the monitor's state: what an operator or a dashboard reads. The state
/// machine (``HealthMonitor``) knows nothing of this schema.
extension HealthMonitor {
    /// The `/health` document.
    public func document(now: Date) -> HealthDocument {
        // The same evaluation /readyz and subscribers get, so its state never says "ready"
        // beside ready = false, and a change first seen here is published too.
        let readiness = evaluate(now: now)
        let zones = zoneStatuses  // with the served zones' signing state
        return state.withLock { state in
            HealthDocument(
                state: readiness.state, ready: readiness.ready, reason: readiness.reason,
                degraded: Self.degraded(state),
                zones: zones.map {
                    .init(
                        origin: $0.origin, source: $0.source, serial: $0.serial,
                        loadedAt: $0.loadedAt.map(iso8601),
                        errors: $0.lastErrors, role: $0.role,
                        signed: $0.signing != nil,
                        dnssec: $0.signing.map { signing in
                            .init(
                                denial: signing.denial?.description,
                                signatures: signing.signatures,
                                earliestExpiration: signing.earliestExpiration.map(epochISO8601),
                                secondsToExpiration: signing.earliestExpiration.map {
                                    Int64($0) - Int64(now.timeIntervalSince1970)
                                })
                        },
                        secondary: $0.role == "secondary"
                            ? .init(
                                primaries: $0.primaries,
                                lastRefreshAttempt: $0.lastRefreshAttempt.map(epochISO8601),
                                lastRefreshResult: $0.lastRefreshResult,
                                nextRefresh: $0.nextRefresh.map(epochISO8601),
                                secondsToExpiry: $0.expiresAt.map {
                                    Int64($0) - Int64(now.timeIntervalSince1970)
                                },
                                expired: $0.expired)
                            : nil)
                },
                listeners: listeners,
                lastProbe: state.probe.map {
                    .init(at: iso8601($0.finishedAt), ok: $0.succeeded, detail: $0.detail)
                },
                maintenanceFile: state.settings.maintenanceFile, defences: state.settings.defences,
                lastReload: state.lastReload)
        }
    }
}

/// `/health` as JSON (README "Management HTTP").
public struct HealthDocument: Codable, Sendable, Equatable {
    public struct Zone: Codable, Sendable, Equatable {
        public var origin: String
        public var source: String
        public var serial: UInt32?
        public var loadedAt: String?
        public var errors: [String]
        /// `primary` or `secondary`.
        public var role: String
        /// Whether the zone served holds DNSSEC signatures.
        public var signed: Bool
        public var dnssec: DNSSEC?
        public var secondary: Secondary?
    }

    /// A signed zone's state (RFC 4035): how it proves non-existence and when its first
    /// signature expires.
    public struct DNSSEC: Codable, Sendable, Equatable {
        /// `nsec`, `nsec3`, or null when the zone has no usable chain.
        public var denial: String?
        public var signatures: Int
        public var earliestExpiration: String?
        public var secondsToExpiration: Int64?
    }

    /// A secondary zone's refresh state (RFC 1034 §4.3.5).
    public struct Secondary: Codable, Sendable, Equatable {
        public var primaries: [String]
        public var lastRefreshAttempt: String?
        public var lastRefreshResult: String?
        public var nextRefresh: String?
        public var secondsToExpiry: Int64?
        public var expired: Bool
    }

    public struct Probe: Codable, Sendable, Equatable {
        public var at: String
        public var ok: Bool
        public var detail: String
    }

    /// `BuildInfo.version` and `BuildInfo.commit`: which binary this site runs.
    public var version: String = BuildInfo.version
    public var commit: String = BuildInfo.commit
    public var state: String
    public var ready: Bool
    public var reason: String
    public var degraded: Bool
    public var zones: [Zone]
    public var listeners: [String]
    public var lastProbe: Probe?
    /// Always present: null when no maintenance file is configured.
    public var maintenanceFile: String?
    public var defences: Defences?
    /// The last configuration reload, absent before the first.
    public var lastReload: Reload? = nil
    /// The member table per anycast service (README "Anycast services"); absent without services.
    public var services: [Service]? = nil

    /// One anycast service and its members at this site (the paper's Table 1, with reachability).
    public struct Service: Codable, Sendable, Equatable {
        public var name: String
        public var anycast: [String]
        public var policy: String
        public var probe: String
        public var lease: Int
        public var reachableMembers: Int
        public var members: [Member]

        public init(
            name: String, anycast: [String], policy: String, probe: String, lease: Int, reachableMembers: Int,
            members: [Member]
        ) {
            self.name = name
            self.anycast = anycast
            self.policy = policy
            self.probe = probe
            self.lease = lease
            self.reachableMembers = reachableMembers
            self.members = members
        }
    }

    public struct Member: Codable, Sendable, Equatable {
        public var name: String
        public var addresses: [String]
        public var sessions: Int
        public var reachable: Bool
        public var joined: String
        public var lastReport: String
        public var secondsSinceReport: Int64

        public init(
            name: String, addresses: [String], sessions: Int, reachable: Bool, joined: String,
            lastReport: String,
            secondsSinceReport: Int64
        ) {
            self.name = name
            self.addresses = addresses
            self.sessions = sessions
            self.reachable = reachable
            self.joined = joined
            self.lastReport = lastReport
            self.secondsSinceReport = secondsSinceReport
        }
    }

    /// A configuration reload: when it ran (ISO 8601), whether it applied, and why not.
    public struct Reload: Codable, Sendable, Equatable {
        public var at: String
        public var ok: Bool
        public var error: String?
    }

    /// Encodes every key; `maintenanceFile` as null when not configured, so a reader can tell
    /// "not configured" from "not reported".
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(commit, forKey: .commit)
        try container.encode(state, forKey: .state)
        try container.encode(ready, forKey: .ready)
        try container.encode(reason, forKey: .reason)
        try container.encode(degraded, forKey: .degraded)
        try container.encode(zones, forKey: .zones)
        try container.encode(listeners, forKey: .listeners)
        try container.encodeIfPresent(lastProbe, forKey: .lastProbe)
        try container.encode(maintenanceFile, forKey: .maintenanceFile)
        try container.encodeIfPresent(defences, forKey: .defences)
        try container.encodeIfPresent(lastReload, forKey: .lastReload)
        try container.encodeIfPresent(services, forKey: .services)
    }

    /// What protects the site under attack, as configured (README "Rate limiting", "DNS cookies").
    public struct Defences: Codable, Sendable, Equatable {
        /// Never the secrets: only whether they are set.
        public struct Cookies: Codable, Sendable, Equatable {
            /// `configured` (shared by the sites) or `random` (this process only).
            public var secret: String
            public var previousSecret: Bool
            public var requireUnderLoad: Int

            public init(secret: String, previousSecret: Bool, requireUnderLoad: Int) {
                self.secret = secret
                self.previousSecret = previousSecret
                self.requireUnderLoad = requireUnderLoad
            }
        }

        public var rateLimit: RateLimitSettings
        public var cookies: Cookies
        public var tcpConnections: Int
        public var tcpConnectionsPerClient: Int

        public init(
            rateLimit: RateLimitSettings, cookies: Cookies, tcpConnections: Int, tcpConnectionsPerClient: Int
        ) {
            self.rateLimit = rateLimit
            self.cookies = cookies
            self.tcpConnections = tcpConnections
            self.tcpConnectionsPerClient = tcpConnectionsPerClient
        }
    }
}

func epochISO8601(_ seconds: UInt64) -> String {
    iso8601(Date(timeIntervalSince1970: TimeInterval(seconds)))
}

func iso8601(_ date: Date) -> String {
    date.formatted(.iso8601)
}

/// `/health`'s `defences.rateLimit`: the rate limiter's settings as the operator wrote them
/// (README "Rate limiting"), with whether they turn limiting on.
extension RateLimitSettings: Codable {
    private enum CodingKeys: String, CodingKey {
        case enabled, responsesPerSecond, slip, ipv4Prefix, ipv6Prefix, exempt, logOnly, tableSize
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(isEnabled, forKey: .enabled)
        try container.encode(responsesPerSecond, forKey: .responsesPerSecond)
        try container.encode(slip, forKey: .slip)
        try container.encode(ipv4PrefixLength, forKey: .ipv4Prefix)
        try container.encode(ipv6PrefixLength, forKey: .ipv6Prefix)
        try container.encode(exempt.map(\.description), forKey: .exempt)
        try container.encode(logOnly, forKey: .logOnly)
        try container.encode(tableSize, forKey: .tableSize)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let exempt = try container.decode([String].self, forKey: .exempt)
        self.init(
            responsesPerSecond: try container.decode(Int.self, forKey: .responsesPerSecond),
            slip: try container.decode(Int.self, forKey: .slip),
            ipv4PrefixLength: try container.decode(Int.self, forKey: .ipv4Prefix),
            ipv6PrefixLength: try container.decode(Int.self, forKey: .ipv6Prefix),
            exempt: try exempt.map { text in
                guard let prefix = AddressPrefix(text) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .exempt, in: container, debugDescription: "not an address prefix: \(text)")
                }
                return prefix
            },
            logOnly: try container.decode(Bool.self, forKey: .logOnly),
            tableSize: try container.decode(Int.self, forKey: .tableSize))
    }
}
