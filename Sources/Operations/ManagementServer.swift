import DNSTransport
import DNSWire
import Dispatch
import Foundation
import Hummingbird
import Logging
import Members
import ServingTypes
import ZoneLifecycle

/// The management HTTP endpoints the BGP announcer and the operator use (README "Management HTTP"). Bound to the
/// site's management address only, never to the anycast address.
///
/// - `GET /livez`: 200 while the DNS serving loops turn, 503 otherwise.
/// - `GET /readyz`: 200 `ready`, or 503 with a one-line reason (``HealthMonitor/readiness(now:)``).
/// - `GET /health`: JSON: state, zones (serial, loaded at, source, errors), listeners, last self-probe.
/// - `GET /metrics`: Prometheus text exposition.
/// - `GET /zones`, `GET /zones/ZONE`: one `knotc zone-status`-style line per zone.
/// - `POST /zones/ZONE/refresh|retransfer|notify|reload`: what `anydns ctl zone-…` asks for.
/// - `GET /status`: `nsd-control status`-style lines; 503 when not ready.
/// - `POST /reload`: re-read the configuration and zones, as SIGHUP (`anydns ctl reload`).
public struct ManagementServer: Sendable {
    public let address: String
    public let port: Int
    let monitor: HealthMonitor
    let metrics: DNSMetrics
    let dns: DNSServer
    let zoneService: ZoneService?
    let controls: ManagementControls?
    let members: MemberTable?
    let logger: Logger

    public init(
        address: String, port: Int, monitor: HealthMonitor, metrics: DNSMetrics, dns: DNSServer,
        zoneService: ZoneService? = nil, members: MemberTable? = nil, controls: ManagementControls? = nil,
        logger: Logger
    ) {
        self.members = members
        self.zoneService = zoneService
        self.controls = controls
        self.address = address
        self.port = port
        self.monitor = monitor
        self.metrics = metrics
        self.dns = dns
        self.logger = logger
    }

    /// Runs until the task is cancelled; calls `onRunning` once the socket is bound.
    public func run(onRunning: @escaping @Sendable () -> Void) async throws {
        let router = Router()
        router.get("livez") { _, _ -> Response in
            dns.loopsResponsive(within: 1)
                ? text(.ok, "ok\n") : text(.serviceUnavailable, "serving loops stalled\n")
        }
        router.get("readyz") { _, _ -> Response in
            let readiness = monitor.evaluate(now: Date())
            return readiness.ready
                ? text(.ok, "ready\n") : text(.serviceUnavailable, "not ready: \(readiness.reason)\n")
        }
        router.get("health") { _, _ -> Response in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            var document = monitor.document(now: Date())
            if let members, !members.services.isEmpty {
                document.services = MemberReport.health(members.snapshot, now: members.now)
            }
            let body = (try? encoder.encode(document)) ?? Data("{}".utf8)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("status") { _, _ -> Response in
            let document = monitor.document(now: Date())
            var lines = [
                "version: \(document.version) (commit \(document.commit))",
                "state: \(document.state)",
                "ready: \(document.ready ? "yes" : "no (\(document.reason))")",
                "degraded: \(document.degraded ? "yes" : "no")",
                "zones: \(document.zones.count) (\(document.zones.filter { $0.serial != nil }.count) served)",
            ]
            if let reload = document.lastReload {
                lines.append(
                    "last reload: \(reload.at) \(reload.ok ? "ok" : "failed: \(reload.error ?? "")")")
            }
            if let probe = document.lastProbe {
                lines.append("last self-probe: \(probe.at) \(probe.ok ? "ok" : "failed: \(probe.detail)")")
            }
            return text(document.ready ? .ok : .serviceUnavailable, lines.joined(separator: "\n") + "\n")
        }
        router.post("reload") { _, _ -> Response in
            guard let controls else { return text(.notFound, "reload is not available\n") }
            let (ok, message) = await offLoop(controls.reload)
            return text(ok ? .ok : .internalServerError, message + "\n")
        }
        router.post("zones/:zone/reload") { _, context -> Response in
            let name = context.parameters.get("zone") ?? ""
            guard let controls, let origin = DomainName(name.hasSuffix(".") ? name : name + ".") else {
                return text(.notFound, "no such zone: \(name)\n")
            }
            let (ok, message) = await offLoop { controls.reloadZone(origin) }
            return text(ok ? .ok : .badRequest, message + "\n")
        }
        router.get("services/:service/readyz") { _, context -> Response in
            let name = context.parameters.get("service") ?? ""
            guard let members, let index = MemberReport.service(named: name, in: members.snapshot) else {
                return text(.notFound, "no such service: \(name)\n")
            }
            let (ready, reason) = MemberReport.readiness(service: index, in: members.snapshot)
            return ready ? text(.ok, "ready\n") : text(.serviceUnavailable, "not ready: \(reason)\n")
        }
        router.get("members") { _, _ -> Response in
            guard let members, !members.services.isEmpty else {
                return text(.notFound, "no services configured\n")
            }
            return text(.ok, MemberReport.text(members.snapshot, now: members.now))
        }
        router.get("members/:service") { _, context -> Response in
            let name = context.parameters.get("service") ?? ""
            guard let members, let index = MemberReport.service(named: name, in: members.snapshot) else {
                return text(.notFound, "no such service: \(name)\n")
            }
            return text(.ok, MemberReport.text(members.snapshot, only: index, now: members.now))
        }
        router.get("metrics") { _, _ -> Response in
            let statuses = monitor.zoneStatuses
            let now = UInt64(Date().timeIntervalSince1970)
            metrics.recordFreshness(statuses, now: now)
            metrics.recordSigning(statuses, now: now)
            metrics.recordDegraded(monitor.isDegraded)
            if let members { metrics.recordMembers(members.snapshot) }
            return text(.ok, metrics.render(), contentType: "text/plain; version=0.0.4")
        }
        router.get("zones") { _, _ -> Response in
            text(.ok, zoneStatusText(monitor.zoneStatuses, now: Date()))
        }
        router.get("zones/:zone") { _, context -> Response in
            let name = context.parameters.get("zone") ?? ""
            let wanted = name.hasSuffix(".") ? name.lowercased() : name.lowercased() + "."
            let found = monitor.zoneStatuses.filter { $0.origin == wanted }
            return found.isEmpty
                ? text(.notFound, "no such zone: \(name)\n") : text(.ok, zoneStatusText(found, now: Date()))
        }
        for action in ["refresh", "retransfer", "notify"] {
            router.post("zones/:zone/\(action)") { _, context -> Response in
                let name = context.parameters.get("zone") ?? ""
                guard let origin = DomainName(name.hasSuffix(".") ? name : name + "."), let zoneService else {
                    return text(.notFound, "no such zone: \(name)\n")
                }
                let accepted: Bool
                switch action {
                case "refresh": accepted = zoneService.refresh(origin.lowercased())
                case "retransfer": accepted = zoneService.retransfer(origin.lowercased())
                default: accepted = zoneService.sendNotify(origin.lowercased())
                }
                guard accepted else {
                    let why =
                        action == "notify"
                        ? "zone \(origin) is not served or has no notify targets"
                        : "zone \(origin) is not a secondary zone"
                    return text(.badRequest, "\(why)\n")
                }
                logger.notice("zone-\(action) requested", metadata: ["zone": "\(origin)"])
                return text(.ok, "OK\n")
            }
        }
        var appLogger = logger
        appLogger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(address, port: port), serverName: "anydns"),
            onServerRunning: { _ in onRunning() },
            logger: appLogger)
        try await app.runService(gracefulShutdownSignals: [])
    }
}

/// What the management HTTP can ask the server to do beyond the zone service: reloads.
/// Each returns whether it succeeded and the text to show the operator.
public struct ManagementControls: Sendable {
    public var reload: @Sendable () -> (Bool, String)
    public var reloadZone: @Sendable (DomainName) -> (Bool, String)

    public init(
        reload: @escaping @Sendable () -> (Bool, String),
        reloadZone: @escaping @Sendable (DomainName) -> (Bool, String)
    ) {
        self.reload = reload
        self.reloadZone = reloadZone
    }
}

/// Runs blocking `work` (a reload takes as long as its zones) on a Dispatch thread, not on the
/// HTTP server's event loop.
private func offLoop<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

/// `knotc zone-status`-style lines: `[zone] role: … | serial: … | refresh: … | expiration: …`.
func zoneStatusText(_ zones: [ZoneStatus], now: Date) -> String {
    let seconds = Int64(now.timeIntervalSince1970)
    func relative(_ time: UInt64?) -> String {
        guard let time else { return "-" }
        let delta = Int64(time) - seconds
        return delta >= 0 ? "+\(delta)s" : "\(delta)s"
    }
    return zones.map { zone in
        var fields = [
            "role: \(zone.role == "secondary" ? "slave" : "master")",
            "serial: \(zone.serial.map(String.init) ?? "none")",
        ]
        if zone.role == "secondary" {
            fields.append("refresh: \(relative(zone.nextRefresh))")
            fields.append("expiration: \(zone.expired ? "expired" : relative(zone.expiresAt))")
            fields.append("last: \(zone.lastRefreshResult ?? "-")")
        } else {
            fields.append("source: \(zone.source)")
        }
        if let signing = zone.signing {
            fields.append("dnssec: \(signing.denial?.description ?? "no chain")")
            fields.append("rrsig-expiration: \(relative(signing.earliestExpiration))")
        }
        if !zone.lastErrors.isEmpty { fields.append("errors: \(zone.lastErrors.count)") }
        return "[\(zone.origin)] " + fields.joined(separator: " | ")
    }.joined(separator: "\n") + "\n"
}

private func text(
    _ status: HTTPResponse.Status, _ body: String, contentType: String = "text/plain; charset=utf-8"
)
    -> Response
{
    Response(
        status: status, headers: [.contentType: contentType],
        body: .init(byteBuffer: ByteBuffer(string: body)))
}
