import DNSZone
import Synchronization

/// The zones being served. Transports take a snapshot per batch of packets; a reload swaps in a
/// new ``ZoneSet`` whole, so a query sees either the old data or the new, never a mix.
public final class ZoneStore: Sendable {
    private let current: Mutex<ZoneSet>

    public init(_ zones: ZoneSet) {
        current = Mutex(zones)
    }

    public var snapshot: ZoneSet { current.withLock { $0 } }

    public func replace(with zones: ZoneSet) {
        current.withLock { $0 = zones }
    }
}
