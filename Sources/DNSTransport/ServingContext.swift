import DNSResponder
import DNSXfr
import Logging

/// Told about every query answered (or dropped), for metrics. Called on the serving queues:
/// implementations must be cheap and thread-safe.
public protocol QueryObserver: Sendable {
    func answered(transport: Transport, response: Response?)
    /// A response asked for work beyond its bytes: a NOTIFY to act on, a refusal to log, or
    /// (over TCP) a transfer, which the listener streams itself and reports when it ends.
    func followUp(_ followUp: FollowUp)
    /// An outgoing transfer ended; `completed` is false when the client went away first.
    func transferFinished(_ producer: TransferProducer, completed: Bool)
}

extension QueryObserver {
    public func followUp(_ followUp: FollowUp) {}
    public func transferFinished(_ producer: TransferProducer, completed: Bool) {}
}

/// What every listener shares: the responder, the zones, limits, and where to report.
struct ServingContext: Sendable {
    let responder: Responder
    let store: ZoneStore
    let limits: TransportLimits
    let logger: Logger
    let observer: (any QueryObserver)?
}

/// Limits that protect the server from slow or hostile TCP clients (RFC 7766 §6.2).
public struct TransportLimits: Sendable, Equatable {
    /// Open TCP connections per listener; more are closed as soon as accepted.
    public var maxTCPConnections: Int
    /// Seconds a TCP connection may stay idle (no complete query read, nothing to send).
    public var tcpIdleTimeout: Double
    /// Pending output per TCP connection before the server stops reading from it.
    public var maxPendingOutput: Int

    public init(maxTCPConnections: Int = 1000, tcpIdleTimeout: Double = 10, maxPendingOutput: Int = 1 << 20) {
        self.maxTCPConnections = maxTCPConnections
        self.tcpIdleTimeout = tcpIdleTimeout
        self.maxPendingOutput = maxPendingOutput
    }
}
