import DNSAuth
import DNSWire
import DNSXfr
import DNSZone
import ServingTypes
import TestSupport
import Testing

/// A zone with `count` hosts, serial `serial`, each host's address depending on `variant`.
func bigZone(serial: UInt32, count: Int, variant: UInt8 = 1) -> String {
    var text = """
        $ORIGIN example.net.
        $TTL 300
        @ SOA ns1 hostmaster \(serial) 3600 900 604800 60
        @ NS ns1
        ns1 A 192.0.2.1

        """
    for index in 0..<count {
        text += "host\(index) A 198.51.\(variant).\(index % 250)\n"
    }
    return text
}

func loadZone(_ text: String, origin: String = "example.net.") throws -> Zone {
    let zones = TemporaryZones()
    return try zones.load(origin, text).get().zone
}

/// Drives a producer to the end, feeding every message to a reader; returns the reader's verdict
/// and the number of messages.
func roundTrip(
    _ request: TransferRequest, clientSerial: UInt32?, verifier: TSIGResponseVerifier? = nil,
    now: UInt64 = 1000
) -> (TransferResponseReader.Progress, Int) {
    let producer = TransferProducer(request)
    var reader = TransferResponseReader(
        zone: request.zone.origin, id: request.id, clientSerial: clientSerial, verifier: verifier)
    var messages = 0
    while let message = producer.nextMessage() {
        messages += 1
        let progress = reader.consume(Array(message), now: now)
        switch progress {
        case .needMore: continue
        default: return (progress, messages)
        }
    }
    return (.failed("the producer ended before the reader was satisfied"), messages)
}

/// The records of a received table, by building the zone they make (SOA first).
func received(_ table: ZoneRecordTable) throws -> [ResourceRecord] {
    try ZoneBuilder.build(origin: DomainName("example.net.")!, source: "test", table: table).get().zone
        .allRecords()
}

func transferRequest(_ zone: Zone, clientSerial: UInt32?, signer: TSIGSigner? = nil) -> TransferRequest {
    let question = zone.origin.wire + [0, clientSerial == nil ? 252 : 251, 0, 1]
    return TransferRequest(
        zone: zone, clientSerial: clientSerial, id: 0x4242, question: question, queryFlags: 0, signer: signer,
        now: 1000, client: .v4(0x7F00_0001))
}

@Suite("Zone transfers out and in: producer and reader agree (RFC 5936, RFC 1995, RFC 8945 §5.3.1)")
struct TransferRoundTripTests {
    @Test("an AXFR of a zone larger than one message spans several, SOA first and last, every record once")
    func axfrSpansMessagesAndCarriesEveryRecord() throws {
        let zone = try loadZone(bigZone(serial: 7, count: 5000))
        let (progress, messages) = roundTrip(transferRequest(zone, clientSerial: nil), clientSerial: nil)
        guard case .done(.full(let table)) = progress else {
            Issue.record("AXFR not complete: \(progress)")
            return
        }
        let records = try received(table)
        #expect(messages > 1, "5,000 records need more than one 64 KiB message")
        #expect(records.first?.type == .soa && records.first?.soaSerial == 7)
        #expect(records.count == zone.recordCount)
        #expect(Set(records) == Set(zone.allRecords()))
    }

    @Test("every message of a signed AXFR is signed and verifies in order (RFC 8945 §5.3.1)")
    func signedAXFRVerifiesMessageByMessage() throws {
        let zone = try loadZone(bigZone(serial: 7, count: 5000))
        let key = try #require(
            TSIGKey(name: "transfer.", algorithm: "hmac-sha256", base64Secret: "K2tf3TRjvQkVCmJF3/Z9vA=="))
        let requestMAC = [UInt8](repeating: 7, count: 32)
        let request = transferRequest(
            zone, clientSerial: nil, signer: TSIGSigner(key: key, requestMAC: requestMAC))
        let (progress, _) = roundTrip(
            request, clientSerial: nil, verifier: TSIGResponseVerifier(key: key, requestMAC: requestMAC))
        guard case .done(.full(let table)) = progress else {
            Issue.record("signed AXFR not accepted: \(progress)")
            return
        }
        let records = try received(table)
        #expect(records.count == zone.recordCount)
    }

    @Test("a stream signed with another key is rejected by the reader")
    func wrongKeyFailsTheTransfer() throws {
        let zone = try loadZone(bigZone(serial: 7, count: 10))
        let key = try #require(
            TSIGKey(name: "transfer.", algorithm: "hmac-sha256", base64Secret: "K2tf3TRjvQkVCmJF3/Z9vA=="))
        let other = try #require(
            TSIGKey(name: "transfer.", algorithm: "hmac-sha256", base64Secret: "AAAAAAAAAAAAAAAAAAAAAA=="))
        let requestMAC = [UInt8](repeating: 1, count: 32)
        let request = transferRequest(
            zone, clientSerial: nil, signer: TSIGSigner(key: other, requestMAC: requestMAC))
        let (progress, _) = roundTrip(
            request, clientSerial: nil, verifier: TSIGResponseVerifier(key: key, requestMAC: requestMAC))
        guard case .failed(let reason) = progress else {
            Issue.record("a badly signed stream was accepted: \(progress)")
            return
        }
        #expect(reason.contains("TSIG"))
    }

    @Test(
        "IXFR from a serial in the history sends only the differences, and applying them gives the new zone")
    func ixfrSendsTheDifferences() throws {
        let old = try loadZone(bigZone(serial: 1, count: 20, variant: 1))
        let newText = bigZone(serial: 2, count: 20, variant: 1).replacingOccurrences(
            of: "host3 A 198.51.1.3", with: "host3 A 203.0.113.3")
        let new = try loadZone(newText)
        let diff = ZoneDiff.between(old, new)
        #expect(diff.removed.count == 2 && diff.added.count == 2, "SOA plus the one changed record each way")
        let served = new.with(history: ZoneHistory().appending(diff, limits: .init()))
        let (progress, _) = roundTrip(transferRequest(served, clientSerial: 1), clientSerial: 1)
        guard case .done(.incremental(let diffs)) = progress else {
            Issue.record("IXFR not incremental: \(progress)")
            return
        }
        #expect(diffs.count == 1 && diffs[0].fromSerial == 1 && diffs[0].toSerial == 2)
        let applied = try #require(old.applying(diffs, source: "test"))
        #expect(Set(try received(applied)) == Set(new.allRecords()))
    }

    @Test("IXFR from a serial the history does not reach is answered with the whole zone (RFC 1995 §4)")
    func ixfrFallsBackToTheWholeZone() throws {
        let zone = try loadZone(bigZone(serial: 5, count: 20))
        let (progress, _) = roundTrip(transferRequest(zone, clientSerial: 3), clientSerial: 3)
        guard case .done(.full(let table)) = progress else {
            Issue.record("expected an AXFR-style answer: \(progress)")
            return
        }
        let records = try received(table)
        #expect(records.count == zone.recordCount)
    }

    @Test("IXFR from the current serial (or a newer one) is one SOA (RFC 1995 §2)")
    func ixfrFromTheCurrentSerialIsOneSOA() throws {
        let zone = try loadZone(bigZone(serial: 5, count: 20))
        for clientSerial: UInt32 in [5, 6] {
            let producer = TransferProducer(transferRequest(zone, clientSerial: clientSerial))
            #expect(producer.style == .upToDate)
            let (progress, messages) = roundTrip(
                transferRequest(zone, clientSerial: clientSerial), clientSerial: clientSerial)
            guard case .done(.upToDate(let serial)) = progress else {
                Issue.record("expected up to date: \(progress)")
                continue
            }
            #expect(serial == 5 && messages == 1)
        }
    }

    @Test("a transfer answer with an error RCODE fails with the RCODE named")
    func refusedAnswerFails() throws {
        var reader = TransferResponseReader(
            zone: DomainName("example.net.")!, id: 1, clientSerial: nil, verifier: nil)
        let refused: [UInt8] = [0, 1, 0x80, 0x05, 0, 0, 0, 0, 0, 0, 0, 0]
        guard case .failed(let reason) = reader.consume(refused, now: 0) else {
            Issue.record("REFUSED was not a failure")
            return
        }
        #expect(reason.contains("REFUSED"))
    }
}

@Suite("IXFR history: bounded, chained, applied with checks (RFC 1995)")
struct ZoneHistoryTests {
    func diff(_ from: UInt32, _ to: UInt32, size: Int = 1) -> ZoneDiff {
        let soa = { (serial: UInt32) in
            ResourceRecord(
                owner: DomainName("example.net.")!, type: .soa, ttl: 60,
                rdata: [
                    0, 0, UInt8(serial >> 24), UInt8((serial >> 16) & 0xFF), UInt8((serial >> 8) & 0xFF),
                    UInt8(serial & 0xFF),
                ]
                    + [UInt8](repeating: 0, count: 16))
        }
        let filler = ResourceRecord(
            owner: DomainName("a.example.net.")!, type: .txt, ttl: 60,
            rdata: [UInt8](repeating: 65, count: size))
        return ZoneDiff(fromSerial: from, toSerial: to, removed: [soa(from)], added: [soa(to), filler])
    }

    @Test("the history keeps at most maxEntries, dropping the oldest")
    func entriesAreBounded() {
        var history = ZoneHistory()
        for serial: UInt32 in 1...10 {
            history = history.appending(diff(serial, serial + 1), limits: .init(maxEntries: 3))
        }
        #expect(history.diffs.map(\.fromSerial) == [8, 9, 10])
        #expect(history.diffs(from: 9)?.map(\.toSerial) == [10, 11])
        #expect(history.diffs(from: 2) == nil, "older than the history: AXFR instead")
    }

    @Test("the history keeps at most maxBytes of differences")
    func bytesAreBounded() {
        var history = ZoneHistory()
        for serial: UInt32 in 1...5 {
            history = history.appending(
                diff(serial, serial + 1, size: 1000), limits: .init(maxEntries: 100, maxBytes: 2500))
        }
        #expect(history.diffs.count == 2)
        #expect(history.diffs.reduce(0) { $0 + $1.size } <= 2500)
    }

    @Test("a difference that does not continue the history starts it anew")
    func brokenChainRestarts() {
        let history = ZoneHistory().appending(diff(1, 2), limits: .init()).appending(
            diff(5, 6), limits: .init())
        #expect(history.diffs.map(\.fromSerial) == [5])
    }

    @Test("applying a difference whose removed record is missing fails, so the client falls back to AXFR")
    func applyChecksRemovedRecords() throws {
        let zone = try loadZone(bigZone(serial: 1, count: 3))
        var bad = ZoneDiff.between(zone, zone)
        bad.removed.append(
            ResourceRecord(owner: DomainName("nothere.example.net.")!, type: .a, ttl: 1, rdata: [1, 2, 3, 4]))
        #expect(zone.applying([bad], source: "test") == nil)
    }
}

@Suite("Serial number arithmetic (RFC 1982)")
struct SerialNumberTests {
    @Test("greater-than wraps around 2^32 and stays undefined at exactly 2^31 apart")
    func comparisonsFollowRFC1982() {
        #expect(SerialNumber(2).isNewer(than: SerialNumber(1)))
        #expect(!SerialNumber(1).isNewer(than: SerialNumber(2)))
        #expect(SerialNumber(0).isNewer(than: SerialNumber(UInt32.max)), "wrap-around: 0 follows 2^32-1")
        #expect(SerialNumber(5).isNewer(than: SerialNumber(0xFFFF_FFF0)))
        #expect(!SerialNumber(0x8000_0000).isNewer(than: SerialNumber(0)), "2^31 apart: incomparable")
        #expect(!SerialNumber(0).isNewer(than: SerialNumber(0x8000_0000)))
        #expect(!SerialNumber(7).isNewer(than: SerialNumber(7)))
        #expect(SerialNumber(UInt32.max).adding(1) == SerialNumber(0))
    }
}

@Suite("Diffing and patching zones on their tables (RFC 1995 §4)")
struct ZoneDiffingTests {
    let v1 = bigZone(serial: 1, count: 50)

    @Test("a changed record, a TTL change, a new name and a removed name make exactly their diff")
    func diffHoldsOnlyTheChanges() throws {
        let old = try loadZone(v1)
        let newText =
            v1.replacingOccurrences(of: " 1 3600 900", with: " 2 3600 900")
            .replacingOccurrences(of: "host3 A 198.51.1.3", with: "host3 A 203.0.113.3")
            .replacingOccurrences(of: "host4 A", with: "host4 60 A")
            .replacingOccurrences(of: "host5 A 198.51.1.5\n", with: "")
            + "Added A 192.0.2.200\n"
        let new = try loadZone(newText)
        let diff = ZoneDiff.between(old, new)
        #expect(diff.fromSerial == 1 && diff.toSerial == 2)
        let removed = Set(diff.removed.dropFirst().map { "\($0.owner) \($0.ttl)" })
        let added = Set(diff.added.dropFirst().map { "\($0.owner) \($0.ttl)" })
        #expect(removed == ["host3.example.net. 300", "host4.example.net. 300", "host5.example.net. 300"])
        #expect(added == ["host3.example.net. 300", "host4.example.net. 60", "added.example.net. 300"])
        let patched = try #require(old.applying([diff], source: "test"))
        #expect(Set(try received(patched)) == Set(new.allRecords()))
    }

    @Test("a chain of diffs applies in order, an addition removed later cancels out")
    func chainApplies() throws {
        let v1Zone = try loadZone(v1)
        let v2Zone = try loadZone(
            v1.replacingOccurrences(of: " 1 3600 900", with: " 2 3600 900") + "temp A 192.0.2.7\n")
        let v3Zone = try loadZone(
            v1.replacingOccurrences(of: " 1 3600 900", with: " 3 3600 900").replacingOccurrences(
                of: "host9 A 198.51.1.9", with: "host9 A 192.0.2.9"))
        let diffs = [ZoneDiff.between(v1Zone, v2Zone), ZoneDiff.between(v2Zone, v3Zone)]
        let patched = try #require(v1Zone.applying(diffs, source: "test"))
        #expect(Set(try received(patched)) == Set(v3Zone.allRecords()))
    }

    @Test("differences that do not fit the data (a removed record we lack, another serial) give nil")
    func misfitsAreRefused() throws {
        let zone = try loadZone(v1)
        var diff = ZoneDiff.between(
            zone, try loadZone(v1.replacingOccurrences(of: " 1 3600 900", with: " 2 3600 900")))
        diff.removed.append(
            ResourceRecord(
                owner: DomainName("nothere.example.net.")!, type: .a, ttl: 300, rdata: [192, 0, 2, 1]))
        #expect(zone.applying([diff], source: "test") == nil)
        let other = ZoneDiff(fromSerial: 9, toSerial: 10, removed: diff.removed, added: diff.added)
        #expect(zone.applying([other], source: "test") == nil)
    }
}
