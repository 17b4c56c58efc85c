import AnydnsConfig
import DNSAuth
import DNSGuard
import DNSResponder
import Operations

/// Turns the configuration's `rate-limit`, `cookies` and TCP limits into what the responder, the
/// transport and `/health` use (README "Rate limiting", "DNS cookies").
enum DefenceSettings {
    static func defences(_ configuration: Configuration) -> Defenses {
        let cookies = configuration.cookies
        let secret = cookies.secret.flatMap { CookieSecret(hex: $0) } ?? .random()
        let rateLimit = configuration.rateLimit
        return Defenses(
            cookies: ServerCookies(
                secret: secret, previousSecret: cookies.previousSecret.flatMap { CookieSecret(hex: $0) }),
            requireCookiesUnderLoad: cookies.requireUnderLoad > 0,
            rateLimiter: rateLimit.isEnabled ? RateLimiter(settings: rateLimit) : nil,
            // RFC 7828 §3.1: units of 100 ms.
            tcpKeepalive: UInt16(clamping: Int(configuration.limits.tcpIdleTimeout * 10)))
    }

    /// What `/health` shows: the settings, never the secrets.
    static func health(_ configuration: Configuration) -> HealthDocument.Defences {
        HealthDocument.Defences(
            rateLimit: configuration.rateLimit,
            cookies: .init(
                secret: configuration.cookies.secret == nil ? "random" : "configured",
                previousSecret: configuration.cookies.previousSecret != nil,
                requireUnderLoad: configuration.cookies.requireUnderLoad),
            tcpConnections: configuration.limits.tcpConnections,
            tcpConnectionsPerClient: configuration.limits.tcpConnectionsPerClient)
    }
}
