import DNSWire
import DNSZone
import TestSupport
import Testing

@testable import ZoneLifecycle

@Suite("The IXFR journal on disk survives a restart (RFC 1995)")
struct JournalFileTests {
    @Test("a history written and read back is the same, and leads to the served serial")
    func journalRoundTrips() throws {
        let old = try loadZone(bigZone(serial: 1, count: 30, variant: 1))
        let middle = try loadZone(bigZone(serial: 2, count: 30, variant: 2))
        let new = try loadZone(bigZone(serial: 3, count: 31, variant: 2))
        let history = ZoneHistory()
            .appending(ZoneDiff.between(old, middle), limits: .init())
            .appending(ZoneDiff.between(middle, new), limits: .init())
        let decoded = try #require(JournalFile.decode(JournalFile.encode(history)))
        #expect(decoded == history)
        let zones = TemporaryZones()
        let path = zones.directory + "/example.net.journal"
        try JournalFile.write(history, to: path)
        #expect(JournalFile.read(from: path, leadingTo: 3) == history)
        #expect(
            JournalFile.read(from: path, leadingTo: 4) == nil, "a journal for another version is not used")
    }

    @Test("bytes that are not a journal, or a cut-off journal, are refused")
    func brokenJournalIsRefused() throws {
        let zone = try loadZone(bigZone(serial: 1, count: 3))
        let history = ZoneHistory().appending(
            ZoneDiff.between(zone, zone), limits: .init())
        let bytes = JournalFile.encode(history)
        #expect(JournalFile.decode(Array(bytes.dropLast(3))) == nil)
        #expect(JournalFile.decode(Array("not a journal".utf8)) == nil)
    }
}
