import DNSAuth
import DNSWire
import DNSXfr
import DNSZone
import Dispatch
import Foundation
import Logging
import ServingTypes

/// Another server this one talks to: an address and the key that signs what goes to it.
public struct RemoteServer: Sendable, CustomStringConvertible {
    public var address: ListenAddress
    public var key: TSIGKey?

    public init(address: ListenAddress, key: TSIGKey?) {
        self.address = address
        self.key = key
    }

    public var description: String { key.map { "\(address) key \($0.name)" } ?? address.description }
}

/// What the zone service is told at start.
public struct ZoneServiceSettings: Sendable {
    /// Secondary zones and their primaries, tried in order.
    public var secondaries: [DomainName: [RemoteServer]]
    /// Where to send NOTIFY on every new serial of a zone (RFC 1996 §3.5).
    public var notify: [DomainName: [RemoteServer]]
    /// Zones that keep IXFR history (those that may be transferred out).
    public var journaled: Set<DomainName>
    public var journalLimits: ZoneHistory.Limits
    /// Directory for transferred zones and timers; `nil`: memory only.
    public var storage: String?
    /// Seconds one SOA query may take; a transfer gets ``transferTimeout``.
    public var queryTimeout: Double = 2
    public var transferTimeout: Double = 120

    public init(
        secondaries: [DomainName: [RemoteServer]] = [:], notify: [DomainName: [RemoteServer]] = [:],
        journaled: Set<DomainName> = [], journalLimits: ZoneHistory.Limits = .init(), storage: String? = nil
    ) {
        self.secondaries = secondaries
        self.notify = notify
        self.journaled = journaled
        self.journalLimits = journalLimits
        self.storage = storage
    }
}

/// What the health monitor and metrics learn from the zone service.
public protocol ZoneServiceObserver: Sendable {
    /// A secondary zone's timers or outcome changed.
    func secondaryChanged(_ origin: DomainName, primaries: [String], schedule: RefreshSchedule, expired: Bool)
    /// A transfer in ended: `type` AXFR or IXFR, `result` success or failure.
    func transferIn(type: String, succeeded: Bool)
    /// A NOTIFY was sent and acknowledged (or given up).
    func notifySent(acknowledged: Bool)
    func notifyReceived()
}

/// The life of every zone (docs/ARCHITECTURE.md, "The life of a zone"): file zones loaded and
/// reloaded, secondary zones fetched, refreshed on their SOA timers and on NOTIFY, expired;
/// each change swapped into the ``ZoneStore`` for that zone alone, recorded in the zone's IXFR
/// history, stored on disk, and announced to the zone's secondaries.
///
/// State lives on one serial queue; transfers run on a queue of their own, one zone at a time
/// each, never on a DNS worker.
public final class ZoneService: @unchecked Sendable {
    let settings: ZoneServiceSettings
    let store: ZoneStore
    let logger: Logger
    let observer: (any ZoneServiceObserver)?
    let clock: @Sendable () -> UInt64
    private let queue = DispatchQueue(label: "anydns.zones")
    private let transfers = DispatchQueue(label: "anydns.transfers", attributes: .concurrent)
    private var schedules: [DomainName: RefreshSchedule] = [:]
    /// Zones with a refresh under way, and those asked to refresh again when it ends (a NOTIFY
    /// storm causes one refresh, not one per packet).
    private var refreshing: Set<DomainName> = []
    private var refreshAgain: Set<DomainName> = []
    private var forceAXFR: Set<DomainName> = []
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

    // MARK: Start

    /// Serves each secondary zone's stored copy at once when it has not expired, then checks
    /// the primaries on a one-second tick. Call after the file zones are in the store.
    public func start() {
        queue.sync {
            let now = clock()
            for origin in settings.secondaries.keys.sorted(by: { $0.description < $1.description }) {
                var schedule = RefreshSchedule(now: now)
                if let stored = loadStoredCopy(origin, now: now) {
                    schedule = stored
                }
                schedules[origin] = schedule
                report(origin)
            }
        }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now(), repeating: 1.0)
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        self.timer = timer
    }

    public func stop() { timer?.cancel() }

    /// The stored zone file and timers of `origin`, if both exist and the copy has not expired
    /// (RFC 1034 §4.3.5): the zone is then served at once with its stored expiry.
    func loadStoredCopy(_ origin: DomainName, now: UInt64) -> RefreshSchedule? {
        guard let paths = storagePaths(origin),
            let data = FileManager.default.contents(atPath: paths.timers),
            let stored = try? JSONDecoder().decode(RefreshSchedule.self, from: data)
        else { return nil }
        let schedule = RefreshSchedule.restored(stored, now: now)
        guard !schedule.isExpired(now: now) else {
            logger.warning("zone \(origin): stored copy expired while the server was down; transferring anew")
            var expired = schedule
            expired.expire()
            return expired
        }
        switch ZoneLoader.load(path: paths.zone, origin: origin) {
        case .success(let loaded):
            let history =
                settings.journaled.contains(origin)
                ? JournalFile.read(from: paths.journal, leadingTo: loaded.zone.serial) : nil
            let zone = loaded.zone.with(history: history, expiresAt: .some(schedule.expiresAt))
            store.update { $0.replacing(zone) }
            logger.info(
                "zone loaded from storage",
                metadata: ["zone": "\(origin)", "serial": "\(zone.serial)", "file": "\(paths.zone)"])
            return schedule
        case .failure(let error):
            logger.error(
                "zone \(origin): stored copy \(paths.zone) unusable: \(error.errors.first.map { "\($0)" } ?? "")"
            )
            return nil
        }
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
            guard schedules[origin] != nil else { return }
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
            guard schedules[origin] != nil else { return false }
            requestRefresh(origin)
            return true
        }
    }

    /// `zone-retransfer`: take the whole zone by AXFR now, whatever the serials say.
    public func retransfer(_ origin: DomainName) -> Bool {
        queue.sync {
            guard schedules[origin] != nil else { return false }
            forceAXFR.insert(origin)
            requestRefresh(origin)
            return true
        }
    }

    /// `zone-notify`: send NOTIFY for `origin` to its configured secondaries now.
    public func sendNotify(_ origin: DomainName) -> Bool {
        guard let zone = store.snapshot.zone(named: origin), let targets = settings.notify[origin] else {
            return false
        }
        notifier.notify(zone: zone, targets: targets)
        return true
    }

    private func requestRefresh(_ origin: DomainName) {
        if refreshing.contains(origin) {
            refreshAgain.insert(origin)
            return
        }
        schedules[origin]?.refreshNow(now: clock())
        tick()
    }

    // MARK: File zones

    /// Takes the result of a load or reload of the file zones and serves it beside the
    /// secondary zones as they are now. A zone whose serial changed gets the difference in its
    /// IXFR history (when it may be transferred) and a NOTIFY to its secondaries.
    public func installFileZones(_ loaded: ZoneSet, failed: [DomainName] = []) {
        let previous = store.snapshot
        var zones: [Zone] = []
        var changed: [Zone] = []
        for zone in loaded.zones {
            guard let old = previous.zone(named: zone.origin) else {
                // First load: the journal on disk, if it leads to this serial, is the history.
                let stored =
                    settings.journaled.contains(zone.origin)
                    ? storagePaths(zone.origin).flatMap {
                        JournalFile.read(from: $0.journal, leadingTo: zone.serial)
                    }
                    : nil
                zones.append(stored.map { zone.with(history: $0) } ?? zone)
                continue
            }
            if old === zone || old.serial == zone.serial {
                zones.append(old === zone ? zone : zone.with(history: old.history))
                continue
            }
            var next = zone
            if settings.journaled.contains(zone.origin) {
                let diff = ZoneDiff.between(old, zone)
                next = zone.with(history: old.history.appending(diff, limits: settings.journalLimits))
            }
            zones.append(next)
            changed.append(next)
            storeJournal(next)
        }
        let secondaries = Set(settings.secondaries.keys)
        // A configured zone whose file never loaded answers SERVFAIL, as in NSD and Knot DNS,
        // not REFUSED: the server is authoritative for it, it just cannot answer yet.
        let notLoaded = failed.map { $0.lowercased() }.filter { origin in
            !zones.contains { $0.origin == origin }
        }
        store.update { current in
            let kept = current.zones.filter { secondaries.contains($0.origin) }
            let unavailable = secondaries.filter { origin in !kept.contains { $0.origin == origin } }
            return ZoneSet(zones + kept, unavailable: Array(unavailable) + notLoaded)
        }
        for zone in changed {
            if let targets = settings.notify[zone.origin] { notifier.notify(zone: zone, targets: targets) }
        }
    }

    // MARK: Secondary zones

    /// Once a second: expire what must expire, start the refreshes that are due.
    private func tick() {
        let now = clock()
        for (origin, schedule) in schedules {
            if schedule.expiresAt != nil && schedule.isExpired(now: now) {
                logger.error(
                    "zone \(origin) expired: no successful refresh since \(schedule.lastSuccess.map(String.init) ?? "start"); answering SERVFAIL"
                )
                schedules[origin]!.expire()
                store.update { $0.markingUnavailable(origin) }
                removeStoredTimers(origin)
                report(origin)
            }
            if schedule.isDue(now: now) && !refreshing.contains(origin) {
                refreshing.insert(origin)
                let current = store.snapshot.zone(named: origin)
                let axfr = forceAXFR.remove(origin) != nil || schedules[origin]!.serial == nil
                transfers.async { [self] in
                    let outcome = refreshZone(origin, current: axfr ? nil : current)
                    queue.async { [self] in finishRefresh(origin, outcome) }
                }
            }
        }
    }

    enum RefreshOutcome {
        case upToDate(SOATimers, primaryExpire: UInt32?, from: String)
        case transferred(Zone, via: String, from: String, primaryExpire: UInt32?)
        case failed(String, retry: UInt32?)
    }

    private func finishRefresh(_ origin: DomainName, _ outcome: RefreshOutcome) {
        refreshing.remove(origin)
        let now = clock()
        switch outcome {
        case .upToDate(let timers, let primaryExpire, let from):
            let result = "up to date at serial \(timers.serial) (\(from))"
            schedules[origin]?.succeeded(
                now: now, timers: timers, primaryExpire: primaryExpire, result: result)
            let expiresAt = schedules[origin]?.expiresAt
            store.update { set in
                guard let zone = set.zone(named: origin) else { return set }
                return set.replacing(zone.with(expiresAt: .some(expiresAt)))
            }
            logger.debug("zone \(origin): \(result)")
        case .transferred(let zone, let via, let from, let primaryExpire):
            let result = "transferred serial \(zone.serial) by \(via) from \(from)"
            schedules[origin]?.succeeded(
                now: now, timers: zone.soaTimers, primaryExpire: primaryExpire, result: result)
            let served = zone.with(expiresAt: .some(schedules[origin]?.expiresAt))
            store.update { $0.replacing(served) }
            report(origin)  // at once: /health and /zones agree with DNS before the copy is stored
            logger.notice(
                "zone transferred",
                metadata: [
                    "zone": "\(origin)", "serial": "\(zone.serial)", "via": "\(via)", "from": "\(from)",
                    "records": "\(zone.recordCount)",
                ])
            storeCopy(served)
            if let targets = settings.notify[origin] { notifier.notify(zone: served, targets: targets) }
        case .failed(let reason, let retry):
            schedules[origin]?.failed(now: now, retry: retry, result: reason)
            logger.error(
                "zone \(origin): refresh failed: \(reason); keeping serial \(schedules[origin]?.serial.map(String.init) ?? "none")"
            )
        }
        if let schedule = schedules[origin] { storeTimers(origin, schedule) }
        report(origin)
        if refreshAgain.remove(origin) != nil { requestRefresh(origin) }
    }

    /// Tells the observer (health, metrics) the zone's state. "Expired" means a zone that had
    /// data and lost it (RFC 1034 §4.3.5); a zone never transferred is not expired, just not
    /// yet transferred.
    private func report(_ origin: DomainName) {
        guard let schedule = schedules[origin] else { return }
        observer?.secondaryChanged(
            origin, primaries: (settings.secondaries[origin] ?? []).map(\.description), schedule: schedule,
            expired: schedule.lastSuccess != nil && schedule.isExpired(now: clock()))
    }
}
