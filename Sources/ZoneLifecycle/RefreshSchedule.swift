import DNSWire

/// The refresh, retry and expire timers of one secondary zone (RFC 1034 §4.3.5, RFC 1996), as
/// plain values over an injected clock (seconds since the Unix epoch), so they can be tested
/// without waiting and kept on disk across restarts.
public struct RefreshSchedule: Codable, Equatable, Sendable {
    /// The serial served, if any.
    public var serial: UInt32?
    /// When the zone expires without a successful refresh; `nil` before the first transfer.
    public var expiresAt: UInt64?
    /// When to check the primaries next.
    public var nextRefresh: UInt64
    public var lastAttempt: UInt64?
    public var lastSuccess: UInt64?
    /// What the last attempt gave ("transferred serial 7 by IXFR", "up to date", an error).
    public var lastResult: String?

    /// Before the first transfer, retry this often (seconds) when no SOA says otherwise.
    public static let initialRetry: UInt64 = 5

    public init(now: UInt64) {
        nextRefresh = now
    }

    /// The copy kept on disk, checked against the clock at start: a site that was down longer
    /// than the refresh interval refreshes at once (and one down past expiry serves nothing).
    /// A restart within REFRESH keeps the stored schedule.
    public static func restored(_ stored: RefreshSchedule, now: UInt64) -> RefreshSchedule {
        var schedule = stored
        if schedule.isExpired(now: now) { schedule.nextRefresh = now }
        return schedule
    }

    public func isExpired(now: UInt64) -> Bool {
        guard let expiresAt else { return true }
        return now >= expiresAt
    }

    public func isDue(now: UInt64) -> Bool { now >= nextRefresh }

    /// The primary confirmed or gave us `timers.serial`: refresh again after REFRESH, expire
    /// after EXPIRE (or the primary's own remaining EXPIRE, RFC 7314 §4, if lower).
    public mutating func succeeded(now: UInt64, timers: SOATimers, primaryExpire: UInt32?, result: String) {
        serial = timers.serial
        lastAttempt = now
        lastSuccess = now
        lastResult = result
        nextRefresh = now + UInt64(max(timers.refresh, 1))
        expiresAt = now + UInt64(min(timers.expire, primaryExpire ?? .max))
    }

    /// Every primary failed: try again after RETRY (RFC 1034 §4.3.5); the expiry stays.
    public mutating func failed(now: UInt64, retry: UInt32?, result: String) {
        lastAttempt = now
        lastResult = result
        nextRefresh = now + (retry.map { UInt64(max($0, 1)) } ?? Self.initialRetry)
    }

    /// An allowed NOTIFY (RFC 1996 §4.7) or an operator's refresh: check at once.
    public mutating func refreshNow(now: UInt64) {
        nextRefresh = min(nextRefresh, now)
    }

    /// The zone expired: serve nothing and take the next version whole, whatever its serial.
    public mutating func expire() {
        serial = nil
        expiresAt = nil
    }
}
