import DNSWire
import DNSZone

/// Serving what the zone files gave: a new serial gets its difference in the IXFR history and a
/// NOTIFY; a zone that failed keeps the version being served, or answers SERVFAIL when it has none.
extension ZoneService {
    /// Installs the loads in `reports` beside every other zone as it is now, and forgets the zones
    /// in `removing`, in one change of the store (on the service's queue).
    func installFileZones(_ reports: [ZoneLoadReport], removing: Set<DomainName>, now: UInt64) {
        let previous = store.snapshot
        var serving: [Zone] = []
        var changed: [DomainName] = []
        var notLoaded: [DomainName] = []
        for report in reports {
            let origin = report.origin.lowercased()
            guard let config = managed(origin)?.config else { continue }
            guard case .loaded(let zone, _) = report.outcome else {
                // A configured zone whose file never loaded answers SERVFAIL, as in NSD and Knot
                // DNS, not REFUSED: the server is authoritative for it, it just cannot answer yet.
                if previous.zone(named: origin) == nil { notLoaded.append(origin) }
                continue
            }
            guard let old = previous.zone(named: origin) else {
                // First load: the journal on disk, if it leads to this serial, is the history.
                let stored =
                    config.journaled
                    ? storagePaths(origin).flatMap {
                        JournalFile.read(from: $0.journal, leadingTo: zone.serial)
                    }
                    : nil
                serving.append(stored.map { zone.with(history: $0) } ?? zone)
                continue
            }
            if old.serial == zone.serial {
                serving.append(zone.with(history: old.history))
                continue
            }
            let history =
                config.journaled
                ? old.history.appending(ZoneDiff.between(old, zone), limits: settings.journalLimits)
                : old.history
            serving.append(zone.with(history: history))
            changed.append(origin)
        }
        // Secondary zones added without a stored copy answer SERVFAIL until their first transfer.
        let waiting = managedOrigins.filter { origin in
            managed(origin)?.config.isSecondary == true && previous.zone(named: origin) == nil
                && !previous.unavailable.contains(origin)
        }
        store.update { $0.updating(serving: serving, unavailable: notLoaded + waiting, removing: removing) }
        for origin in changed { newVersionServed(origin, now: now) }
    }
}
