import DNSWire
import DNSZone
import Dispatch
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

/// What the announcer acts on, published by ``HealthMonitor`` whenever it changes.
public struct Readiness: Sendable, Equatable {
    /// The lifecycle's name (`starting`, `loading`, `ready`, `draining`, `stopped`), or
    /// `not-ready` for a server that is running but fails a check.
    public var state: String
    public var ready: Bool
    /// `ready`, or the first reason it is not (as `/readyz` says it).
    public var reason: String

    public init(state: String, ready: Bool, reason: String) {
        self.state = state
        self.ready = ready
        self.reason = reason
    }
}

/// The health state machine: what `/readyz` and `/health` report, computed from what the zone
/// lifecycle, the self-probe, reloads and signals tell it. Thread-safe; each transition is logged
/// once. Readiness is published as events: every input re-evaluates it, and subscribers (the
/// state stream an announcer follows) hear each change once, in order, when it happens, not when
/// someone polls. A watch timer re-evaluates what changes with time alone (a self-probe growing
/// old, a maintenance file appearing).
public final class HealthMonitor: Sendable {
    struct State {
        var lifecycle = Lifecycle.starting
        var zones: [ZoneStatus]
        var probe: ProbeRound? = nil
        var lastReloadFailed = false
        var settings: Settings
        /// The last configuration reload (SIGHUP, `anydns ctl reload`): when, and its error.
        var lastReload: HealthDocument.Reload? = nil
        /// What readiness said last, so each change is logged once.
        var lastReadiness: (ready: Bool, maintenance: Bool)? = nil
        /// What was published last, so each change is published once.
        var published: Readiness? = nil
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

    let state: Mutex<State>
    private let logger: Logger
    public let listeners: [String]
    public var settings: Settings { state.withLock { $0.settings } }
    public var maintenanceFile: String? { settings.maintenanceFile }
    public var probeMaxAge: TimeInterval { settings.probeMaxAge }
    /// The zones being served now, for what only the data knows (DNSSEC signatures).
    private let servedZones: @Sendable () -> ZoneSet
    private let onTransition: @Sendable (Lifecycle) -> Void
    /// The time of inputs that carry none (a transition, a secondary's news, the watch timer).
    private let clock: @Sendable () -> Date
    private let subscribers = Mutex<[UInt64: @Sendable (Readiness) -> Void]>([:])
    private let nextSubscriber = Atomic<UInt64>(0)
    /// Subscribers are called here, one change after another, never under the monitor's lock.
    private let publishing = DispatchQueue(label: "anydns.readiness")
    private let watch = WatchTimer()

    public init(
        configuredZones: [ZoneSource], listeners: [String], maintenanceFile: String?,
        probeMaxAge: TimeInterval, defences: HealthDocument.Defences? = nil,
        servedZones: @escaping @Sendable () -> ZoneSet = { .empty },
        logger: Logger, onTransition: @escaping @Sendable (Lifecycle) -> Void = { _ in },
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.clock = clock
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

    // MARK: Readiness as events

    /// Calls `handler` with the readiness now, then with every change, on a queue of the
    /// monitor's, in order. Returns the id to ``unsubscribe(_:)`` with.
    @discardableResult
    public func subscribe(_ handler: @escaping @Sendable (Readiness) -> Void) -> UInt64 {
        let id = nextSubscriber.add(1, ordering: .relaxed).newValue
        evaluate(now: clock())
        // Under the state lock, as publications are: the subscriber hears the state published
        // last, then exactly the changes published after it.
        state.withLock { state in
            subscribers.withLock { $0[id] = handler }
            if let current = state.published { publishing.async { handler(current) } }
        }
        return id
    }

    public func unsubscribe(_ id: UInt64) {
        _ = subscribers.withLock { $0.removeValue(forKey: id) }
    }

    /// The readiness now; publishes it if it changed since the last publication.
    @discardableResult
    public func evaluate(now: Date) -> Readiness {
        let (ready, reason) = readiness(now: now)
        return state.withLock { state in
            let current = Readiness(
                state: state.lifecycle == .ready && !ready ? "not-ready" : state.lifecycle.name, ready: ready,
                reason: reason)
            if state.published != current {
                state.published = current
                // Queued under the lock, so changes reach subscribers in the order they happened,
                // each subscriber from the first change after it subscribed.
                let handlers = subscribers.withLock { Array($0.values) }
                publishing.async {
                    for handler in handlers { handler(current) }
                }
            }
            return current
        }
    }

    /// Re-evaluates readiness every `interval` seconds, for what changes with time alone.
    public func startWatching(every interval: Double) {
        let timer = DispatchSource.makeTimerSource(queue: publishing)
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in _ = self.map { $0.evaluate(now: $0.clock()) } }
        timer.resume()
        watch.replace(with: timer)
    }

    public func stopWatching() { watch.replace(with: nil) }

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
        evaluate(now: now)
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
        evaluate(now: clock())
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
        evaluate(now: clock())
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
        evaluate(now: now)
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
        }  // Readiness changes (and maintenance) are logged and published when they happen.
        evaluate(now: probe.finishedAt)
    }

    /// The last reload failed (its configuration, or a zone that keeps serving old data).
    public var isDegraded: Bool { state.withLock { Self.degraded($0) } }

    static func degraded(_ state: State) -> Bool {
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
}

/// The watch timer, set once at start and cancelled at stop (a Dispatch source is not Sendable).
private final class WatchTimer: @unchecked Sendable {
    private let lock = NSLock()
    private var timer: (any DispatchSourceTimer)?

    func replace(with next: (any DispatchSourceTimer)?) {
        lock.lock()
        defer { lock.unlock() }
        timer?.cancel()
        timer = next
    }
}
