import DNSZone
import Foundation
import Synchronization

/// The zones being served. Transports take a snapshot per batch of packets; a reload swaps in a
/// new ``ZoneSet`` whole, so a query sees either the old data or the new, never a mix.
public final class ZoneStore: Sendable {
    private let current: Mutex<ZoneSet>

    public init(_ zones: ZoneSet) {
        current = Mutex(zones)
    }

    public var snapshot: ZoneSet { current.withLock { $0 } }

    /// Serves `zones` from now on, and frees the set it replaces on the calling thread.
    ///
    /// Freeing a million-name zone takes milliseconds. Under the lock it would stall every
    /// transport waiting for a snapshot; left to whoever drops the last reference, it would
    /// often be a DNS worker finishing its batch. So the old set is taken out of the lock, and
    /// the caller waits (up to `patience`) until no transport still holds it before letting go.
    public func replace(with zones: ZoneSet, patience: Duration = .seconds(1)) {
        update(patience: patience) { _ in zones }
    }

    /// Serves `transform(current set)` from now on, computed under the lock so that concurrent
    /// updates of different zones (a reload, a transfer) never undo each other; `transform` must
    /// be quick (``ZoneSet/replacing(_:)`` is). The replaced set is freed as in ``replace(with:patience:)``.
    public func update(patience: Duration = .seconds(1), _ transform: (ZoneSet) -> ZoneSet) {
        var retired = current.withLock { held in
            let old = held
            held = transform(old)
            return old
        }
        let deadline = ContinuousClock.now + patience
        // A transport holds a snapshot for one batch of packets or one TCP read: microseconds.
        // A set without zones costs nothing to free: the shared empty set the store starts with
        // is never uniquely referenced, and waiting for it delayed the first answer by `patience`.
        while !retired.zones.isEmpty && !isKnownUniquelyReferenced(&retired) && ContinuousClock.now < deadline
        {
            Thread.sleep(forTimeInterval: 0.001)
        }
        withExtendedLifetime(retired) {}
    }
}
