import DNSAuth
import DNSTransport
import DNSWire
import DNSXfr
import DNSZone
import Dispatch
import Foundation
import Logging

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
    private func loadStoredCopy(_ origin: DomainName, now: UInt64) -> RefreshSchedule? {
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
            let zone = loaded.zone.with(expiresAt: .some(schedule.expiresAt))
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

    public var secondaryZones: [DomainName] { Array(settings.secondaries.keys) }

    public func schedule(of origin: DomainName) -> RefreshSchedule? { queue.sync { schedules[origin] } }

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
    public func installFileZones(_ loaded: ZoneSet) {
        let previous = store.snapshot
        var zones: [Zone] = []
        var changed: [Zone] = []
        for zone in loaded.zones {
            guard let old = previous.zone(named: zone.origin) else {
                zones.append(zone)
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
        }
        let secondaries = Set(settings.secondaries.keys)
        store.update { current in
            let kept = current.zones.filter { secondaries.contains($0.origin) }
            let unavailable = secondaries.filter { origin in !kept.contains { $0.origin == origin } }
            return ZoneSet(zones + kept, unavailable: Array(unavailable))
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

    private func report(_ origin: DomainName) {
        guard let schedule = schedules[origin] else { return }
        observer?.secondaryChanged(
            origin, primaries: (settings.secondaries[origin] ?? []).map(\.description), schedule: schedule,
            expired: schedule.isExpired(now: clock()))
    }

    /// One refresh (RFC 1034 §4.3.5): ask each primary in turn for its SOA; when one has a newer
    /// serial (RFC 1982), transfer from it, IXFR first when we have a version and AXFR when IXFR
    /// fails in any way, and check the result like a zone file before it replaces anything.
    private func refreshZone(_ origin: DomainName, current: Zone?) -> RefreshOutcome {
        var problems: [String] = []
        var retry: UInt32? = current?.soaTimers.retry
        for primary in settings.secondaries[origin] ?? [] {
            let soa: (timers: SOATimers, expire: UInt32?)
            switch querySOA(origin, primary) {
            case .success(let answer): soa = answer
            case .failure(let failure):
                problems.append("\(failure)")
                continue
            }
            retry = soa.timers.retry
            if let current, !SerialNumber(soa.timers.serial).isNewer(than: SerialNumber(current.serial)) {
                if soa.timers.serial != current.serial {
                    logger.warning(
                        "zone \(origin): \(primary.address) has serial \(soa.timers.serial), behind ours \(current.serial); keeping ours until it expires or zone-retransfer"
                    )
                }
                return .upToDate(current.soaTimers, primaryExpire: soa.expire, from: "\(primary.address)")
            }
            if let current {
                switch transfer(origin, from: primary, current: current) {
                case .success(let zone):
                    observer?.transferIn(type: "IXFR", succeeded: true)
                    return .transferred(
                        zone, via: "IXFR", from: "\(primary.address)", primaryExpire: soa.expire)
                case .failure(let failure):
                    observer?.transferIn(type: "IXFR", succeeded: false)
                    logger.warning("zone \(origin): IXFR failed (\(failure)); falling back to AXFR")
                }
            }
            switch transfer(origin, from: primary, current: nil) {
            case .success(let zone):
                observer?.transferIn(type: "AXFR", succeeded: true)
                return .transferred(zone, via: "AXFR", from: "\(primary.address)", primaryExpire: soa.expire)
            case .failure(let failure):
                observer?.transferIn(type: "AXFR", succeeded: false)
                problems.append("\(failure)")
            }
        }
        return .failed(problems.isEmpty ? "no primaries" : problems.joined(separator: "; "), retry: retry)
    }

    struct TransferFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// The primary's SOA timers and its EDNS EXPIRE (RFC 7314 §3), over UDP (TCP when truncated).
    private func querySOA(_ origin: DomainName, _ primary: RemoteServer) -> Result<
        (timers: SOATimers, expire: UInt32?), TransferFailure
    > {
        let id = UInt16.random(in: 0...UInt16.max)
        var signer = primary.key.map { TSIGSigner(key: $0) }
        let request = RequestBuilder.make(
            id: id, zone: origin, type: .soa, expire: true, signer: &signer, now: clock())
        var answer: [UInt8]
        switch DNSClient.exchangeUDP(request, with: primary.address, timeout: settings.queryTimeout) {
        case .success(let bytes): answer = bytes
        case .failure(let failure): return .failure(TransferFailure(description: "SOA query: \(failure)"))
        }
        if answer.count > 3 && answer[2] & 0x02 != 0 {
            var tcpAnswer: [UInt8]? = nil
            _ = DNSClient.exchangeTCP(request, with: primary.address, timeout: settings.queryTimeout) {
                tcpAnswer = $0
                return false
            }
            guard let tcpAnswer else {
                return .failure(TransferFailure(description: "SOA query over TCP failed"))
            }
            answer = tcpAnswer
        }
        if let key = primary.key, let signer {
            var verifier = TSIGResponseVerifier(key: key, requestMAC: signer.lastMAC)
            let check = answer.withUnsafeBytes { verifier.verify($0, now: clock()) }
            if case .failed(let reason) = check {
                return .failure(
                    TransferFailure(description: "\(primary.address): SOA answer TSIG: \(reason)"))
            }
        }
        guard let message = try? ReceivedMessage(answer), message.header.id == id else {
            return .failure(TransferFailure(description: "\(primary.address): malformed SOA answer"))
        }
        guard message.rcode == .noError, message.header.has(DNSHeader.Flag.aa),
            let soa = message.answers.first(where: { $0.type == .soa && $0.owner.lowercased() == origin }),
            let timers = soa.rdata.withUnsafeBytes({ SOATimers(soaRData: $0) })
        else {
            return .failure(
                TransferFailure(
                    description:
                        "\(primary.address): SOA query answered \(message.rcode)\(message.header.has(DNSHeader.Flag.aa) ? "" : " without AA")"
                ))
        }
        var expire: UInt32? = nil
        if let opt = message.additional.first(where: { $0.type == .opt }) {
            expire = expireOption(opt.rdata)
        }
        return .success((timers, expire))
    }

    /// The value of an EDNS EXPIRE option (RFC 7314 §2) in OPT RDATA.
    private func expireOption(_ rdata: [UInt8]) -> UInt32? {
        var index = 0
        while index + 4 <= rdata.count {
            let code = UInt16(rdata[index]) << 8 | UInt16(rdata[index + 1])
            let length = Int(rdata[index + 2]) << 8 | Int(rdata[index + 3])
            index += 4
            guard index + length <= rdata.count else { return nil }
            if code == EDNSOptionCode.expire && length == 4 {
                return rdata[index..<(index + 4)].reduce(0) { $0 << 8 | UInt32($1) }
            }
            index += length
        }
        return nil
    }

    /// IXFR from `current` (RFC 1995), or AXFR when `current` is nil (RFC 5936), then the zone
    /// checks; the new version carries the history the transfer extends.
    private func transfer(_ origin: DomainName, from primary: RemoteServer, current: Zone?) -> Result<
        Zone, TransferFailure
    > {
        let id = UInt16.random(in: 0...UInt16.max)
        var signer = primary.key.map { TSIGSigner(key: $0) }
        let request = RequestBuilder.make(
            id: id, zone: origin, type: current == nil ? .axfr : .ixfr, clientSOA: current?.soaRecord,
            signer: &signer, now: clock())
        var reader = TransferResponseReader(
            zone: origin, id: id, clientSerial: current?.serial,
            verifier: primary.key.map { TSIGResponseVerifier(key: $0, requestMAC: signer!.lastMAC) })
        var outcome: TransferOutcome? = nil
        var failure: String? = nil
        let exchange = DNSClient.exchangeTCP(
            request, with: primary.address, timeout: settings.transferTimeout
        ) {
            message in
            switch reader.consume(message, now: clock()) {
            case .needMore: return true
            case .done(let result):
                outcome = result
                return false
            case .failed(let reason):
                failure = reason
                return false
            }
        }
        let kind = current == nil ? "AXFR" : "IXFR"
        if case .failure(let error) = exchange {
            return .failure(TransferFailure(description: "\(kind): \(error)"))
        }
        if let failure {
            return .failure(TransferFailure(description: "\(kind) from \(primary.address): \(failure)"))
        }
        let source = "\(kind) from \(primary.address)"
        let records: [ResourceRecord]
        var history = current?.history ?? ZoneHistory()
        switch outcome {
        case .full(let all)?:
            records = all
            if let current, settings.journaled.contains(origin) {
                history = history.appending(
                    ZoneDiff.between(oldRecords: current.allRecords(), newRecords: all),
                    limits: settings.journalLimits)
            } else {
                history = ZoneHistory()
            }
        case .incremental(let diffs)?:
            guard let current else {
                return .failure(TransferFailure(description: "\(source): unexpected IXFR"))
            }
            var working = current.allRecords()
            for diff in diffs {
                guard let next = diff.apply(to: working) else {
                    return .failure(
                        TransferFailure(
                            description:
                                "\(source): difference \(diff.fromSerial)→\(diff.toSerial) does not fit our data"
                        ))
                }
                working = next
                history = history.appending(diff, limits: settings.journalLimits)
            }
            records = working
        case .upToDate?:
            guard let current else { return .failure(TransferFailure(description: "\(source): no data")) }
            return .success(current)
        case nil:
            return .failure(TransferFailure(description: "\(source): answer incomplete"))
        }
        let table = ZoneRecordTable(received: records, source: source)
        switch ZoneBuilder.build(origin: origin, source: source, table: table) {
        case .success(let loaded):
            for warning in loaded.warnings.prefix(20) { logger.warning("\(warning)") }
            return .success(
                loaded.zone.with(history: settings.journaled.contains(origin) ? history : ZoneHistory()))
        case .failure(let error):
            let first = error.errors.prefix(3).map(\.description).joined(separator: "; ")
            return .failure(TransferFailure(description: "\(source): the zone fails its checks: \(first)"))
        }
    }

    // MARK: Storage

    private func storagePaths(_ origin: DomainName) -> (zone: String, timers: String)? {
        guard let storage = settings.storage else { return nil }
        let name = origin.isRoot ? "root." : origin.description
        return ("\(storage)/\(name)zone", "\(storage)/\(name)timers")
    }

    /// Writes the served version to storage atomically (temporary file, then rename).
    private func storeCopy(_ zone: Zone) {
        guard let paths = storagePaths(zone.origin) else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: settings.storage!, withIntermediateDirectories: true)
            try ZoneFileWriter.write(
                zone, to: paths.zone, comment: "\(zone.origin) serial \(zone.serial), \(zone.source)")
        } catch {
            logger.error("zone \(zone.origin): cannot store the transferred copy: \(error)")
        }
    }

    private func storeTimers(_ origin: DomainName, _ schedule: RefreshSchedule) {
        guard let paths = storagePaths(origin), let data = try? JSONEncoder().encode(schedule) else { return }
        let temporary = paths.timers + ".tmp"
        do {
            try FileManager.default.createDirectory(
                atPath: settings.storage!, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, paths.timers) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            logger.error("zone \(origin): cannot store timers in \(paths.timers): \(error)")
        }
    }

    private func removeStoredTimers(_ origin: DomainName) {
        guard let paths = storagePaths(origin) else { return }
        unlink(paths.timers)
    }
}
