import DNSAuth
import DNSGuard
import DNSWire
import DNSZone
import Members

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

/// Who may transfer each zone and send NOTIFY for it, and the TSIG keys (RFC 8945) that sign
/// requests. Immutable; built from the configuration at start.
public struct AccessPolicy: Sendable {
    public struct ZoneAccess: Sendable {
        public var allowTransfer: AccessList
        public var allowNotify: AccessList

        public init(allowTransfer: AccessList = .denyAll, allowNotify: AccessList = .denyAll) {
            self.allowTransfer = allowTransfer
            self.allowNotify = allowNotify
        }
    }

    public var keyring: TSIGKeyring
    /// By lowercase origin; a zone not listed allows nothing.
    public var zones: [DomainName: ZoneAccess]

    public init(keyring: TSIGKeyring = TSIGKeyring([]), zones: [DomainName: ZoneAccess] = [:]) {
        self.keyring = keyring
        self.zones = zones
    }

    func access(_ origin: DomainName) -> ZoneAccess { zones[origin] ?? ZoneAccess() }
}

/// What protects the server and its clients under attack: DNS cookies (RFC 7873, RFC 9018),
/// response rate limiting, and the TCP keepalive it announces (RFC 7828). Built from the
/// configuration at start (README "Rate limiting", "DNS cookies").
public struct Defenses: Sendable {
    /// Always on: a client cookie always gets a server cookie back. Without a configured
    /// secret, a random one is drawn at start.
    public var cookies: ServerCookies
    /// Under load, UDP queries with a client cookie but no valid server cookie get BADCOOKIE
    /// (RFC 7873 §5.2.3) instead of an answer.
    public var requireCookiesUnderLoad: Bool
    /// `nil` when rate limiting is off.
    public var rateLimiter: RateLimiter?
    /// The idle timeout of TCP connections in units of 100 ms, announced in edns-tcp-keepalive.
    public var tcpKeepalive: UInt16

    public init(
        cookies: ServerCookies = ServerCookies(secret: .random()), requireCookiesUnderLoad: Bool = false,
        rateLimiter: RateLimiter? = nil, tcpKeepalive: UInt16 = 100
    ) {
        self.cookies = cookies
        self.requireCookiesUnderLoad = requireCookiesUnderLoad
        self.rateLimiter = rateLimiter
        self.tcpKeepalive = tcpKeepalive
    }
}

/// What rate limiting did to a response (README "Rate limiting").
public enum RateLimitAction: Sendable, Equatable {
    /// Over the rate and not sent (the response bytes are empty).
    case dropped
    /// Over the rate and sent truncated (TC=1, no records).
    case slipped
    /// Over the rate but answered, because of `log-only`.
    case logged
}

/// Work a response asks of the transport beyond sending its bytes.
public enum FollowUp: Sendable {
    /// Stream a zone transfer on this TCP connection (the response bytes are empty).
    case transfer(TransferRequest)
    /// An allowed NOTIFY arrived for a zone (RFC 1996 §4.7): the zone service should check it.
    case notify(origin: DomainName, serial: UInt32?, from: IPAddress)
    /// A transfer or NOTIFY was refused by the zone's access list; the operations layer logs it
    /// (at most once a minute per client and zone).
    case refused(origin: DomainName, client: IPAddress, request: String)
    /// A client prefix went over the rate for a response class (the first response over it in a
    /// second); the operations layer logs it, at most once a minute per prefix and class.
    case rateLimited(prefix: IPAddress, responseClass: ResponseClass, action: RateLimitAction)
    /// An RFC 2136 update of the member table was applied (`changes`) or refused (`refusal`);
    /// the operations layer logs it and probes new members.
    case memberUpdate(client: IPAddress, key: DomainName?, changes: [MemberChange], refusal: String?)
}

/// An allowed AXFR or IXFR over TCP, with everything the transfer producer needs to write it.
public struct TransferRequest: Sendable {
    public var zone: Zone
    /// The serial the client has, for IXFR (RFC 1995 §3); `nil` for AXFR.
    public var clientSerial: UInt32?
    public var id: UInt16
    /// The question as the client sent it (owner, type, class).
    public var question: [UInt8]
    /// Flags of the query to echo (opcode, RD, CD).
    public var queryFlags: UInt16
    /// Signs every message of the answer when the request was signed (RFC 8945 §5.3.1).
    public var signer: TSIGSigner?
    /// The time to sign with.
    public var now: UInt64
    public var client: IPAddress

    public init(
        zone: Zone, clientSerial: UInt32?, id: UInt16, question: [UInt8], queryFlags: UInt16,
        signer: TSIGSigner?,
        now: UInt64, client: IPAddress
    ) {
        self.zone = zone
        self.clientSerial = clientSerial
        self.id = id
        self.question = question
        self.queryFlags = queryFlags
        self.signer = signer
        self.now = now
        self.client = client
    }
}
