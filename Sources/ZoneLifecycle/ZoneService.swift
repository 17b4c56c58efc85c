import DNSAuth
import DNSWire
import DNSXfr
import DNSZone
import Dispatch
import Foundation
import Logging
import ServingTypes
import Synchronization

/// What the health monitor and metrics learn from the zone lifecycle.
public protocol ZoneServiceObserver: Sendable {
    /// A secondary zone's timers or outcome changed.
    func secondaryChanged(_ origin: DomainName, primaries: [String], schedule: RefreshSchedule, expired: Bool)
    /// A transfer in ended: `type` AXFR or IXFR, `result` success or failure.
    func transferIn(type: String, succeeded: Bool)
    /// A NOTIFY was sent and acknowledged (or given up).
    func notifySent(acknowledged: Bool)
    func notifyReceived()
}

/// The life of every zone, whatever its source (docs/ARCHITECTURE.md, "The life of a zone").
///
/// - **The registry**: ``apply(_:)`` takes the configured zones at start and on every reload;
///   a zone added is served (or scheduled) at once, a zone removed stops being served at once,
///   a zone kept keeps its state. No restart is needed for any of it.
/// - **Loading**: file zones are read on the caller's thread; a zone that fails keeps its
///   previous version, and one that never loaded answers SERVFAIL (as NSD and Knot DNS do).
/// - **Events**: each zone has a ``ZoneEvents`` schedule (load, expire, refresh, notify, flush)
///   run by a one-second tick on the service's queue, or at once when a request makes one due.
/// - **Serving**: every change replaces only the zones it concerns in the ``ZoneStore``, records
///   the difference in the zone's IXFR history, stores it, and NOTIFYs the zone's secondaries.
///
/// State lives on one serial queue; transfers run on a queue of their own, one zone at a time
/// each, never on a DNS worker.
public final class ZoneService: @unchecked Sendable {
    /// One zone as the lifecycle keeps it (on ``queue``).
    struct ManagedZone {
        var config: ZoneConfig
        var events = ZoneEvents()
        /// SOA timers of a secondary zone (RFC 1034 §4.3.5); `nil` for a file zone.
        var refresh: RefreshSchedule?
        /// A refresh is under way; another was asked for meanwhile (a NOTIFY storm causes one
        /// more refresh, not one per packet); the next transfer must be AXFR.
        var refreshing = false
        var refreshAgain = false
        var forceAXFR = false
    }

    let settings: ZoneServiceSettings
    public let store: ZoneStore
    let logger: Logger
    let observer: (any ZoneServiceObserver)?
    let clock: @Sendable () -> UInt64
    private let queue = DispatchQueue(label: "anydns.zones")
    private let transfers = DispatchQueue(label: "anydns.transfers", attributes: .concurrent)
    /// By lowercase origin; only touched on ``queue``.
    private var zones: [DomainName: ManagedZone] = [:]
    /// The configured zones, readable from any thread (transfers read primaries and journaling).
    private let registry = Mutex<[ZoneConfig]>([])
    private var timer: DispatchSourceTimer?
    private let notifier: NotifySender

    public init(
        settings: ZoneServiceSettings, store: ZoneStore, logger: Logger, observer: (any ZoneServiceObserver)?,
        clock: @escaping @Sendable () -> UInt64 = { UInt64(time(nil)) }
    ) {
        self.settings = settings
        self.store = store
        self.logger = logger
        self.observer = observer
        self.clock = clock
        notifier = NotifySender(logger: logger, observer: observer, clock: clock)
    }

    /// Runs the events of every zone on a one-second tick. Call after the first ``apply(_:)``.
    public func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now(), repeating: 1.0)
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        self.timer = timer
    }

    public func stop() { timer?.cancel() }

    // MARK: The registry

    /// The zones configured now, in the order given.
    public var configured: [ZoneConfig] { registry.withLock { $0 } }

    func config(_ origin: DomainName) -> ZoneConfig? {
        let lowered = origin.lowercased()
        return registry.withLock { $0.first { $0.origin == lowered } }
    }

    /// Makes `configs` the zones served: every file zone is (re)read, a secondary zone added is
    /// served from its stored copy at once when one has not expired (otherwise it answers
    /// SERVFAIL until its first transfer), a zone no longer listed stops being served, and a
    /// secondary zone kept keeps its data and timers (with its new primaries). Returns what each
    /// file zone's load gave.
    @discardableResult
    public func apply(_ configs: [ZoneConfig]) -> [ZoneLoadReport] {
        let served = store.snapshot
        let reports = ZoneFileLoader.batch { configs.compactMap { loadFile($0, servedNow: served) } }
        queue.sync {
            let now = clock()
            let wanted = Set(configs.map(\.origin))
            let removed = Set(zones.keys).subtracting(wanted)
            for origin in removed.sorted(by: { $0.description < $1.description }) {
                zones[origin] = nil
                logger.notice(
                    "zone removed from the configuration: no longer served", metadata: ["zone": "\(origin)"])
            }
            registry.withLock { $0 = configs }
            var added: [DomainName] = []
            for config in configs {
                if var kept = zones[config.origin], kept.config.isSecondary == config.isSecondary {
                    kept.config = config
                    zones[config.origin] = kept
                    continue
                }
                var zone = ManagedZone(config: config)
                if config.isSecondary {
                    zone.refresh = RefreshSchedule(now: now)
                    zone.events.schedule(.load, at: now)
                }
                zones[config.origin] = zone
                added.append(config.origin)
            }
            installFileZones(reports, removing: removed, now: now)
            for origin in added where zones[origin]?.config.isSecondary == true {
                runDueEvents(origin, now: now)
            }
        }
        return reports
    }

    /// Re-reads one file zone (`anydns ctl zone-reload`); the others are left as they are.
    public func reloadFile(_ origin: DomainName) -> Result<ZoneLoadReport, ZoneRequestError> {
        guard let config = config(origin) else { return .failure(.noSuchZone(origin)) }
        guard let report = ZoneFileLoader.batch({ loadFile(config, servedNow: store.snapshot) }) else {
            return .failure(.secondaryZone(config.origin))
        }
        queue.sync { installFileZones([report], removing: [], now: clock()) }
        return .success(report)
    }

    /// Reads the zone file of `config` (`nil` for a secondary zone); on failure the version in
    /// `servedNow` is the one kept.
    private func loadFile(_ config: ZoneConfig, servedNow: ZoneSet) -> ZoneLoadReport? {
        guard case .file(let path) = config.source else { return nil }
        return ZoneFileLoader.load(
            ZoneSource(origin: config.origin, file: path), previous: servedNow.zone(named: config.origin),
            logger: logger)
    }

    // MARK: Requests

    /// What a query asked of the zones (passed on by the transport).
    public func handle(_ command: ZoneCommand) {
        switch command {
        case .notify(let origin, let serial, let from): notifyReceived(origin, serial: serial, from: from)
        }
    }

    /// An allowed NOTIFY arrived (RFC 1996 §4.7): refresh the zone now, once however many came.
    public func notifyReceived(_ origin: DomainName, serial: UInt32?, from sender: IPAddress) {
        observer?.notifyReceived()
        queue.async { [self] in
            guard zones[origin]?.refresh != nil else { return }
            logger.info(
                "NOTIFY received",
                metadata: [
                    "zone": "\(origin)", "from": "\(sender)", "serial": "\(serial.map(String.init) ?? "-")",
                ])
            requestRefresh(origin)
        }
    }

    /// `zone-refresh`: check the primaries now. False when `origin` is not a secondary zone.
    public func refresh(_ origin: DomainName) -> Bool {
        queue.sync {
            guard zones[origin.lowercased()]?.refresh != nil else { return false }
            requestRefresh(origin.lowercased())
            return true
        }
    }

    /// `zone-retransfer`: take the whole zone by AXFR now, whatever the serials say.
    public func retransfer(_ origin: DomainName) -> Bool {
        queue.sync {
            let origin = origin.lowercased()
            guard zones[origin]?.refresh != nil else { return false }
            zones[origin]!.forceAXFR = true
            requestRefresh(origin)
            return true
        }
    }

    /// `zone-notify`: send NOTIFY for `origin` to its configured secondaries now.
    public func sendNotify(_ origin: DomainName) -> Bool {
        guard let zone = store.snapshot.zone(named: origin), let targets = config(origin)?.notify,
            !targets.isEmpty
        else { return false }
        notifier.notify(zone: zone, targets: targets)
        return true
    }

    private func requestRefresh(_ origin: DomainName) {
        guard zones[origin] != nil else { return }
        if zones[origin]!.refreshing {
            zones[origin]!.refreshAgain = true
            return
        }
        let now = clock()
        zones[origin]!.refresh?.refreshNow(now: now)
        zones[origin]!.events.schedule(.refresh, at: now)
        runDueEvents(origin, now: now)
    }

    // MARK: Events

    /// Once a second: every zone's due events.
    private func tick() {
        let now = clock()
        for origin in zones.keys.sorted(by: { $0.description < $1.description }) {
            runDueEvents(origin, now: now)
        }
    }

    /// Runs the events of `origin` that are due at `now` (on ``queue``), and those they make due
    /// at once (a stored copy loaded makes its refresh due): each event runs once per pass and
    /// none schedules itself again for `now`, so this ends.
    func runDueEvents(_ origin: DomainName, now: UInt64) {
        while let due = zones[origin]?.events.takeDue(now: now), !due.isEmpty {
            for event in due {
                guard zones[origin] != nil else { return }  // a zone removed meanwhile
                switch event {
                case .load: loadStoredCopy(origin, now: now)
                case .expire: expireIfDue(origin, now: now)
                case .refresh: startRefresh(origin)
                case .notify: notifySecondaries(origin)
                case .flush: flush(origin)
                }
            }
        }
    }

    /// Schedules what follows a new version being served: NOTIFY and storing, both at once.
    func newVersionServed(_ origin: DomainName, now: UInt64) {
        zones[origin]?.events.schedule(.flush, at: now)
        zones[origin]?.events.schedule(.notify, at: now)
        runDueEvents(origin, now: now)
    }

    private func notifySecondaries(_ origin: DomainName) {
        guard let targets = zones[origin]?.config.notify, !targets.isEmpty,
            let zone = store.snapshot.zone(named: origin)
        else { return }
        notifier.notify(zone: zone, targets: targets)
    }

    private func flush(_ origin: DomainName) {
        guard let managed = zones[origin], let zone = store.snapshot.zone(named: origin) else { return }
        if managed.config.isSecondary {
            storeCopy(zone)
        } else {
            storeJournal(zone)
        }
        if let schedule = managed.refresh { storeTimers(origin, schedule) }
    }

    // MARK: Secondary zones

    private func startRefresh(_ origin: DomainName) {
        guard var managed = zones[origin], managed.refresh != nil, !managed.refreshing else { return }
        managed.refreshing = true
        let axfr = managed.forceAXFR || managed.refresh?.serial == nil
        managed.forceAXFR = false
        zones[origin] = managed
        let current = axfr ? nil : store.snapshot.zone(named: origin)
        let primaries = managed.config.primaries
        transfers.async { [self] in
            let outcome = refreshZone(origin, from: primaries, current: current)
            queue.async { [self] in finishRefresh(origin, outcome) }
        }
    }

    enum RefreshOutcome {
        case upToDate(SOATimers, primaryExpire: UInt32?, from: String)
        case transferred(Zone, via: String, from: String, primaryExpire: UInt32?)
        case failed(String, retry: UInt32?)
    }

    private func finishRefresh(_ origin: DomainName, _ outcome: RefreshOutcome) {
        guard zones[origin]?.refresh != nil else { return }  // removed while the refresh ran
        zones[origin]!.refreshing = false
        let now = clock()
        switch outcome {
        case .upToDate(let timers, let primaryExpire, let from):
            let result = "up to date at serial \(timers.serial) (\(from))"
            zones[origin]!.refresh!.succeeded(
                now: now, timers: timers, primaryExpire: primaryExpire, result: result)
            let expiresAt = zones[origin]!.refresh!.expiresAt
            store.update { set in
                guard let zone = set.zone(named: origin) else { return set }
                return set.replacing(zone.with(expiresAt: .some(expiresAt)))
            }
            logger.debug("zone \(origin): \(result)")
        case .transferred(let zone, let via, let from, let primaryExpire):
            let result = "transferred serial \(zone.serial) by \(via) from \(from)"
            zones[origin]!.refresh!.succeeded(
                now: now, timers: zone.soaTimers, primaryExpire: primaryExpire, result: result)
            let served = zone.with(expiresAt: .some(zones[origin]!.refresh!.expiresAt))
            store.update { $0.replacing(served) }
            report(origin)  // at once: /health and /zones agree with DNS before the copy is stored
            logger.notice(
                "zone transferred",
                metadata: [
                    "zone": "\(origin)", "serial": "\(zone.serial)", "via": "\(via)", "from": "\(from)",
                    "records": "\(zone.recordCount)",
                ])
            newVersionServed(origin, now: now)
        case .failed(let reason, let retry):
            zones[origin]!.refresh!.failed(now: now, retry: retry, result: reason)
            logger.error(
                "zone \(origin): refresh failed: \(reason); keeping serial \(zones[origin]!.refresh!.serial.map(String.init) ?? "none")"
            )
        }
        if let schedule = zones[origin]!.refresh { storeTimers(origin, schedule) }
        scheduleTimers(origin)
        report(origin)
        if zones[origin]!.refreshAgain {
            zones[origin]!.refreshAgain = false
            requestRefresh(origin)
        }
    }

    /// The refresh and expire events of a secondary zone, from its SOA timers.
    func scheduleTimers(_ origin: DomainName) {
        guard let schedule = zones[origin]?.refresh else { return }
        zones[origin]!.events.reschedule(.refresh, at: schedule.nextRefresh)
        zones[origin]!.events.reschedule(.expire, at: schedule.expiresAt)
    }

    private func expireIfDue(_ origin: DomainName, now: UInt64) {
        guard let schedule = zones[origin]?.refresh, schedule.expiresAt != nil, schedule.isExpired(now: now)
        else {
            return
        }
        logger.error(
            "zone \(origin) expired: no successful refresh since \(schedule.lastSuccess.map(String.init) ?? "start"); answering SERVFAIL"
        )
        zones[origin]!.refresh!.expire()
        store.update { $0.markingUnavailable(origin) }
        removeStoredTimers(origin)
        scheduleTimers(origin)
        report(origin)
    }

    /// Tells the observer (health, metrics) the zone's state. "Expired" means a zone that had
    /// data and lost it (RFC 1034 §4.3.5); a zone never transferred is not expired, just not
    /// yet transferred.
    func report(_ origin: DomainName) {
        guard let managed = zones[origin], let schedule = managed.refresh else { return }
        observer?.secondaryChanged(
            origin, primaries: managed.config.primaries.map(\.description), schedule: schedule,
            expired: schedule.lastSuccess != nil && schedule.isExpired(now: clock()))
    }

    /// Reads and writes of ``zones`` for the other files of the service (on ``queue``).
    func managed(_ origin: DomainName) -> ManagedZone? { zones[origin] }
    func setRefresh(_ origin: DomainName, _ schedule: RefreshSchedule) { zones[origin]?.refresh = schedule }
    var managedOrigins: [DomainName] { Array(zones.keys) }
}

/// Why a request about one zone cannot be done.
public enum ZoneRequestError: Error, Equatable, CustomStringConvertible {
    case noSuchZone(DomainName)
    case secondaryZone(DomainName)

    public var description: String {
        switch self {
        case .noSuchZone(let origin): "no such zone: \(origin)"
        case .secondaryZone(let origin):
            "zone \(origin) is a secondary zone: use zone-refresh or zone-retransfer"
        }
    }
}
