/// Which keys of a reloaded configuration cannot take effect without a restart (README
/// "Signals"): the sockets (listeners, the management HTTP, the UDP workers) and the zone
/// service's secondary zones, remotes, storage and journal. Everything else applies on reload.
extension Configuration {
    /// The keys, by name, whose value in `new` differs from `self` and needs a restart. For a
    /// key named by a zone, `zones[N]` is the index in `new` (or in `self` for a removed zone).
    public func keysNeedingRestart(in new: Configuration) -> [String] {
        var changed: [String] = []
        if dns.port != new.dns.port { changed.append("dns.port") }
        if dns.anycast != new.dns.anycast { changed.append("dns.anycast") }
        if dns.workers != new.dns.workers { changed.append("dns.workers") }
        if listen != new.listen { changed.append("listen") }
        if management.address != new.management.address { changed.append("management.address") }
        if management.httpPort != new.management.httpPort { changed.append("management.http-port") }
        if storage != new.storage { changed.append("storage") }
        if journal != new.journal { changed.append("journal") }
        if remotes != new.remotes { changed.append("remotes") }
        if services != new.services { changed.append("services") }
        // Keys that sign outgoing transfers and NOTIFY; incoming TSIG keys apply at once.
        let outgoing = Set(remotes.compactMap(\.key) + new.remotes.compactMap(\.key))
        for name in outgoing.sorted() where keyEntries(named: name) != new.keyEntries(named: name) {
            changed.append("keys (\(name), used by remotes)")
        }
        // Secondary zones and NOTIFY targets are the zone service's: a zone file's other keys apply.
        for (index, zone) in new.zones.enumerated() {
            let old = zones.first { $0.origin.lowercased() == zone.origin.lowercased() }
            if old?.primaries ?? [] != zone.primaries { changed.append("zones[\(index)].primaries") }
            if old?.notify ?? [] != zone.notify { changed.append("zones[\(index)].notify") }
        }
        for (index, zone) in zones.enumerated()
        where !new.zones.contains(where: { $0.origin.lowercased() == zone.origin.lowercased() }) {
            if zone.isSecondary { changed.append("zones[\(index)] (secondary zone \(zone.origin) removed)") }
        }
        return changed
    }

    private func keyEntries(named name: String) -> [Key] { keys.filter { $0.name == name } }
}
