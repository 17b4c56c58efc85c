import AnydnsConfig
import DNSAuth
import DNSResponder
import DNSTransport
import DNSWire
import Foundation
import Members
import Operations
import ZoneLifecycle

/// What a running site is told to do, resolved from the configuration file, then the
/// environment, then the command line (README "Commands", "Configuration"): at start and again
/// on every reload. Each section's runtime form is made here, next to the others, from the
/// configuration's schema: the executable only wires what this returns.
public enum SiteSettings {
    /// What `anydns serve` was given on its command line.
    public struct Options: Sendable {
        public var config: String?
        public var listen: [String]
        public var zones: [String]
        public var zonesDir: String
        public var identity: String?
        public var management: String?
        public var httpPort: Int?
        public var lameDuck: Double?
        public var workers: Int?

        public init(
            config: String?, listen: [String], zones: [String], zonesDir: String, identity: String?,
            management: String?, httpPort: Int?, lameDuck: Double?, workers: Int?
        ) {
            self.config = config
            self.listen = listen
            self.zones = zones
            self.zonesDir = zonesDir
            self.identity = identity
            self.management = management
            self.httpPort = httpPort
            self.lameDuck = lameDuck
            self.workers = workers
        }
    }

    /// A setting that cannot be used, in words for the operator.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Everything `serve` needs, from the configuration file, then the environment, then flags.
    public struct Settings: Sendable {
        /// The file as read (empty without `--config`): what a reload compares against.
        public var configuration: Configuration
        public var listen: [ListenAddress]
        public var probeTargets: [ListenAddress]
        public var managementHTTP: ListenAddress
        public var zones: [ZoneSource]
        public var identity: ServerIdentity
        public var limits: TransportLimits
        public var udpWorkers: Int
        /// Where ``udpWorkers`` came from, for the log: a flag, a key, or the usable CPUs.
        public var udpWorkersChosenBy: String
        public var health: Configuration.Health
        public var lameDuck: Double
        public var maintenanceFile: String?
        /// TSIG keys and who may transfer or NOTIFY each zone.
        public var access: AccessPolicy
        /// Journal limits and storage: what the zone lifecycle keeps until a restart.
        public var transfers: ZoneServiceSettings
        /// Every zone the lifecycle owns: file zones and secondary zones, with NOTIFY targets.
        public var zoneConfigs: [ZoneConfig]
        /// Cookies, rate limiting, the TCP keepalive announced.
        public var defenses: Defenses
        /// UDP queries per second above which a valid server cookie is required; 0 never.
        public var cookiesRequiredAbove: Int
        public var defencesReport: HealthDocument.Defences
        /// Anycast services of the member table.
        public var services: [MemberService]
    }

    /// The zones the health monitor reports: the file zones as configured, then the secondary
    /// zones with where each is transferred from.
    public static func monitoredZones(_ settings: Settings) -> [ZoneSource] {
        settings.zones
            + settings.zoneConfigs.filter(\.isSecondary).sorted {
                $0.origin.description < $1.origin.description
            }.map {
                ZoneSource(origin: $0.origin, file: $0.sourceDescription)
            }
    }

    /// Configuration keys a flag or the environment overrides: their changes on reload are moot.
    public static func overriddenKeys(_ options: Options) -> [String] {
        let environment = ProcessInfo.processInfo.environment
        var keys: [String] = []
        if !options.listen.isEmpty { keys += ["listen", "dns.anycast", "dns.port"] }
        if options.management != nil || environment["ANYDNS_MANAGEMENT"] != nil {
            keys.append("management.address")
        }
        if options.httpPort != nil { keys.append("management.http-port") }
        if options.workers != nil { keys.append("dns.workers") }
        if !options.zones.isEmpty { keys.append("zones[") }
        return keys
    }

    /// Every address DNS is served on, once each: the anycast addresses and `listen` entries (or
    /// the `--listen` options instead), and the management address, at `dns.port` (with
    /// `--listen`, at the port of the first); the defaults when there is none (README "Commands").
    public static func listenAddresses(_ configuration: Configuration, listen: [String], management: String?)
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

    /// Resolves everything from `options`, the environment and the configuration file it names.
    public static func resolve(_ options: Options) throws(Problem) -> Settings {
        let (config, listen, zone, zonesDir) = (
            options.config, options.listen, options.zones, options.zonesDir
        )
        let (identity, management) = (options.identity, options.management)
        let (lameDuck, workers) = (options.lameDuck, options.workers)
        var configuration = Configuration(listen: [], zones: [])
        if let config {
            do {
                configuration = try Configuration.load(path: config)
            } catch {
                throw Problem("\(error)")
            }
        }
        let environment = ProcessInfo.processInfo.environment
        let managementAddress =
            management ?? environment["ANYDNS_MANAGEMENT"] ?? configuration.management.address
        if let managementAddress, !isNumericAddress(managementAddress) {
            throw Problem(
                "ANYDNS_MANAGEMENT \(managementAddress): expected a numeric IPv4 or IPv6 address")
        }
        let port = UInt16(configuration.dns.port)
        let anycast = configuration.dns.anycast.map { ListenAddress(host: $0, port: port) }
        let unique = listenAddresses(configuration, listen: listen, management: managementAddress)

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
                throw Problem("cannot read the zones directory \(zonesDir) (--zones-dir): \(problem)")
            }
            do {
                zones = try ZoneFileLoader.sources(inDirectory: zonesDir)
            } catch {
                throw Problem(
                    "cannot read the zones directory \(zonesDir): \(error.localizedDescription)")
            }
        }
        let name =
            identity ?? environment["ANYDNS_IDENTITY"] ?? configuration.identity.name
            ?? ProcessInfo.processInfo.hostName
        let httpPort = UInt16(options.httpPort ?? configuration.management.httpPort)
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
public struct ZoneOption {
    public var origin: DomainName
    public var file: String

    public init?(_ text: String) {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let name = String(text[..<equals])
        guard let origin = DomainName(name.hasSuffix(".") ? name : name + "."),
            !text[text.index(after: equals)...].isEmpty
        else { return nil }
        self.origin = origin
        self.file = String(text[text.index(after: equals)...])
    }
}
