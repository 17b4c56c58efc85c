import DNSAuth
import DNSWire
import Testing

@Suite("Finding the TSIG RR (RFC 8945 §4.2, §5.1, §5.2)")
struct TSIGParseTests {
    /// Index of the OPT RR in `querySHA256`: header, question (17 octets), then OPT (11 octets).
    static let optStart = 12 + 17
    static let optEnd = optStart + 11

    @Test("every field of dnspython's TSIG RR is read")
    func fieldsAreRead_RFC8945_4_2() {
        let record = tsigRecord(Vectors.querySHA256)
        #expect(record.keyName == Vectors.keyName)
        #expect(record.algorithmName == TSIGAlgorithm.hmacSHA256.wireName)
        #expect(record.timeSigned == Vectors.time)
        #expect(record.fudge == 300)
        #expect(record.mac == Vectors.requestMACSHA256)
        #expect(record.originalID == 0x1234)
        #expect(record.recordOffset == Self.optEnd)
    }

    @Test("the names are stored lowercased")
    func namesAreLowercased() {
        let record = tsigRecord(Vectors.queryMixedCase)
        #expect(record.keyName.wire == DomainName("transfer-key.")!.wire)
    }

    @Test("a message with no TSIG RR is absent, with or without other additional records")
    func noTSIGIsAbsent() {
        #expect(parse(withoutTSIG(Vectors.querySHA256)) == .absent)
        var bare = Array(withoutTSIG(Vectors.querySHA256)[0..<Self.optStart])
        bare[11] = 0
        #expect(parse(bare) == .absent)
    }

    @Test("a TSIG RR that is not the last record is FORMERR (RFC 8945 §5.2)")
    func tsigNotLastIsMalformed_RFC8945_5_2() {
        let message = Vectors.querySHA256
        let opt = Array(message[Self.optStart..<Self.optEnd])
        let tsig = Array(message[Self.optEnd...])
        let swapped = Array(message[0..<Self.optStart]) + tsig + opt
        #expect(parse(swapped) == .malformed)
        #expect(verify(swapped, keyring: TSIGKeyring([Vectors.key(.hmacSHA256)])) == .malformed)
    }

    @Test("two TSIG RRs are FORMERR (RFC 8945 §5.2)")
    func twoTSIGsAreMalformed_RFC8945_5_2() {
        var message = Vectors.querySHA256 + Array(Vectors.querySHA256[Self.optEnd...])
        message[11] += 1
        #expect(parse(message) == .malformed)
    }

    @Test("a TSIG RR as the last record of the answer section is FORMERR (RFC 8945 §5.2)")
    func tsigInAnswerSectionIsMalformed_RFC8945_5_2() {
        var message =
            Array(Vectors.querySHA256[0..<Self.optStart]) + Array(Vectors.querySHA256[Self.optEnd...])
        message[7] = 1  // ANCOUNT
        message[11] = 0  // ARCOUNT
        #expect(parse(message) == .malformed)
    }

    @Test("octets after the TSIG RR are FORMERR")
    func trailingGarbageIsMalformed() {
        #expect(parse(Vectors.querySHA256 + [0]) == .malformed)
        #expect(
            verify(Vectors.querySHA256 + [0, 0], keyring: TSIGKeyring([Vectors.key(.hmacSHA256)]))
                == .malformed)
    }

    @Test("octets after the last record of an unsigned message are FORMERR")
    func trailingGarbageUnsignedIsMalformed() {
        #expect(parse(withoutTSIG(Vectors.querySHA256) + [0]) == .malformed)
    }

    @Test("a TSIG RR cut short anywhere is FORMERR", arguments: [1, 6, 30, 60, 80])
    func truncatedTSIGIsMalformed(cut: Int) {
        let message = Vectors.querySHA256
        #expect(parse(Array(message[0..<(message.count - cut)])) == .malformed)
    }

    @Test("RDLENGTH that disagrees with the fields is FORMERR")
    func rdLengthMismatchIsMalformed() {
        var longer = Vectors.querySHA256 + [0]
        let rdLengthOffset = Self.optEnd + 14 + 8
        longer[rdLengthOffset + 1] += 1  // RDLENGTH covers the extra octet, Other Len does not
        #expect(parse(longer) == .malformed)
    }

    @Test("CLASS other than ANY or TTL other than 0 is FORMERR (RFC 8945 §4.2)")
    func classAndTTLAreChecked_RFC8945_4_2() {
        let classOffset = Self.optEnd + 14 + 2
        var wrongClass = Vectors.querySHA256
        wrongClass[classOffset + 1] = 1  // IN
        #expect(parse(wrongClass) == .malformed)
        var wrongTTL = Vectors.querySHA256
        wrongTTL[classOffset + 5] = 1
        #expect(parse(wrongTTL) == .malformed)
    }

    @Test("a message shorter than a header is FORMERR")
    func shortMessageIsMalformed() {
        #expect(parse([0x12, 0x34, 0]) == .malformed)
    }

    @Test("the offset-taking overload finds the record and refuses bad offsets")
    func knownOffsetOverload() {
        let message = Vectors.querySHA256
        #expect(
            message.withUnsafeBytes { parseTSIG(in: $0, lastRecordOffset: Self.optEnd) } == parse(message))
        #expect(message.withUnsafeBytes { parseTSIG(in: $0, lastRecordOffset: Self.optStart) } == .malformed)
        #expect(
            message.withUnsafeBytes { parseTSIG(in: $0, lastRecordOffset: message.count + 1) } == .malformed)
        let unsigned = withoutTSIG(message)
        #expect(unsigned.withUnsafeBytes { parseTSIG(in: $0, lastRecordOffset: Self.optStart) } == .absent)
    }
}
