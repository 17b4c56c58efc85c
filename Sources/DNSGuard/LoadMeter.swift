import CAnydnsSystem

/// The UDP query rate of the whole server, for `cookies.require-under-load` (README "DNS
/// cookies"): the workers add what each batch received, and the rate of the last complete second
/// (or of the current one, once it is higher) says whether the server is under load.
///
/// One atomic add per batch of datagrams, not per query, so the workers barely share it.
public final class LoadMeter: @unchecked Sendable {
    /// Queries per second above which the server is under load; 0 never is.
    public let threshold: UInt64
    /// Second (high 32 bits) and queries counted in it (low 32 bits).
    private let current = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    /// Queries counted in the previous second.
    private let previous = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)

    public init(threshold: Int) {
        self.threshold = UInt64(threshold)
        current.initialize(to: 0)
        previous.initialize(to: 0)
    }

    deinit {
        current.deallocate()
        previous.deallocate()
    }

    /// Adds `queries` received at second `now`; returns whether the server is under load.
    public func add(_ queries: Int, now: UInt64) -> Bool {
        guard threshold > 0 else { return false }
        let second = now & 0xFFFF_FFFF
        while true {
            let word = anydns_atomic_load(current)
            let stored = word >> 32
            // A worker that read the clock just before another moved on to the next second counts
            // into the newer second rather than taking the meter back (RFC 1982 comparison).
            let behind = word != 0 && Int32(bitPattern: UInt32(truncatingIfNeeded: second &- stored)) < 0
            let counting = stored == second || behind ? stored : second
            let counted: UInt64
            if counting == stored {
                counted = min((word & 0xFFFF_FFFF) + UInt64(queries), 0xFFFF_FFFF)
            } else {
                counted = UInt64(queries)
            }
            guard anydns_atomic_compare_exchange(current, word, counting << 32 | counted) else { continue }
            if counting != stored {
                // The first batch of a new second: the count just closed was the last second's
                // rate, or zero if seconds passed without queries.
                anydns_atomic_store(previous, word >> 32 == second &- 1 ? word & 0xFFFF_FFFF : 0)
            }
            return counted > threshold || anydns_atomic_load(previous) > threshold
        }
    }
}
