import DNSGuard

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
