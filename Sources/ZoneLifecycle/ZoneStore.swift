import DNSZone
import Dispatch
import Foundation
import ServingTypes
import Synchronization

/// The zones being served. Transports take a snapshot per batch of packets; every change swaps in
/// a new ``ZoneSet`` whole, so a query sees either the old data or the new, never a mix.
public final class ZoneStore: ZoneSnapshots {
    private let current: Mutex<ZoneSet>
    private let reclaimer: SetReclaimer

    /// `patience`: how long a replaced set waits for the transports to let go of it before the
    /// reclaimer drops its own reference anyway (see ``update(_:)``).
    public init(_ zones: ZoneSet, patience: Duration = .seconds(1)) {
        current = Mutex(zones)
        reclaimer = SetReclaimer(patience: patience)
    }

    public var snapshot: ZoneSet { current.withLock { $0 } }

    /// Serves `zones` from now on.
    public func replace(with zones: ZoneSet) {
        update { _ in zones }
    }

    /// Serves `transform(current set)` from now on, computed under the lock so that concurrent
    /// updates of different zones (a reload, a transfer) never undo each other; `transform` must
    /// be quick (``ZoneSet/replacing(_:)`` is). Returns at once: the replaced set is freed by
    /// the reclaimer, never by the caller or a DNS worker.
    ///
    /// Freeing a million-name zone takes milliseconds. Under the lock it would stall every
    /// transport waiting for a snapshot; left to whoever drops the last reference, it would
    /// often be a DNS worker finishing its batch. So the reclaimer, on a background queue, waits
    /// until no transport holds the old set (microseconds: one batch or one TCP read) and lets
    /// go of it there. Before, the caller waited itself, and when something else kept the old set
    /// (the reload's own copy, say) every reload took the full patience (a second).
    public func update(_ transform: (ZoneSet) -> ZoneSet) {
        let retired = current.withLock { held in
            let old = held
            held = transform(old)
            return old
        }
        reclaimer.retire(retired)
    }

    /// Waits until every set retired so far has been let go of (for tests).
    public func waitForReclaimer() { reclaimer.drain() }
}

/// Frees replaced zone sets on a background queue, once the transports have let go of them.
private final class SetReclaimer: Sendable {
    /// One retired set, taken out of the closure that carries it so the reclaimer's reference is
    /// the only one it holds while it waits.
    private final class Box: @unchecked Sendable {
        var set: ZoneSet?
        init(_ set: ZoneSet) { self.set = set }
    }

    private let queue = DispatchQueue(label: "anydns.zone-reclaimer", qos: .utility)
    private let patience: Duration

    init(patience: Duration) { self.patience = patience }

    func retire(_ set: ZoneSet) {
        // A set without zones costs nothing to free (the shared empty set is never unique).
        guard !set.zones.isEmpty else { return }
        let box = Box(set)
        queue.async { [patience] in
            guard var retired = box.set else { return }
            box.set = nil
            let deadline = ContinuousClock.now + patience
            while !isKnownUniquelyReferenced(&retired) && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.001)
            }
            withExtendedLifetime(retired) {}
        }
    }

    func drain() { queue.sync {} }
}
