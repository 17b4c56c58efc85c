import Synchronization

/// Remembers when a refusal was last logged for each key (client and zone, or client and
/// response class), so a client retrying every second fills the log with one line a minute. Bounded: the table is cleared when it grows past
/// ``capacity`` entries.
final class RefusalLog: Sendable {
    static let capacity = 10_000
    let interval: UInt64
    private let lastLogged: Mutex<[String: UInt64]> = Mutex([:])

    init(interval: UInt64) { self.interval = interval }

    func shouldLog(_ key: String, now: UInt64) -> Bool {
        lastLogged.withLock { table in
            if let last = table[key], now < last + interval { return false }
            if table.count >= Self.capacity { table.removeAll() }
            table[key] = now
            return true
        }
    }
}

/// When to log that a client prefix went over the response rate: once a minute per prefix and
/// class, and at most ``linesPerSecond`` lines a second in all, so a spoofed flood from many
/// prefixes costs a few log lines, not one per prefix.
final class RateLimitLog: Sendable {
    static let linesPerSecond = 10
    private let perKey = RefusalLog(interval: 60)
    private let budget: Mutex<(second: UInt64, lines: Int)> = Mutex((0, 0))

    func shouldLog(_ key: String, now: UInt64) -> Bool {
        let allowed = budget.withLock { budget in
            if budget.second != now { budget = (now, 0) }
            guard budget.lines < Self.linesPerSecond else { return false }
            budget.lines += 1
            return true
        }
        return allowed && perKey.shouldLog(key, now: now)
    }
}
