import DNSAuth
import DNSGuard
import DNSResponder
import DNSXfr
import Logging
import ServingTypes
import Synchronization

/// Told about every query answered (or dropped), for metrics. Called on the serving queues:
/// implementations must be cheap and thread-safe.
public protocol QueryObserver: Sendable {
    func answered(transport: Transport, response: Response?)
    /// A query of the server's own self-probe was answered: not a client's (README "Management HTTP", `GET /metrics`).
    func selfProbeAnswered()
    /// A response asked for work beyond its bytes: a NOTIFY to act on, a refusal to log, or
    /// (over TCP) a transfer, which the listener streams itself and reports when it ends.
    func followUp(_ followUp: FollowUp)
    /// An outgoing transfer ended; `completed` is false when the client went away first.
    func transferFinished(_ producer: TransferProducer, completed: Bool)
    /// A TCP connection was closed as soon as accepted: the global cap, or the client's, was reached.
    func tcpConnectionRefused(client: IPAddress, perClient: Bool)
}

extension QueryObserver {
    public func selfProbeAnswered() {}
    public func followUp(_ followUp: FollowUp) {}
    public func transferFinished(_ producer: TransferProducer, completed: Bool) {}
    public func tcpConnectionRefused(client: IPAddress, perClient: Bool) {}
}

/// What every listener shares: the settings a reload may change, the zones, where to report,
/// and how to tell the server's own self-probe from a client.
struct ServingContext: Sendable {
    let settings: ServingSettingsStore
    let store: any ZoneSnapshots
    let logger: Logger
    let observer: (any QueryObserver)?
    let selfProbe: SelfProbeSource
}

/// What a configuration reload may change in the transports without reopening a socket
/// (README "Signals"): the responder (identity, TSIG keys, ACLs, defences), the TCP limits and
/// the UDP load meter of `cookies.require-under-load`. Immutable, and a class, so that taking the
/// current one per batch costs one reference, not a copy of every field.
public final class ServingSettings: Sendable {
    public let responder: Responder
    public let limits: TransportLimits
    public let loadMeter: LoadMeter

    public init(
        responder: Responder, limits: TransportLimits = .init(),
        loadMeter: LoadMeter = LoadMeter(threshold: 0)
    ) {
        self.responder = responder
        self.limits = limits
        self.loadMeter = loadMeter
    }
}

/// The current ``ServingSettings``. A UDP worker reads it once per batch of datagrams and a TCP
/// connection once per read, as with the zones: a reload is seen by the next batch.
final class ServingSettingsStore: Sendable {
    private let held: Mutex<ServingSettings>

    init(_ settings: ServingSettings) { held = Mutex(settings) }

    var current: ServingSettings { held.withLock { $0 } }

    func replace(with settings: ServingSettings) { held.withLock { $0 = settings } }
}

/// The UDP source ports of the server's own self-probe (README "Management HTTP"), so that its
/// queries are counted apart from clients'. Zero means none.
public final class SelfProbeSource: Sendable {
    private let ports = Atomic<UInt32>(0)

    public init() {}

    /// The probe's IPv4 and IPv6 socket ports.
    public func register(ipv4Port: UInt16, ipv6Port: UInt16) {
        ports.store(UInt32(ipv4Port) << 16 | UInt32(ipv6Port), ordering: .relaxed)
    }

    /// Whether a datagram from `peer` (a sockaddr_in or sockaddr_in6) came from the probe: its
    /// port is the probe's and its address is one of ours (the probe sends from this host).
    @inline(__always)
    func isProbe(_ peer: UnsafeRawPointer, client: IPAddress, local: IPAddress?) -> Bool {
        let registered = ports.load(ordering: .relaxed)
        guard registered != 0 else { return false }
        // sin_port and sin6_port are both at offset 2, in network byte order.
        let port = UInt16(bigEndian: peer.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        let expected: UInt16
        switch client {
        case .v4: expected = UInt16(registered >> 16)
        case .v6: expected = UInt16(registered & 0xFFFF)
        }
        return port == expected && (client == local || client.isLoopback)
    }
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
