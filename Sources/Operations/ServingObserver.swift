import DNSAuth
import DNSResponder
import DNSTransport
import DNSWire
import DNSXfr
import Foundation
import Logging
import Members
import ServingTypes
import ZoneLifecycle

/// What the DNS listeners report beyond the query counters: NOTIFYs passed to the zone service,
/// refused transfers and NOTIFYs logged (once a minute per client and zone, never per packet),
/// outgoing transfers counted and logged.
public final class ServingObserver: QueryObserver, Sendable {
    let metrics: DNSMetrics
    let logger: Logger
    let zoneService: ZoneService?
    let memberProber: MemberProber?
    private let refusalLog = RefusalLog(interval: 60)
    private let rateLimitLog = RateLimitLog()

    public init(
        metrics: DNSMetrics, zoneService: ZoneService?, memberProber: MemberProber? = nil, logger: Logger
    ) {
        self.metrics = metrics
        self.zoneService = zoneService
        self.memberProber = memberProber
        self.logger = logger
    }

    public func answered(transport: Transport, response: Response?) {
        metrics.answered(transport: transport, response: response)
    }

    public func selfProbeAnswered() { metrics.selfProbeAnswered() }

    public func followUp(_ followUp: FollowUp) {
        switch followUp {
        case .zone(let command): zoneService?.handle(command)
        case .event(let event): log(event)
        case .transfer: break  // the transport streams it
        }
    }

    /// Logs what the responder did, at most once a minute per client and kind.
    private func log(_ event: ServingEvent) {
        switch event {
        case .refused(let origin, let client, let request):
            if refusalLog.shouldLog("\(client) \(origin)", now: UInt64(time(nil))) {
                logger.warning(
                    "\(request) refused by the zone's access list",
                    metadata: ["zone": "\(origin)", "client": "\(client)"])
            }
        case .rateLimited(let prefix, let responseClass, let action):
            // A flood must not become a flood of log lines (see RateLimitLog).
            if rateLimitLog.shouldLog("\(prefix) \(responseClass)", now: UInt64(time(nil))) {
                logger.notice(
                    action == .logged
                        ? "client over the response rate (log-only: answered)"
                        : "client over the response rate: limited",
                    metadata: ["prefix": "\(prefix)", "class": "\(responseClass)"])
            }
        case .memberUpdate(let client, let key, let changes, let refusal):
            if let refusal {
                if refusalLog.shouldLog("\(client) update", now: UInt64(time(nil))) {
                    logger.warning(
                        "member update refused: \(refusal)",
                        metadata: ["client": "\(client)", "key": "\(key?.description ?? "none")"])
                }
            } else {
                logger.info(
                    "member update",
                    metadata: [
                        "client": "\(client)", "key": "\(key?.description ?? "none")",
                        "changes": "\(changes.map(MemberProber.describe).joined(separator: "; "))",
                    ])
                memberProber?.probeNew()
            }
        }
    }

    public func tcpConnectionRefused(client: IPAddress, perClient: Bool) {
        metrics.tcpConnectionRefused(perClient: perClient)
        if perClient, refusalLog.shouldLog("\(client) tcp", now: UInt64(time(nil))) {
            logger.notice(
                "TCP connection refused: the client holds its share", metadata: ["client": "\(client)"])
        }
    }

    public func transferFinished(_ producer: TransferProducer, completed: Bool) {
        let type = producer.request.clientSerial == nil ? "AXFR" : "IXFR"
        metrics.recordTransfer(direction: "out", type: type, succeeded: completed)
        logger.info(
            completed ? "transfer sent" : "transfer aborted by the client",
            metadata: [
                "zone": "\(producer.request.zone.origin)", "serial": "\(producer.request.zone.serial)",
                "client": "\(producer.request.client)", "style": "\(producer.style.rawValue)",
                "messages": "\(producer.messageCount)", "records": "\(producer.recordCount)",
            ])
    }
}
