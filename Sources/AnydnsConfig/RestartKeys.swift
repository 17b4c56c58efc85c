/// Which keys of a reloaded configuration cannot take effect without a restart (README
/// "Signals"): the sockets (listeners, the management HTTP, the UDP workers), the anycast
/// services, and where the zone lifecycle keeps its files and how long its journals are.
/// Everything else applies on reload, the zone list with its primaries, NOTIFY targets and
/// remotes included.
extension Configuration {
    /// The keys, by name, whose value in `new` differs from `self` and needs a restart.
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
        if services != new.services { changed.append("services") }
        return changed
    }
}
