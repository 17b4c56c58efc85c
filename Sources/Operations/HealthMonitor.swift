import DNSWire
import DNSZone
import Foundation
import Logging
import Synchronization
import ZoneLifecycle

/// Where the server is in its life (README "Management HTTP"). Degraded is a flag beside it, not a state.
public enum Lifecycle: Sendable, Equatable, CustomStringConvertible {
    case starting
    case loading
    case ready
    /// SIGTERM received at `since`: DNS still answers, `/readyz` is 503 so the announcer withdraws.
    case draining(since: Date)
    case stopped

    public var name: String {
        switch self {
        case .starting: "starting"
        case .loading: "loading"
        case .ready: "ready"
        case .draining: "draining"
        case .stopped: "stopped"
        }
    }

    public static let allNames = ["starting", "loading", "ready", "draining", "stopped"]

    public var description: String { name }
}

/// What the last load or reload of one zone left behind.
public struct ZoneStatus: Sendable, Equatable {
    public var origin: String
    public var source: String
    /// The version being served, if any.
    public var serial: UInt32?
    public var loadedAt: Date?
    /// Errors of the last attempt (`file:line: error: …`); empty when it succeeded.
    public var lastErrors: [String]
    /// `primary` (from a file) or `secondary` (by zone transfer).
    public var role: String = "primary"
    /// For a secondary zone: its primaries and refresh timers (seconds since the Unix epoch).
    public var primaries: [String] = []
    public var lastRefreshAttempt: UInt64? = nil
    public var lastRefreshSuccess: UInt64? = nil
    public var lastRefreshResult: String? = nil
    public var nextRefresh: UInt64? = nil
    public var expiresAt: UInt64? = nil
    /// Past its expire time without a successful refresh (or never transferred): not served.
    public var expired: Bool = false
    /// For a signed zone being served: its denial method and earliest RRSIG expiration.
    public var signing: ZoneSigning? = nil
}

/// The outcome of one round of self-probes (SOA queries to our own anycast listeners).
public struct ProbeRound: Sendable, Equatable {
    public var finishedAt: Date
    public var succeeded: Bool
    /// Why it failed, or a summary of what answered.
    public var detail: String

    public init(finishedAt: Date, succeeded: Bool, detail: String) {
        self.finishedAt = finishedAt
        self.succeeded = succeeded
        self.detail = detail
    }
}

/// The health state machine and everything `/readyz` and `/health` report. Thread-safe; each
/// state transition is logged once.
public final class HealthMonitor: Sendable {
    private struct State {
        var lifecycle = Lifecycle.starting
        var zones: [ZoneStatus]
        var probe: ProbeRound? = nil
        var lastReloadFailed = false
        var settings: Settings
        /// The last configuration reload (SIGHUP, `anydns ctl reload`): when, and its error.
        var lastReload: HealthDocument.Reload? = nil
        /// What readiness said last, so each change is logged once.
        var lastReadiness: (ready: Bool, maintenance: Bool)? = nil
    }

    /// What a configuration reload may change here (README "Signals").
    public struct Settings: Sendable {
        public var maintenanceFile: String?
        /// A self-probe round older than this no longer counts as evidence of health.
        public var probeMaxAge: TimeInterval
        /// Rate limiting, cookies and TCP caps as configured, shown in `/health`.
        public var defences: HealthDocument.Defences?

        public init(maintenanceFile: String?, probeMaxAge: TimeInterval, defences: HealthDocument.Defences?) {
            self.maintenanceFile = maintenanceFile
            self.probeMaxAge = probeMaxAge
            self.defences = defences
        }
    }

    private let state: Mutex<State>
    private let logger: Logger
    public let listeners: [String]
    public var settings: Settings { state.withLock { $0.settings } }
    public var maintenanceFile: String? { settings.maintenanceFile }
    public var probeMaxAge: TimeInterval { settings.probeMaxAge }
    /// The zones being served now, for what only the data knows (DNSSEC signatures).
    private let servedZones: @Sendable () -> ZoneSet
    private let onTransition: @Sendable (Lifecycle) -> Void

    public init(
        configuredZones: [ZoneSource], listeners: [String], maintenanceFile: String?,
        probeMaxAge: TimeInterval, defences: HealthDocument.Defences? = nil,
        servedZones: @escaping @Sendable () -> ZoneSet = { .empty },
        logger: Logger, onTransition: @escaping @Sendable (Lifecycle) -> Void = { _ in }
    ) {
        self.servedZones = servedZones
        state = Mutex(
            State(
                zones: configuredZones.map(Self.newStatus),
                settings: Settings(
                    maintenanceFile: maintenanceFile, probeMaxAge: probeMaxAge, defences: defences)))
        self.listeners = listeners
        self.logger = logger
        self.onTransition = onTransition
        onTransition(.starting)
    }

    public var lifecycle: Lifecycle { state.withLock { $0.lifecycle } }

    private static func newStatus(_ source: ZoneSource) -> ZoneStatus {
        ZoneStatus(
            origin: source.origin.description, source: source.file, serial: nil, loadedAt: nil, lastErrors: []
        )
    }

    /// A configuration reload succeeded: the zones now configured (a zone still configured keeps
    /// its state, a new one starts not loaded, a removed one is forgotten) and the new settings.
    public func reconfigure(zones configured: [ZoneSource], settings: Settings, at now: Date) {
        state.withLock { state in
            state.zones = configured.map { source in
                guard var kept = state.zones.first(where: { $0.origin == source.origin.description }) else {
                    return Self.newStatus(source)
                }
                kept.source = source.file
                return kept
            }
            state.settings = settings
            state.lastReload = .init(at: iso8601(now), ok: true, error: nil)
        }
    }

    /// A configuration reload failed (bad YAML, unknown key, bad value): the running
    /// configuration stays, the site is degraded, and `/health` shows why.
    public func recordReloadFailure(_ error: String, at now: Date) {
        state.withLock { state in
            state.lastReload = .init(at: iso8601(now), ok: false, error: error)
        }
    }

    /// Moves to `next`, logging the transition once; a stopped or draining server never becomes
    /// ready again.
    public func transition(to next: Lifecycle) {
        let previous: Lifecycle? = state.withLock { state in
            guard state.lifecycle.name != next.name else { return nil }
            if case .stopped = state.lifecycle { return nil }
            if case .draining = state.lifecycle, next != .stopped { return nil }
            let previous = state.lifecycle
            state.lifecycle = next
            return previous
        }
        guard let previous else { return }
        logger.notice("state \(previous.name) -> \(next.name)")
        onTransition(next)
    }

    /// Records a secondary zone's state from the zone service: its serial, timers and whether
    /// it has expired (RFC 1034 §4.3.5).
    public func recordSecondary(
        _ origin: DomainName, primaries: [String], serial: UInt32?, attempt: UInt64?, success: UInt64?,
        result: String?, nextRefresh: UInt64, expiresAt: UInt64?, expired: Bool
    ) {
        let changed = state.withLock { state -> Bool in
            let name = origin.description
            guard let index = state.zones.firstIndex(where: { $0.origin == name }) else { return false }
            let wasExpired = state.zones[index].expired
            state.zones[index].role = "secondary"
            state.zones[index].primaries = primaries
            state.zones[index].serial = expired ? nil : serial
            state.zones[index].lastRefreshAttempt = attempt
            state.zones[index].lastRefreshSuccess = success
            state.zones[index].lastRefreshResult = result
            state.zones[index].nextRefresh = nextRefresh
            state.zones[index].expiresAt = expiresAt
            state.zones[index].expired = expired
            if success != nil && success == attempt { state.zones[index].loadedAt = Date() }
            return wasExpired != expired
        }
        if changed && expired && attempt != nil {
            logger.error("zone \(origin) is expired: /readyz reports not ready")
        }
    }

    /// Every zone's status (for `/zones` and metrics), with the signing state of what is served.
    public var zoneStatuses: [ZoneStatus] {
        let signing = servedSigning()
        return state.withLock { $0.zones }.map { zone in
            var zone = zone
            zone.signing = signing[servedName(zone.origin)]
            return zone
        }
    }

    /// A configured origin as the served zone names it: lowercase (RFC 4343).
    private func servedName(_ origin: String) -> String {
        DomainName(origin)?.lowercased().description ?? origin.lowercased()
    }

    /// The signing state of each signed zone being served, by lowercase origin.
    private func servedSigning() -> [String: ZoneSigning] {
        var result: [String: ZoneSigning] = [:]
        for zone in servedZones().zones {
            if let signing = zone.signing { result[zone.origin.description] = signing }
        }
        return result
    }

    /// Records the outcome of a load or reload.
    public func record(_ reports: [ZoneLoadReport], at now: Date) {
        state.withLock { state in
            for report in reports {
                guard let index = state.zones.firstIndex(where: { $0.origin == report.origin.description })
                else { continue }
                switch report.outcome {
                case .loaded(let zone, _):
                    state.zones[index].serial = zone.serial
                    state.zones[index].loadedAt = now
                    state.zones[index].lastErrors = []
                case .failed(let errors, let keptSerial):
                    state.zones[index].serial = keptSerial
                    state.zones[index].lastErrors = errors
                }
            }
            state.lastReloadFailed = reports.contains { !$0.succeeded }
        }
    }

    public func record(_ probe: ProbeRound) {
        let changed = state.withLock { state -> Bool in
            defer { state.probe = probe }
            return state.probe?.succeeded != probe.succeeded
        }
        if changed {
            if probe.succeeded {
                logger.info("self-probe ok: \(probe.detail)")
            } else {
                logger.warning("self-probe failed: \(probe.detail)")
            }
        }  // Readiness changes (and maintenance) are logged when they happen, not when polled.
        _ = readiness(now: probe.finishedAt)
    }

    /// The last reload failed (its configuration, or a zone that keeps serving old data).
    public var isDegraded: Bool { state.withLock { Self.degraded($0) } }

    private static func degraded(_ state: State) -> Bool {
        state.lastReloadFailed || state.lastReload?.ok == false
            || state.zones.contains { !$0.lastErrors.isEmpty }
    }

    /// `/readyz`: ready only when every configured zone is loaded, no signed zone served has an
    /// expired signature, a self-probe round succeeded within ``probeMaxAge``, and the server is
    /// neither draining, still starting, nor in maintenance (README "Management HTTP").
    /// Otherwise the first reason found.
    /// Each change of readiness, and entering or leaving maintenance, is logged once.
    public func readiness(now: Date) -> (ready: Bool, reason: String) {
        let maintenanceFile = settings.maintenanceFile
        let inMaintenance = maintenanceFile.map { FileManager.default.fileExists(atPath: $0) } ?? false
        let (ready, reason) =
            inMaintenance ? (false, "maintenance file \(maintenanceFile!) present") : checks(now: now)
        let previous = state.withLock { state in
            defer { state.lastReadiness = (ready, inMaintenance) }
            return state.lastReadiness
        }
        if inMaintenance != (previous?.maintenance ?? false) {
            if inMaintenance {
                logger.notice("entering maintenance: \(maintenanceFile!) present")
            } else {
                logger.notice("leaving maintenance: \(maintenanceFile ?? "the maintenance file") gone")
            }
        }
        if let previous, previous.ready != ready {
            if ready {
                logger.notice("ready")
            } else {
                logger.warning("not ready: \(reason)")
            }
        }
        return (ready, reason)
    }

    private func checks(now: Date) -> (ready: Bool, reason: String) {
        // RFC 4035 §5.3.1: past an RRSIG's expiration validators reject the data it signs; a
        // site must not keep attracting queries with bogus answers.
        let expired = servedSigning().filter { _, signing in
            signing.earliestExpiration.map { $0 < UInt64(max(0, now.timeIntervalSince1970)) } ?? false
        }.min { $0.key < $1.key }
        return state.withLock { state in
            switch state.lifecycle {
            case .ready: break
            case .draining: return (false, "draining")
            default: return (false, "state is \(state.lifecycle.name)")
            }
            if let stale = state.zones.first(where: { $0.expired }) {
                return (false, "zone \(stale.origin) expired (no successful refresh from its primaries)")
            }
            if let missing = state.zones.first(where: { $0.serial == nil }) {
                let how = missing.role == "secondary" ? "not yet transferred" : "not loaded"
                return (false, "zone \(missing.origin) \(how)")
            }
            if let (origin, signing) = expired, let at = signing.earliestExpiration {
                return (false, "zone \(origin) has expired signatures (RRSIG expired \(epochISO8601(at)))")
            }
            guard let probe = state.probe else { return (false, "no self-probe yet") }
            guard probe.succeeded else { return (false, "self-probe failed: \(probe.detail)") }
            let age = now.timeIntervalSince(probe.finishedAt)
            let probeMaxAge = state.settings.probeMaxAge
            guard age <= probeMaxAge else {
                return (
                    false, "last self-probe \(String(format: "%.1f", age)) s ago (limit \(probeMaxAge) s)"
                )
            }
            return (true, "ready")
        }
    }

    /// The `/health` document.
    public func document(now: Date) -> HealthDocument {
        let (ready, reason) = readiness(now: now)
        let zones = zoneStatuses  // with the served zones' signing state
        return state.withLock { state in
            HealthDocument(
                // The state names what the site is: never "ready" beside ready = false.
                state: state.lifecycle == .ready && !ready ? "not-ready" : state.lifecycle.name,
                ready: ready, reason: reason,
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
        public struct RateLimit: Codable, Sendable, Equatable {
            public var enabled: Bool
            public var responsesPerSecond: Int
            public var slip: Int
            public var ipv4Prefix: Int
            public var ipv6Prefix: Int
            public var exempt: [String]
            public var logOnly: Bool
            public var tableSize: Int

            public init(
                enabled: Bool, responsesPerSecond: Int, slip: Int, ipv4Prefix: Int, ipv6Prefix: Int,
                exempt: [String], logOnly: Bool, tableSize: Int
            ) {
                self.enabled = enabled
                self.responsesPerSecond = responsesPerSecond
                self.slip = slip
                self.ipv4Prefix = ipv4Prefix
                self.ipv6Prefix = ipv6Prefix
                self.exempt = exempt
                self.logOnly = logOnly
                self.tableSize = tableSize
            }
        }

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

        public var rateLimit: RateLimit
        public var cookies: Cookies
        public var tcpConnections: Int
        public var tcpConnectionsPerClient: Int

        public init(rateLimit: RateLimit, cookies: Cookies, tcpConnections: Int, tcpConnectionsPerClient: Int)
        {
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

private func iso8601(_ date: Date) -> String {
    date.formatted(.iso8601)
}
