import AnydnsConfig
import DNSAuth
import DNSResponder
import DNSTransport
import DNSWire
import DNSZone
import ZoneLifecycle

/// Turns the configuration's `keys`, `remotes`, `acls` and the zones' `primaries`,
/// `allow-transfer`, `allow-notify` and `notify` into what the responder and the zone service
/// use (README "Zone transfers").
enum TransferSettings {
    static func keyring(_ configuration: Configuration) throws(SiteSettings.Problem) -> [String: TSIGKey] {
        var keys: [String: TSIGKey] = [:]
        for (index, key) in configuration.keys.enumerated() {
            guard let made = TSIGKey(name: key.name, algorithm: key.algorithm, base64Secret: key.secret)
            else {
                throw SiteSettings.Problem(
                    "keys[\(index)]: key \(key.name) is not usable (name, algorithm or secret)")
            }
            keys[key.name] = made
        }
        return keys
    }

    static func access(_ configuration: Configuration) throws(SiteSettings.Problem) -> AccessPolicy {
        let keys = try keyring(configuration)
        var rules: [String: AccessRule] = [:]
        for acl in configuration.acls {
            rules[acl.name] = AccessRule(
                name: acl.name, prefixes: acl.prefixes.compactMap(AddressPrefix.init),
                keyName: acl.key.flatMap { keys[$0]?.name })
        }
        var zones: [DomainName: AccessPolicy.ZoneAccess] = [:]
        for entry in configuration.zones {
            guard let origin = origin(entry.origin) else { continue }
            zones[origin] = AccessPolicy.ZoneAccess(
                allowTransfer: AccessList(entry.allowTransfer.compactMap { rules[$0] }),
                allowNotify: AccessList(entry.allowNotify.compactMap { rules[$0] }))
        }
        return AccessPolicy(keyring: TSIGKeyring(Array(keys.values)), zones: zones)
    }

    static func zoneService(_ configuration: Configuration) -> ZoneServiceSettings {
        ZoneServiceSettings(
            journalLimits: ZoneHistory.Limits(
                maxEntries: configuration.journal.maxEntries, maxBytes: configuration.journal.maxBytes),
            storage: configuration.storage)
    }

    /// Every zone the lifecycle owns: the file zones to serve (from the configuration, or the
    /// `--zone`/`--zones-dir` options instead) with their NOTIFY targets and journaling, and, when
    /// the configuration's zones are used, its secondary zones with their primaries.
    static func zoneConfigs(_ configuration: Configuration, fileZones: [ZoneSource], useConfiguredZones: Bool)
        throws(SiteSettings.Problem) -> [ZoneConfig]
    {
        let keys = try keyring(configuration)
        var remotes: [String: [RemoteServer]] = [:]
        for remote in configuration.remotes {
            remotes[remote.name] = remote.addresses.compactMap(ListenAddress.init).map {
                RemoteServer(address: $0, key: remote.key.flatMap { keys[$0] })
            }
        }
        let entries = useConfiguredZones ? configuration.zones : []
        func entry(_ origin: DomainName) -> Configuration.ZoneEntry? {
            entries.first { self.origin($0.origin) == origin.lowercased() }
        }
        func notify(_ entry: Configuration.ZoneEntry?) -> [RemoteServer] {
            (entry?.notify ?? []).flatMap { remotes[$0] ?? [] }
        }
        var configs = fileZones.map { source in
            let configured = entry(source.origin)
            return ZoneConfig(
                origin: source.origin, source: .file(path: source.file), notify: notify(configured),
                journaled: !(configured?.allowTransfer.isEmpty ?? true))
        }
        for configured in entries where configured.isSecondary {
            guard let origin = origin(configured.origin) else { continue }
            configs.append(
                ZoneConfig(
                    origin: origin,
                    source: .transfer(primaries: configured.primaries.flatMap { remotes[$0] ?? [] }),
                    notify: notify(configured), journaled: !configured.allowTransfer.isEmpty))
        }
        return configs
    }

    private static func origin(_ text: String) -> DomainName? {
        DomainName(text.hasSuffix(".") ? text : text + ".")?.lowercased()
    }
}
