import DNSAuth

/// How the query arrived; it decides the size limit (RFC 1035 §4.2, RFC 7766).
public enum Transport: Sendable {
    case udp
    case tcp
}

/// What the responder knows about one query besides its bytes: a value, never a socket, so the
/// responder stays a function of (bytes, context, zones). Every stage that needs the client
/// (access lists, TSIG time checks, cookies, rate limiting) reads it from here.
public struct QueryContext: Sendable {
    public var transport: Transport
    /// The client's address (the source of the datagram or the TCP peer).
    public var client: IPAddress
    /// The address the query was sent to (the listener's bound address), when known.
    public var local: IPAddress?
    /// Seconds since the Unix epoch, read once per batch by the transport (RFC 8945 §5.2.3 time
    /// checks, RFC 7314 expire values, RFC 9018 cookie timestamps, rate limiting seconds).
    public var now: UInt64
    /// The UDP query rate is above `cookies.require-under-load` (README "DNS cookies").
    public var underLoad: Bool

    public init(
        transport: Transport, client: IPAddress, local: IPAddress? = nil, now: UInt64, underLoad: Bool = false
    ) {
        self.transport = transport
        self.client = client
        self.local = local
        self.now = now
        self.underLoad = underLoad
    }

    /// A context for tests and self-probes: the loopback client, time zero.
    public static func local(_ transport: Transport) -> QueryContext {
        QueryContext(transport: transport, client: .v4(0x7F00_0001), now: 0)
    }
}
