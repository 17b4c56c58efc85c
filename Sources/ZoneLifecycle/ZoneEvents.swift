/// The timed work of one zone (as Knot DNS schedules each zone's events): every kind of event
/// is due at one time or not scheduled, and the lifecycle's one-second tick runs whatever is due,
/// in the order of ``ZoneEvent``. Pure values over an injected clock, so the schedule is tested
/// without waiting.
public enum ZoneEvent: Int, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    /// Bring the zone in: a secondary's stored copy (RFC 1034 §4.3.5: served at once when it has
    /// not expired). File zones load when the registry takes them, on the caller's thread.
    case load
    /// Past EXPIRE without a successful refresh: stop serving (RFC 1034 §4.3.5).
    case expire
    /// Ask the primaries for the SOA and transfer a newer version (RFC 1034 §4.3.5, RFC 1996 §4.7);
    /// a failed refresh is this event again at RETRY.
    case refresh
    /// Tell the zone's secondaries about a new serial (RFC 1996 §3.5).
    case notify
    /// Write what storage keeps of the zone: its copy, timers and journal.
    case flush
    // Re-signing (RFC 4035 signatures refreshed before they expire) is the next kind of event.

    public static func < (left: ZoneEvent, right: ZoneEvent) -> Bool { left.rawValue < right.rawValue }

    public var description: String {
        switch self {
        case .load: "load"
        case .expire: "expire"
        case .refresh: "refresh"
        case .notify: "notify"
        case .flush: "flush"
        }
    }
}

/// When each event of one zone is due, in seconds since the Unix epoch.
public struct ZoneEvents: Sendable, Equatable {
    private var due: [ZoneEvent: UInt64] = [:]

    public init() {}

    /// Schedules `event` at `time`; an event already due earlier keeps its earlier time.
    public mutating func schedule(_ event: ZoneEvent, at time: UInt64) {
        due[event] = min(due[event] ?? time, time)
    }

    /// Schedules `event` at exactly `time`, replacing any earlier time (timers that moved).
    public mutating func reschedule(_ event: ZoneEvent, at time: UInt64?) {
        due[event] = time
    }

    public mutating func cancel(_ event: ZoneEvent) { due[event] = nil }

    public func time(of event: ZoneEvent) -> UInt64? { due[event] }

    /// The events due at `now`, in ``ZoneEvent`` order, removed from the schedule.
    public mutating func takeDue(now: UInt64) -> [ZoneEvent] {
        let ready = ZoneEvent.allCases.filter { event in due[event].map { $0 <= now } ?? false }
        for event in ready { due[event] = nil }
        return ready
    }
}
