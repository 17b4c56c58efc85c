import DNSTransport
import DNSWire
import Foundation
import Hummingbird
import Logging
import ZoneService

/// The management HTTP endpoints the BGP announcer and the operator use (README "Management HTTP"). Bound to the
/// site's management address only, never to the anycast address.
///
/// - `GET /livez`: 200 while the DNS serving loops turn, 503 otherwise.
/// - `GET /readyz`: 200 `ready`, or 503 with a one-line reason (``HealthMonitor/readiness(now:)``).
/// - `GET /health`: JSON: state, zones (serial, loaded at, source, errors), listeners, last self-probe.
/// - `GET /metrics`: Prometheus text exposition.
/// - `GET /zones`, `GET /zones/ZONE`: one `knotc zone-status`-style line per zone.
/// - `POST /zones/ZONE/refresh|retransfer|notify`: what `anydns ctl zone-…` asks for.
public struct ManagementServer: Sendable {
    public let address: String
    public let port: Int
    let monitor: HealthMonitor
    let metrics: DNSMetrics
    let dns: DNSServer
    let zoneService: ZoneService?
    let logger: Logger

    public init(
        address: String, port: Int, monitor: HealthMonitor, metrics: DNSMetrics, dns: DNSServer,
        zoneService: ZoneService? = nil, logger: Logger
    ) {
        self.zoneService = zoneService
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
            let (ready, reason) = monitor.readiness(now: Date())
            return ready ? text(.ok, "ready\n") : text(.serviceUnavailable, "not ready: \(reason)\n")
        }
        router.get("health") { _, _ -> Response in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let body = (try? encoder.encode(monitor.document(now: Date()))) ?? Data("{}".utf8)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("metrics") { _, _ -> Response in
            let statuses = monitor.zoneStatuses
            let now = UInt64(Date().timeIntervalSince1970)
            metrics.recordFreshness(statuses, now: now)
            metrics.recordSigning(statuses, now: now)
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
