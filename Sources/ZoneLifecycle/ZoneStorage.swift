import DNSWire
import DNSZone
import Foundation

/// Where a zone's stored copy, timers and journal live in `storage`, how they are written (each
/// atomically: a temporary file, then rename, so a crash leaves the old file or the new), and how
/// a secondary zone's stored copy is served again after a restart.
extension ZoneService {
    /// The `load` event of a secondary zone: its stored zone file and timers, if both exist and
    /// the copy has not expired (RFC 1034 §4.3.5), are served at once with the stored expiry;
    /// otherwise the zone waits for its first transfer. Either way its refresh is scheduled.
    func loadStoredCopy(_ origin: DomainName, now: UInt64) {
        defer {
            scheduleTimers(origin)
            report(origin)
        }
        guard let paths = storagePaths(origin),
            let data = FileManager.default.contents(atPath: paths.timers),
            let stored = try? JSONDecoder().decode(RefreshSchedule.self, from: data)
        else { return }
        let schedule = RefreshSchedule.restored(stored, now: now)
        guard !schedule.isExpired(now: now) else {
            logger.warning("zone \(origin): stored copy expired while the server was down; transferring anew")
            var expired = schedule
            expired.expire()
            setRefresh(origin, expired)
            return
        }
        switch ZoneLoader.load(path: paths.zone, origin: origin) {
        case .success(let loaded):
            let history =
                managed(origin)?.config.journaled == true
                ? JournalFile.read(from: paths.journal, leadingTo: loaded.zone.serial) : nil
            let zone = loaded.zone.with(history: history, expiresAt: .some(schedule.expiresAt))
            store.update { $0.replacing(zone) }
            setRefresh(origin, schedule)
            logger.info(
                "zone loaded from storage",
                metadata: ["zone": "\(origin)", "serial": "\(zone.serial)", "file": "\(paths.zone)"])
        case .failure(let error):
            logger.error(
                "zone \(origin): stored copy \(paths.zone) unusable: \(error.errors.first.map { "\($0)" } ?? "")"
            )
        }
    }

    func storagePaths(_ origin: DomainName) -> (zone: String, timers: String, journal: String)? {
        guard let storage = settings.storage else { return nil }
        let name = origin.isRoot ? "root." : origin.description
        return ("\(storage)/\(name)zone", "\(storage)/\(name)timers", "\(storage)/\(name)journal")
    }

    /// Writes the zone's IXFR history to storage, so IXFR survives a restart.
    func storeJournal(_ zone: Zone) {
        guard config(zone.origin)?.journaled == true, let paths = storagePaths(zone.origin) else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: settings.storage!, withIntermediateDirectories: true)
            try JournalFile.write(zone.history, to: paths.journal)
        } catch {
            logger.error("zone \(zone.origin): cannot store the journal in \(paths.journal): \(error)")
        }
    }

    /// Writes the served version to storage atomically (temporary file, then rename).
    func storeCopy(_ zone: Zone) {
        guard let paths = storagePaths(zone.origin) else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: settings.storage!, withIntermediateDirectories: true)
            try ZoneFileWriter.write(
                zone, to: paths.zone, comment: "\(zone.origin) serial \(zone.serial), \(zone.source)")
        } catch {
            logger.error("zone \(zone.origin): cannot store the transferred copy: \(error)")
        }
        storeJournal(zone)
    }

    func storeTimers(_ origin: DomainName, _ schedule: RefreshSchedule) {
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

    func removeStoredTimers(_ origin: DomainName) {
        guard let paths = storagePaths(origin) else { return }
        unlink(paths.timers)
    }
}
