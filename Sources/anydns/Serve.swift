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
import SiteSettings
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

        let settings: SiteSettings.Settings
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
            configuredZones: SiteSettings.monitoredZones(settings),
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
                "listen": "\(settings.listen.map(\.description))",
                "zones": "\(reports.filter(\.isServed).count)",
                "udp-workers": "\(settings.udpWorkers)", "udp-workers-from": "\(settings.udpWorkersChosenBy)",
            ])

        let probe = SelfProbe(
            targets: settings.probeTargets, zones: settings.zones.map(\.origin), store: store,
            monitor: monitor,
            interval: settings.health.probeInterval, timeout: settings.health.probeTimeout,
            source: probeSource)
        let reloader = Reloader(
            serve: self, settings: settings, zoneService: zoneService, monitor: monitor,
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

    /// The command line as `SiteSettings` takes it.
    var options: SiteSettings.Options {
        SiteSettings.Options(
            config: config, listen: listen, zones: zone, zonesDir: zonesDir, identity: identity,
            management: management, httpPort: httpPort, lameDuck: lameDuck, workers: workers)
    }

    /// The settings from the configuration, the environment and this command line; a problem is
    /// reported as a usage error of `serve`.
    func resolveSettings() throws -> SiteSettings.Settings {
        do {
            return try SiteSettings.resolve(options)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
