import DNSAuth
import DNSGuard
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
    /// A TCP connection was closed as soon as accepted: the global cap, or the client's, was reached.
    func tcpConnectionRefused(client: IPAddress, perClient: Bool)
}

extension QueryObserver {
    public func followUp(_ followUp: FollowUp) {}
    public func transferFinished(_ producer: TransferProducer, completed: Bool) {}
    public func tcpConnectionRefused(client: IPAddress, perClient: Bool) {}
}

/// What every listener shares: the responder, the zones, limits, and where to report.
struct ServingContext: Sendable {
    let responder: Responder
    let store: ZoneStore
    let limits: TransportLimits
    let logger: Logger
    let observer: (any QueryObserver)?
    /// The UDP query rate, for `cookies.require-under-load`.
    let loadMeter: LoadMeter
}

/// Limits that protect the server from slow or hostile TCP clients (RFC 7766 §6.2).
public struct TransportLimits: Sendable, Equatable {
    /// Open TCP connections per listener; more are closed as soon as accepted.
    public var maxTCPConnections: Int
    /// Open TCP connections per client address and listener, so one client cannot take them all.
    public var maxTCPConnectionsPerClient: Int
    /// Seconds a TCP connection may stay idle (no complete query read, nothing to send).
    public var tcpIdleTimeout: Double
    /// Pending output per TCP connection before the server stops reading from it.
    public var maxPendingOutput: Int

    public init(
        maxTCPConnections: Int = 1000, maxTCPConnectionsPerClient: Int = 50, tcpIdleTimeout: Double = 10,
        maxPendingOutput: Int = 256 * 1024
    ) {
        self.maxTCPConnections = maxTCPConnections
        self.maxTCPConnectionsPerClient = maxTCPConnectionsPerClient
        self.tcpIdleTimeout = tcpIdleTimeout
        self.maxPendingOutput = maxPendingOutput
    }
}
