import AnydnsConfig
import ArgumentParser
import DNSAuth
import DNSGuard
import DNSResponder
import DNSTransport
import DNSWire
import DNSZone
import Dispatch
import Foundation
import Logging
import Members
import Operations
import ServingTypes
import Synchronization
import ZoneLifecycle

/// What `serve` needs, resolved from the configuration file, then the environment, then the
/// flags (README "Commands", "Configuration"): at start and again on every reload.
extension Serve {
    /// The zones the health monitor reports: the file zones as configured, then the secondary
    /// zones with where each is transferred from.
    static func monitoredZones(_ settings: Settings) -> [ZoneSource] {
        settings.zones
            + settings.zoneConfigs.filter(\.isSecondary).sorted {
                $0.origin.description < $1.origin.description
            }.map {
                ZoneSource(origin: $0.origin, file: $0.sourceDescription)
            }
    }

    /// Configuration keys a flag or the environment overrides: their changes on reload are moot.
    var overriddenKeys: [String] {
        let environment = ProcessInfo.processInfo.environment
        var keys: [String] = []
        if !listen.isEmpty { keys += ["listen", "dns.anycast", "dns.port"] }
        if management != nil || environment["ANYDNS_MANAGEMENT"] != nil { keys.append("management.address") }
        if httpPort != nil { keys.append("management.http-port") }
        if workers != nil { keys.append("dns.workers") }
        if !zone.isEmpty { keys.append("zones[") }
        return keys
    }

    /// Everything `serve` needs, from the configuration file, then the environment, then flags.
    struct Settings: Sendable {
        /// The file as read (empty without `--config`): what a reload compares against.
        var configuration: Configuration
        var listen: [ListenAddress]
        var probeTargets: [ListenAddress]
        var managementHTTP: ListenAddress
        var zones: [ZoneSource]
        var identity: ServerIdentity
        var limits: TransportLimits
        var udpWorkers: Int
        /// Where ``udpWorkers`` came from, for the log: a flag, a key, or the usable CPUs.
        var udpWorkersChosenBy: String
        var health: Configuration.Health
        var lameDuck: Double
        var maintenanceFile: String?
        /// TSIG keys and who may transfer or NOTIFY each zone.
        var access: AccessPolicy
        /// Journal limits and storage: what the zone lifecycle keeps until a restart.
        var transfers: ZoneServiceSettings
        /// Every zone the lifecycle owns: file zones and secondary zones, with NOTIFY targets.
        var zoneConfigs: [ZoneConfig]
        /// Cookies, rate limiting, the TCP keepalive announced.
        var defenses: Defenses
        /// UDP queries per second above which a valid server cookie is required; 0 never.
        var cookiesRequiredAbove: Int
        var defencesReport: HealthDocument.Defences
        /// Anycast services of the member table.
        var services: [MemberService]
    }

    /// Every address DNS is served on, once each: the anycast addresses and `listen` entries (or
    /// the `--listen` options instead), and the management address, at `dns.port` (with
    /// `--listen`, at the port of the first); the defaults when there is none (README "Commands").
    static func listenAddresses(_ configuration: Configuration, listen: [String], management: String?)
        -> [ListenAddress]
    {
        let port = UInt16(configuration.dns.port)
        var addresses: [ListenAddress]
        if !listen.isEmpty {
            addresses = listen.compactMap(ListenAddress.init)
            // The management address still answers DNS, at the port of the first --listen: that
            // is how an operator queries this one site (README "Commands").
            if let management, let first = addresses.first {
                addresses.append(ListenAddress(host: management, port: first.port))
            }
        } else {
            addresses =
                configuration.dns.anycast.map { ListenAddress(host: $0, port: port) }
                + configuration.listen.compactMap(ListenAddress.init)
            if let management { addresses.append(ListenAddress(host: management, port: port)) }
            if addresses.isEmpty { addresses = Configuration.defaultListen.compactMap(ListenAddress.init) }
        }
        var unique: [ListenAddress] = []
        for address in addresses where !unique.contains(address) { unique.append(address) }
        return unique
    }

    func resolveSettings() throws -> Settings {
        var configuration = Configuration(listen: [], zones: [])
        if let config {
            do {
                configuration = try Configuration.load(path: config)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        let environment = ProcessInfo.processInfo.environment
        let managementAddress =
            management ?? environment["ANYDNS_MANAGEMENT"] ?? configuration.management.address
        if let managementAddress, !isNumericAddress(managementAddress) {
            throw ValidationError(
                "ANYDNS_MANAGEMENT \(managementAddress): expected a numeric IPv4 or IPv6 address")
        }
        let port = UInt16(configuration.dns.port)
        let anycast = configuration.dns.anycast.map { ListenAddress(host: $0, port: port) }
        let unique = Self.listenAddresses(configuration, listen: listen, management: managementAddress)

        var zones: [ZoneSource]
        if !zone.isEmpty {
            zones = zone.compactMap(ZoneOption.init).map { ZoneSource(origin: $0.origin, file: $0.file) }
        } else if !configuration.zones.isEmpty {
            zones = configuration.zones.filter { !$0.isSecondary }.compactMap { entry in
                DomainName(entry.origin.hasSuffix(".") ? entry.origin : entry.origin + ".").map {
                    ZoneSource(origin: $0, file: entry.file)
                }
            }
        } else {
            var isDirectory: ObjCBool = false
            let problem =
                !FileManager.default.fileExists(atPath: zonesDir, isDirectory: &isDirectory)
                ? "No such file or directory"
                : !isDirectory.boolValue
                    ? "Not a directory"
                    : !FileManager.default.isReadableFile(atPath: zonesDir) ? "Permission denied" : nil
            if let problem {
                throw ValidationError("cannot read the zones directory \(zonesDir) (--zones-dir): \(problem)")
            }
            do {
                zones = try ZoneFileLoader.sources(inDirectory: zonesDir)
            } catch {
                throw ValidationError(
                    "cannot read the zones directory \(zonesDir): \(error.localizedDescription)")
            }
        }
        let name =
            identity ?? environment["ANYDNS_IDENTITY"] ?? configuration.identity.name
            ?? ProcessInfo.processInfo.hostName
        let httpPort = UInt16(httpPort ?? configuration.management.httpPort)
        let cpus = CPUBudget.current()
        // The probe checks what the announcer advertises: the anycast listeners (or, without
        // anycast addresses, every listener).
        let probeTargets = unique.filter { address in anycast.contains(address) }
        return Settings(
            configuration: configuration,
            listen: unique,
            probeTargets: probeTargets.isEmpty ? unique : probeTargets,
            managementHTTP: ListenAddress(host: managementAddress ?? "127.0.0.1", port: httpPort),
            zones: zones,
            identity: ServerIdentity(
                identity: name, version: configuration.identity.version,
                nsidEnabled: configuration.identity.nsid),
            limits: TransportLimits(
                maxTCPConnections: configuration.limits.tcpConnections,
                maxTCPConnectionsPerClient: configuration.limits.tcpConnectionsPerClient,
                tcpIdleTimeout: configuration.limits.tcpIdleTimeout),
            udpWorkers: workers ?? configuration.dns.workers ?? cpus.count,
            udpWorkersChosenBy: workers != nil
                ? "--workers"
                : configuration.dns.workers != nil ? "dns.workers" : "usable CPUs: \(cpus.explanation)",
            health: configuration.health,
            lameDuck: lameDuck ?? configuration.lameDuck,
            maintenanceFile: configuration.maintenanceFile,
            access: try TransferSettings.access(configuration),
            transfers: TransferSettings.zoneService(configuration),
            zoneConfigs: try TransferSettings.zoneConfigs(
                configuration, fileZones: zones, useConfiguredZones: zone.isEmpty),
            defenses: DefenceSettings.defences(configuration),
            cookiesRequiredAbove: configuration.cookies.requireUnderLoad,
            defencesReport: DefenceSettings.health(configuration),
            services: try MemberSettings.services(configuration))
    }
}

/// `--zone ORIGIN=FILE`.
struct ZoneOption {
    var origin: DomainName
    var file: String

    init?(_ text: String) {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let name = String(text[..<equals])
        guard let origin = DomainName(name.hasSuffix(".") ? name : name + "."),
            !text[text.index(after: equals)...].isEmpty
        else { return nil }
        self.origin = origin
        self.file = String(text[text.index(after: equals)...])
    }
}
