import DNSWire
import DNSZone
import Foundation

/// Where a zone's stored copy, timers and journal live in `storage`, and how they are written:
/// each atomically (a temporary file, then rename), so a crash leaves the old file or the new.
extension ZoneService {
    func storagePaths(_ origin: DomainName) -> (zone: String, timers: String, journal: String)? {
        guard let storage = settings.storage else { return nil }
        let name = origin.isRoot ? "root." : origin.description
        return ("\(storage)/\(name)zone", "\(storage)/\(name)timers", "\(storage)/\(name)journal")
    }

    /// Writes the zone's IXFR history to storage, so IXFR survives a restart.
    func storeJournal(_ zone: Zone) {
        guard settings.journaled.contains(zone.origin), let paths = storagePaths(zone.origin) else { return }
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
