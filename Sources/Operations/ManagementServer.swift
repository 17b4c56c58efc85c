import DNSTransport
import Foundation
import Hummingbird
import Logging

/// The management HTTP endpoints the BGP announcer and the operator use (SPEC.md §4). Bound to the
/// site's management address only, never to the anycast address.
///
/// - `GET /livez`: 200 while the DNS serving loops turn, 503 otherwise.
/// - `GET /readyz`: 200 `ready`, or 503 with a one-line reason (``HealthMonitor/readiness(now:)``).
/// - `GET /health`: JSON: state, zones (serial, loaded at, source, errors), listeners, last self-probe.
/// - `GET /metrics`: Prometheus text exposition.
public struct ManagementServer: Sendable {
    public let address: String
    public let port: Int
    let monitor: HealthMonitor
    let metrics: DNSMetrics
    let dns: DNSServer
    let logger: Logger

    public init(
        address: String, port: Int, monitor: HealthMonitor, metrics: DNSMetrics, dns: DNSServer,
        logger: Logger
    ) {
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
            text(.ok, metrics.render(), contentType: "text/plain; version=0.0.4")
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

private func text(
    _ status: HTTPResponse.Status, _ body: String, contentType: String = "text/plain; charset=utf-8"
)
    -> Response
{
    Response(
        status: status, headers: [.contentType: contentType],
        body: .init(byteBuffer: ByteBuffer(string: body)))
}
