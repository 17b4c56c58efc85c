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

/// `anydns serve`: answer DNS on the anycast and management addresses, report health to the
/// announcer, drain on SIGTERM, reload on SIGHUP.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve zones over UDP and TCP, with health endpoints for the anycast announcer.",
        discussion: """
            Without --config, serves every NAME.zone file in --zones-dir (default: Zones) on \
            127.0.0.1:5300 and [::1]:5300, management HTTP on 127.0.0.1:8053. SIGHUP (or `anydns ctl \
            reload`) re-reads the whole configuration and every zone: what can change at run time \
            changes, listener addresses and the HTTP port are logged as "needs a restart" by key \
            name, a configuration that cannot be read changes nothing (counted as a failed reload, \
            shown in /health), and a zone that fails keeps its previous version. SIGTERM drains \
            (/readyz 503 at once, DNS answers for the lame-duck period, then exit 0); SIGINT stops at once.
            """)

    @Option(name: .long, help: "YAML configuration file.")
    var config: String?

    @Option(
        name: .long, help: "Listen on ADDR:PORT or [ADDR6]:PORT (repeatable; replaces configured listeners).")
    var listen: [String] = []

    @Option(name: .long, help: "Serve ORIGIN=FILE (repeatable; replaces configured zones).")
    var zone: [String] = []

    @Option(name: .long, help: "Directory of NAME.zone files, used when no zones are configured.")
    var zonesDir: String = "Zones"

    @Option(
        name: .long,
        help: "Site identity for id.server, hostname.bind and NSID (env ANYDNS_IDENTITY; default: host name)."
    )
    var identity: String?

    @Option(
        name: .long,
        help:
            "This site's management address: DNS at the DNS port, HTTP at management.http-port (env ANYDNS_MANAGEMENT)."
    )
    var management: String?

    @Option(name: .long, help: "Management HTTP port (default 8053).")
    var httpPort: Int?

    @Option(
        name: .long,
        help: "Seconds DNS keeps answering after SIGTERM (default: lame-duck from the configuration, 5).")
    var lameDuck: Double?

    @Option(
        name: .long,
        help: "UDP workers (SO_REUSEPORT sockets) per address (default: dns.workers, else one per CPU core).")
    var workers: Int?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(
        name: .long,
        help:
            "Log format: auto (journal when standard error is the systemd journal, else text), text, journal, json."
    )
    var logFormat: String = "auto"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError(
                "--log-level \(logLevel): expected trace, debug, info, notice, warning, error or critical")
        }
        guard LogFormat(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format \(logFormat): expected auto, text, journal or json")
        }
        for item in listen where ListenAddress(item) == nil {
            throw ValidationError(
                "--listen \(item): expected ADDR:PORT or [ADDR6]:PORT with a numeric address")
        }
        for item in zone where ZoneOption(item) == nil {
            throw ValidationError(
                "--zone \(item): expected ORIGIN=FILE, e.g. example.com.=Zones/example.com.zone")
        }
        if let workers, !(1...256).contains(workers) {
            throw ValidationError("--workers \(workers): expected 1 to 256")
        }
        if let management, !isNumericAddress(management) {
            throw ValidationError("--management \(management): expected a numeric IPv4 or IPv6 address")
        }
    }

    func run() async throws {
        let format = LogFormat(rawValue: logFormat) ?? .auto
        LoggingSystem.bootstrap { label in
            var handler = LogOutput(label: label, format: format)
            handler.logLevel = .trace
            return handler
        }
        var configuredLogger = Logger(label: "anydns")
        configuredLogger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let logger = configuredLogger

        let settings: Settings
        do {
            settings = try resolveSettings()
        } catch {
            // With `serve`'s usage, not the top-level one.
            printError("Error: \(Anydns.message(for: error))")
            printError("Usage: " + Anydns.usageString(for: Serve.self))
            printError("  See 'anydns serve --help' for more information.")
            throw ExitCode.validationFailure
        }
        let metrics = DNSMetrics()
        let store = ZoneStore(.empty)
        let monitor = HealthMonitor(
            configuredZones: Self.monitoredZones(settings),
            listeners: settings.listen.map(\.description),
            maintenanceFile: settings.maintenanceFile, probeMaxAge: settings.health.probeMaxAge,
            defences: settings.defencesReport, servedZones: { store.snapshot }, logger: logger,
            onTransition: { metrics.record($0) })
        monitor.transition(to: .loading)
        let zoneService = ZoneService(
            settings: settings.transfers, store: store, logger: logger,
            observer: ZoneServiceReporter(monitor: monitor, metrics: metrics))
        // The same path as a reload: each file zone gets the journal stored for its serial, and
        // each secondary zone its stored copy when one has not expired.
        let reports = zoneService.apply(settings.zoneConfigs)
        monitor.record(reports, at: Date())
        metrics.recordLoad(reports, isReload: false)
        zoneService.start()

        let probeSource = SelfProbeSource()
        let members = MemberTable(services: settings.services)
        let memberProber = MemberProber(table: members, logger: logger)
        let origins = settings.zoneConfigs.map(\.origin)
        for service in settings.services where !origins.contains(where: { service.name.isSubdomain(of: $0) })
        {
            logger.warning("service \(service.name) is in no zone served here: its queries are refused")
        }
        let server: DNSServer
        do {
            server = try DNSServer(
                addresses: settings.listen,
                responder: Responder(
                    identity: settings.identity, access: settings.access, defenses: settings.defenses,
                    members: members),
                store: store, limits: settings.limits, udpWorkers: settings.udpWorkers, logger: logger,
                observer: ServingObserver(
                    metrics: metrics, zoneService: zoneService, memberProber: memberProber, logger: logger),
                loadMeter: LoadMeter(threshold: settings.cookiesRequiredAbove), selfProbe: probeSource)
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        server.start()
        logger.info(
            "serving DNS",
            metadata: [
                "listen": "\(settings.listen.map(\.description))", "zones": "\(store.snapshot.zones.count)",
                "udp-workers": "\(settings.udpWorkers)", "udp-workers-from": "\(settings.udpWorkersChosenBy)",
            ])

        let probe = SelfProbe(
            targets: settings.probeTargets, zones: settings.zones.map(\.origin), store: store,
            monitor: monitor,
            interval: settings.health.probeInterval, timeout: settings.health.probeTimeout,
            source: probeSource)
        let reloader = Reloader(
            serve: self, settings: settings, store: store, zoneService: zoneService, monitor: monitor,
            metrics: metrics, server: server, probe: probe, logger: logger)
        let http = ManagementServer(
            address: settings.managementHTTP.host, port: Int(settings.managementHTTP.port), monitor: monitor,
            metrics: metrics, dns: server, zoneService: zoneService, members: members,
            controls: ManagementControls(
                reload: {
                    let outcome = runAtLowPriority { reloader.reloadConfiguration() }
                    return (outcome.ok, outcome.message)
                },
                reloadZone: { origin in
                    let outcome = runAtLowPriority { reloader.reloadZone(origin) }
                    return (outcome.ok, outcome.message)
                }),
            logger: logger)
        let httpTask = Task {
            do {
                try await http.run { logger.info("management HTTP on \(settings.managementHTTP)") }
            } catch {
                // Say what to change: a second server on one host usually needs another port.
                let hint =
                    "\(error)".contains("in use")
                    ? " (address already in use: choose another with --http-port or management.http-port, or another address with --management or management.address)"
                    : ""
                logger.critical("management HTTP on \(settings.managementHTTP): \(error)\(hint)")
                terminateProcess(1)
            }
        }

        let signals = SignalHandlers(logger: logger)
        signals.on(SIGHUP) {
            logger.notice("SIGHUP: reloading the configuration and zones")
            // Not on the signal queue: a SIGTERM during a long reload must drain at once.
            DispatchQueue.global().async { _ = runAtLowPriority { reloader.reloadConfiguration() } }
        }
        signals.on(SIGINT) {
            logger.notice("SIGINT: stopping now")
            monitor.transition(to: .stopped)
            server.stop()
            terminateProcess(0)
        }
        signals.on(SIGTERM) {
            // The drain (README "Signals"): /readyz fails at once so the announcer withdraws the
            // route, DNS keeps answering through the lame-duck period, then the process exits 0.
            switch monitor.lifecycle {
            case .draining, .stopped: return  // already on the way out
            default: break
            }
            let lameDuck = reloader.settings.lameDuck
            monitor.transition(to: .draining(since: Date()))
            logger.notice("SIGTERM: draining for \(lameDuck) s")
            DispatchQueue.global().asyncAfter(deadline: .now() + lameDuck) {
                monitor.transition(to: .stopped)
                server.stop()
                probe.stop()
                memberProber.stop()
                logger.notice("stopped")
                terminateProcess(0)
            }
        }
        probe.start()
        memberProber.start()
        monitor.transition(to: .ready)
        // What changes with time alone (a self-probe growing old, a maintenance file) is
        // re-evaluated as often as the self-probe runs, so its change is published promptly.
        monitor.startWatching(every: settings.health.probeInterval)
        await httpTask.value
        // Only reached if the management HTTP stops by itself; the drain ends the process with
        // terminateProcess, never by returning here, so nothing is torn down under a running
        // timer or queue.
        withExtendedLifetime((signals, probe, memberProber, reloader)) {}
    }

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

/// Signal handling on a Dispatch queue (signals are ignored for the default action first).
final class SignalHandlers: Sendable {
    private let queue = DispatchQueue(label: "anydns.signals")
    private let sources = SourceList()
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func on(_ number: Int32, _ handler: @escaping @Sendable () -> Void) {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler(handler: handler)
        source.resume()
        sources.append(source)
    }
}

private final class SourceList: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()

    func append(_ source: DispatchSourceSignal) {
        lock.lock()
        defer { lock.unlock() }
        sources.append(source)
    }
}

/// Runs `work` on a thread of its own at nice 10 and waits for it. A reload is seconds of CPU
/// for a big zone; where it shares a core with DNS workers, the scheduler then lets a worker
/// that has queries preempt it at once instead of after its time slice. (A pooled Dispatch
/// thread cannot be used: an unprivileged process cannot lower its nice value again.)
func runAtLowPriority<Result: Sendable>(_ work: @escaping @Sendable () -> Result) -> Result {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Result?>(nil)
    let thread = Thread {
        // On Linux, PRIO_PROCESS with id 0 sets the nice value of the calling thread only.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        let value = work()
        result.withLock { $0 = value }
        done.signal()
    }
    thread.name = "anydns reload"
    thread.start()
    done.wait()
    return result.withLock { $0! }
}

/// Ends the process with `code` once serving has stopped. `exit(3)` would run global destructors
/// while NIO and Dispatch threads are still running Swift code, which can trap during teardown,
/// so the standard streams are flushed and `_exit(2)` is used instead.
func terminateProcess(_ code: Int32) -> Never {
    fflush(nil)  // every output stream
    _exit(code)
}
