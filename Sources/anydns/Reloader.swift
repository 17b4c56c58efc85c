import AnydnsConfig
import DNSGuard
import DNSResponder
import DNSTransport
import DNSWire
import DNSZone
import Foundation
import Logging
import Operations
import ServingTypes
import SiteSettings
import Synchronization
import ZoneLifecycle

/// Configuration and zone reloads of a running server: SIGHUP, `anydns ctl reload` and
/// `anydns ctl zone-reload ZONE` (README "Signals", "Control").
///
/// A reload re-reads the whole configuration. What can change at run time changes: identity,
/// NSID, version, zones, limits, TSIG keys and ACLs, rate limiting, cookies, health timings,
/// lame duck, maintenance file. What needs a restart (sockets, the zone service's secondaries)
/// is logged by key name and keeps its running value. A configuration that cannot be read
/// changes nothing: the reload counts as failed and `/health` shows the error.
final class Reloader: Sendable {
    struct Outcome: Sendable {
        var ok: Bool
        var message: String
    }

    private let serve: Serve
    private let running: Mutex<SiteSettings.Settings>
    /// The configuration the server started with: the keys that need a restart still have
    /// these values, so each reload compares against it (a change stays pending until restart).
    private let startConfiguration: Configuration
    /// One reload at a time, whoever asked for it.
    private let serial = Mutex(())
    private let zoneService: ZoneService
    private let monitor: HealthMonitor
    private let metrics: DNSMetrics
    private let server: DNSServer
    private let probe: SelfProbe
    private let logger: Logger

    init(
        serve: Serve, settings: SiteSettings.Settings, zoneService: ZoneService,
        monitor: HealthMonitor, metrics: DNSMetrics, server: DNSServer, probe: SelfProbe, logger: Logger
    ) {
        self.serve = serve
        running = Mutex(settings)
        startConfiguration = settings.configuration
        self.zoneService = zoneService
        self.monitor = monitor
        self.metrics = metrics
        self.server = server
        self.probe = probe
        self.logger = logger
    }

    /// The settings in force now (the drain reads its lame-duck period here).
    var settings: SiteSettings.Settings { running.withLock { $0 } }

    /// Re-reads the configuration and every zone; see the type's documentation.
    func reloadConfiguration() -> Outcome {
        serial.withLock { _ in
            let old = settings
            let new: SiteSettings.Settings
            do {
                new = try serve.resolveSettings()
            } catch {
                let message = Anydns.message(for: error)
                logger.error("reload failed: \(message); keeping the running configuration")
                metrics.recordReloadFailure()
                monitor.recordReloadFailure(message, at: Date())
                return Outcome(ok: false, message: "reload failed: \(message)")
            }
            let restart = startConfiguration.keysNeedingRestart(in: new.configuration).filter {
                !SiteSettings.overriddenKeys(serve.options).contains(where: $0.hasPrefix)
            }
            for key in restart {
                logger.warning("reload: \(key) changed: needs a restart (the running value stays)")
            }
            var applied = new
            // What needs a restart keeps its running value.
            applied.listen = old.listen
            applied.probeTargets = old.probeTargets
            applied.managementHTTP = old.managementHTTP
            applied.udpWorkers = old.udpWorkers
            applied.udpWorkersChosenBy = old.udpWorkersChosenBy
            applied.transfers = old.transfers
            applied.services = old.services
            applied.defenses = Self.keepingState(of: old, in: new)
            running.withLock { $0 = applied }

            let serving = server.servingSettings
            server.apply(
                ServingSettings(
                    responder: Responder(
                        identity: applied.identity, access: applied.access, defenses: applied.defenses,
                        members: serving.responder.members),
                    limits: applied.limits,
                    loadMeter: applied.cookiesRequiredAbove == old.cookiesRequiredAbove
                        ? serving.loadMeter : LoadMeter(threshold: applied.cookiesRequiredAbove)))
            monitor.reconfigure(
                zones: SiteSettings.monitoredZones(applied),
                settings: .init(
                    maintenanceFile: applied.maintenanceFile, probeMaxAge: applied.health.probeMaxAge,
                    defences: applied.defencesReport),
                at: Date())
            probe.reconfigure(
                zones: applied.zones.map(\.origin), interval: applied.health.probeInterval,
                timeout: applied.health.probeTimeout)

            // The registry applies the zone list as it is now: zones added, removed or changed.
            let reports = zoneService.apply(applied.zoneConfigs)
            monitor.record(reports, at: Date())
            metrics.recordLoad(reports, isReload: true)
            // File zones served (read now or kept), as before the registry: secondary zones that a
            // transfer happens to bring in meanwhile must not change what the reload reports.
            let served = reports.filter(\.isServed).count
            let failed = reports.filter { !$0.succeeded }.map { $0.origin.description }
            logger.notice(
                "reloaded",
                metadata: [
                    "zones": "\(served)", "failed": "\(failed.count)",
                    "needs-restart": "\(restart.count)",
                ])
            var lines = ["reloaded: \(served) zone(s)"]
            if !failed.isEmpty {
                lines.append("failed zone(s), previous version kept: \(failed.joined(separator: ", "))")
            }
            lines += restart.map { "\($0) changed: needs a restart" }
            return Outcome(ok: failed.isEmpty, message: lines.joined(separator: "\n"))
        }
    }

    /// Re-reads one file zone (`knotc zone-reload`); the configuration is not re-read.
    func reloadZone(_ origin: DomainName) -> Outcome {
        serial.withLock { _ in
            let report: ZoneLoadReport
            switch zoneService.reloadFile(origin) {
            case .success(let loaded): report = loaded
            case .failure(let problem): return Outcome(ok: false, message: "\(problem)")
            }
            monitor.record([report], at: Date())
            metrics.recordLoad([report], isReload: true)
            switch report.outcome {
            case .loaded(let zone, _):
                logger.notice(
                    "zone reloaded", metadata: ["zone": "\(zone.origin)", "serial": "\(zone.serial)"])
                return Outcome(ok: true, message: "zone \(zone.origin) reloaded, serial \(zone.serial)")
            case .failed(let errors, _):
                logger.error("zone-reload failed", metadata: ["zone": "\(origin)"])
                return Outcome(
                    ok: false,
                    message: (["zone \(report.origin) failed to load, previous version kept:"] + errors)
                        .joined(separator: "\n"))
            }
        }
    }

    /// The new defences, keeping what holds state when its settings did not change: the rate
    /// limiting table (its counts) and a random cookie secret (clients' server cookies stay valid).
    private static func keepingState(of old: SiteSettings.Settings, in new: SiteSettings.Settings) -> Defenses
    {
        var defenses = new.defenses
        if old.configuration.rateLimit == new.configuration.rateLimit {
            defenses.rateLimiter = old.defenses.rateLimiter
        }
        if old.configuration.cookies == new.configuration.cookies {
            defenses.cookies = old.defenses.cookies
        }
        return defenses
    }
}
