import DNSWire
import DNSZone
import TestSupport
import Testing
import ZoneLifecycle

@Suite("The zone store: whole snapshots, and a swap that never waits for its readers")
struct ZoneStoreTests {
    private static let text = """
        $TTL 300
        @ IN SOA ns1 hostmaster 1 3600 900 604800 300
        @ IN NS ns1
        ns1 IN A 192.0.2.1
        """

    /// The store's reclaimer waits for readers, never the caller: with a patience of an hour, a
    /// swap made while a snapshot is still held returns at once (before, every reload waited out
    /// its patience whenever anything else held the old set, a second per `anydns ctl reload`).
    @Test(.timeLimit(.minutes(1)))
    func swapReturnsWhileTheOldSetIsHeld() throws {
        let zones = TemporaryZones()
        let zone = try zones.load("example.test.", Self.text).get().zone
        let store = ZoneStore(ZoneSet([zone]), patience: .seconds(3600))
        let held = store.snapshot
        store.replace(with: ZoneSet([]))
        #expect(store.snapshot.zones.isEmpty)
        #expect(held.zone(named: DomainName("example.test.")!) != nil, "a reader's snapshot stays whole")
    }

    @Test func updatesOfDifferentZonesKeepEachOther() throws {
        let zones = TemporaryZones()
        let first = try zones.load("a.test.", Self.text).get().zone
        let second = try zones.load("b.test.", Self.text).get().zone
        let store = ZoneStore(ZoneSet([]))
        store.update { $0.replacing(first) }
        store.update { $0.replacing(second) }
        store.waitForReclaimer()
        #expect(Set(store.snapshot.zones.map(\.origin.description)) == ["a.test.", "b.test."])
    }
}
