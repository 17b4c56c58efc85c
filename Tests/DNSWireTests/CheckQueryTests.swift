import DNSWire
import TestSupport
import Testing

/// What ``checkQuery(_:nameBuffer:)`` decided, in a form tests can compare.
enum Checked: Equatable, CustomStringConvertible {
    case query(
        id: UInt16, name: [UInt8], type: RecordType, qclass: DNSClass, questionEnd: Int, edns: EDNSRequest?)
    case reject(RCode, questionEnd: Int?, edns: EDNSRequest?)
    case drop

    var description: String {
        switch self {
        case .query(let id, let name, let type, let qclass, let end, let edns):
            "query id=\(id) \(DomainName(wire: name).map(String.init(describing:)) ?? "\(name)") \(type) \(qclass) end=\(end) edns=\(String(describing: edns))"
        case .reject(let rcode, let end, let edns):
            "reject \(rcode) end=\(String(describing: end)) edns=\(String(describing: edns))"
        case .drop: "drop"
        }
    }
}

func check(_ packet: [UInt8]) -> Checked {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: NameLimits.maxWireLength, alignment: 1)
    defer { buffer.deallocate() }
    let result = packet.withUnsafeBytes { checkQuery($0, nameBuffer: buffer) }
    switch result {
    case .query(let query):
        return .query(
            id: query.header.id, name: Array(buffer[0..<query.nameLength]), type: query.type,
            qclass: query.qclass, questionEnd: query.questionEnd, edns: query.edns)
    case .reject(let rcode, _, let questionEnd, let edns):
        return .reject(rcode, questionEnd: questionEnd, edns: edns)
    case .drop:
        return .drop
    case .cookieRequest(_, let edns):
        return .reject(.noError, questionEnd: nil, edns: edns)
    }
}

/// The header of a `.reject`, to check that the ID and flags are handed back for the response.
func rejectedHeader(_ packet: [UInt8]) -> DNSHeader? {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: NameLimits.maxWireLength, alignment: 1)
    defer { buffer.deallocate() }
    if case .reject(_, let header, _, _) = packet.withUnsafeBytes({ checkQuery($0, nameBuffer: buffer) }) {
        return header
    }
    return nil
}

/// A root-owned OPT record (RFC 6891 §6.1.2) with the given RDATA.
func optRecord(payload: UInt16 = 1232, version: UInt8 = 0, flags: UInt16 = 0, rdata: [UInt8] = []) -> [UInt8]
{
    var out: [UInt8] = [0]
    out.appendWord(RecordType.opt.rawValue)
    out.appendWord(payload)
    out += [0, version]
    out.appendWord(flags)
    out.appendWord(UInt16(rdata.count))
    return out + rdata
}

/// Sets the 16-bit header field at `offset` (4: QDCOUNT, 6: ANCOUNT, 8: NSCOUNT, 10: ARCOUNT).
func setting(_ packet: [UInt8], word value: UInt16, at offset: Int) -> [UInt8] {
    var copy = packet
    copy[offset] = UInt8(value >> 8)
    copy[offset + 1] = UInt8(value & 0xFF)
    return copy
}

/// `www.example.com. A IN`: the question ends at 12 + 17 + 4.
var plainQuery: QueryBuilder { QueryBuilder("www.example.com.", .a) }
let plainQuestionEnd = 12 + 17 + 4

@Suite("checkQuery: the one place query bytes are checked (RFC 1035 §4.1, RFC 6891 §6.1)")
struct CheckQueryTests {
    @Test("a well-formed query yields its ID, case-preserved QNAME, QTYPE, QCLASS and question end")
    func wellFormedQueryIsAccepted() {
        var builder = QueryBuilder("WwW.Example.COM.", RecordType(rawValue: 65400))
        builder.id = 0xBEEF
        builder.flags = DNSHeader.Flag.rd
        #expect(
            check(builder.bytes)
                == .query(
                    id: 0xBEEF, name: wire(["WwW", "Example", "COM"]), type: RecordType(rawValue: 65400),
                    qclass: .internet, questionEnd: plainQuestionEnd, edns: nil))
    }

    @Test("a response (QR=1) is dropped, never answered")
    func responseIsDropped() {
        var builder = plainQuery
        builder.flags = DNSHeader.Flag.qr
        #expect(check(builder.bytes) == .drop)
    }

    @Test("a message shorter than the 12-octet header is dropped", arguments: [0, 1, 11])
    func shortMessageIsDropped(length: Int) {
        #expect(check(Array(plainQuery.bytes.prefix(length))) == .drop)
    }

    @Test(
        "QDCOUNT other than 1 is FORMERR without a question to echo", arguments: [0, 2, 0xFFFF] as [UInt16])
    func questionCountMustBeOne(count: UInt16) {
        let packet = setting(plainQuery.bytes, word: count, at: 4)
        #expect(check(packet) == .reject(.formErr, questionEnd: nil, edns: nil))
        #expect(rejectedHeader(packet)?.id == 0x1234)
    }

    @Test("a question cut short is FORMERR without a question end", arguments: [1, 2, 4, 10])
    func truncatedQuestionIsFormErr(missing: Int) {
        let packet = Array(plainQuery.bytes.dropLast(missing))
        #expect(check(packet) == .reject(.formErr, questionEnd: nil, edns: nil))
    }

    @Test("a QNAME with a bad compression pointer is FORMERR")
    func questionWithBadPointerIsFormErr() {
        var packet = Array(plainQuery.bytes.prefix(12))
        packet += [0xC0, 12, 0, 1, 0, 1]  // self-pointer
        #expect(check(packet) == .reject(.formErr, questionEnd: nil, edns: nil))
    }

    @Test("bytes after the last record are FORMERR, with the question end so it can be echoed")
    func trailingGarbageIsFormErr() {
        #expect(check(plainQuery.bytes + [0]) == .reject(.formErr, questionEnd: plainQuestionEnd, edns: nil))
        // With a valid OPT before the garbage, the OPT is reported so the response can carry one.
        let edns = plainQuery.withEDNS(payload: 4096).bytes + [0xDE, 0xAD]
        #expect(
            check(edns)
                == .reject(
                    .formErr, questionEnd: plainQuestionEnd,
                    edns: EDNSRequest(udpPayloadSize: 4096, version: 0, dnssecOK: false, nsidRequested: false)
                ))
    }

    @Test("ARCOUNT promising a record that is not there is FORMERR")
    func missingAdditionalRecordIsFormErr() {
        let packet = setting(plainQuery.bytes, word: 1, at: 10)
        #expect(check(packet) == .reject(.formErr, questionEnd: plainQuestionEnd, edns: nil))
    }

    @Test("two OPT records are FORMERR (RFC 6891 §6.1.1)")
    func twoOPTRecordsAreFormErr() {
        let packet = setting(plainQuery.withEDNS().bytes + optRecord(), word: 2, at: 10)
        #expect(check(packet) == .reject(.formErr, questionEnd: plainQuestionEnd, edns: nil))
    }

    @Test("an OPT record owned by a name other than the root is FORMERR (RFC 6891 §6.1.2)")
    func optWithNonRootOwnerIsFormErr() {
        var opt = optRecord()
        opt.replaceSubrange(0..<1, with: wire(["a"]))
        let packet = setting(plainQuery.bytes + opt, word: 1, at: 10)
        #expect(check(packet) == .reject(.formErr, questionEnd: plainQuestionEnd, edns: nil))
    }

    @Test(
        "an EDNS option overrunning the OPT RDATA is FORMERR",
        arguments: [
            [0, 3, 0, 5, 1, 2],  // NSID announcing 5 octets, 2 present
            [0xFF, 0x01, 0, 1],  // unknown option announcing 1 octet, none present
            [0, 3, 0],  // option header cut short
        ] as [[UInt8]])
    func optionOverrunningRDataIsFormErr(options: [UInt8]) {
        #expect(
            check(plainQuery.withEDNS(options: options).bytes)
                == .reject(.formErr, questionEnd: plainQuestionEnd, edns: nil))
    }

    @Test("an OPT RDLENGTH running past the end of the message is FORMERR")
    func optRDLengthPastEndIsFormErr() {
        let packet = setting(plainQuery.bytes + optRecord(rdata: [0, 3, 0, 0]).dropLast(2), word: 1, at: 10)
        #expect(check(packet) == .reject(.formErr, questionEnd: plainQuestionEnd, edns: nil))
    }

    @Test(
        "an opcode other than QUERY, NOTIFY and UPDATE is NOTIMP, with the question end for the echo",
        arguments: [1, 2, 3, 6, 15] as [UInt16])
    func unknownOpcodeIsNotImp(opcode: UInt16) {
        var builder = plainQuery
        builder.flags = opcode << 11
        #expect(check(builder.bytes) == .reject(.notImp, questionEnd: plainQuestionEnd, edns: nil))
        #expect(rejectedHeader(builder.bytes)?.opcode == Opcode(rawValue: UInt8(opcode)))
    }

    /// UPDATE (RFC 2136) is read in full: the responder decides (NOTIMP without a member table).
    @Test func updateIsReadInFull() {
        var builder = plainQuery
        builder.flags = 5 << 11
        guard case .query(let query) = check(builder.bytes) else {
            Issue.record("UPDATE not read")
            return
        }
        #expect(query.id == 0x1234 && query.questionEnd == plainQuestionEnd)
    }

    @Test(
        "an unknown opcode is NOTIMP even without a question (RFC 1035 §4.1.1), a known one FORMERR",
        arguments: [1, 2, 3, 6, 15] as [UInt16])
    func unknownOpcodeWithoutQuestionIsNotImp(opcode: UInt16) {
        var builder = plainQuery
        builder.flags = opcode << 11
        let header = setting(Array(builder.bytes.prefix(DNSHeader.length)), word: 0, at: 4)
        #expect(check(header) == .reject(.notImp, questionEnd: nil, edns: nil))
        builder.flags = 0
        let query = setting(Array(builder.bytes.prefix(DNSHeader.length)), word: 0, at: 4)
        #expect(check(query) == .reject(.formErr, questionEnd: nil, edns: nil))
    }

    @Test(
        "a COOKIE option of a length no cookie has, or a second COOKIE, is FORMERR (RFC 7873 §5.2.2)",
        arguments: [
            [0, 10, 0, 0], [0, 10, 0, 7] + Array(1...7), [0, 10, 0, 9] + Array(1...9),
            [0, 10, 0, 15] + Array(1...15), [0, 10, 0, 41] + Array(1...41),
            [0, 10, 0, 8] + Array(1...8) + [0, 10, 0, 8] + Array(1...8),
        ] as [[UInt8]])
    func malformedCookieIsFormErr(options: [UInt8]) {
        let packet = plainQuery.withEDNS(payload: 1232, options: options).bytes
        #expect(check(packet) == .reject(.formErr, questionEnd: plainQuestionEnd, edns: nil))
    }

    @Test("NOTIFY is read in full, with the serial of the SOA in its answer section (RFC 1996 §3.7)")
    func notifyCarriesItsSerial() throws {
        var builder = plainQuery
        builder.flags = 4 << 11
        // An SOA for example.com. (compressed owner pointing at the question's "example.com.").
        let soa: [UInt8] =
            [0xC0, 16, 0, 6, 0, 1, 0, 0, 0x0E, 0x10, 0, 22, 0, 0, 0, 0, 0, 42]
            + [UInt8](repeating: 0, count: 16)
        let packet = setting(builder.bytes + soa, word: 1, at: 6)
        let name = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 1)
        defer { name.deallocate() }
        let result = packet.withUnsafeBytes { checkQuery($0, nameBuffer: name) }
        guard case .query(let query) = result else {
            Issue.record("NOTIFY was not accepted")
            return
        }
        #expect(query.header.opcode == .notify)
        #expect(query.notifySerial == 42)
    }

    @Test("a TSIG record that is not the last record is FORMERR (RFC 8945 §5.1)")
    func tsigNotLastIsFormErr() {
        let tsig: [UInt8] = [0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 0]
        let opt: [UInt8] = [0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]
        let packet = setting(plainQuery.bytes + tsig + opt, word: 2, at: 10)
        #expect(check(packet) == .reject(.formErr, questionEnd: plainQuestionEnd, edns: nil))
    }

    @Test(
        "an OPT record in the answer or authority section is FORMERR (RFC 6891 §6.1.1)",
        arguments: [6, 8])
    func optOutsideAdditionalIsFormErr(countOffset: Int) {
        let packet = setting(plainQuery.bytes + optRecord(), word: 1, at: countOffset)
        #expect(check(packet) == .reject(.formErr, questionEnd: plainQuestionEnd, edns: nil))
    }

    /// One OPT as a client sends it and what checkQuery must report.
    struct EDNSCase: Sendable, CustomTestStringConvertible {
        var payload: UInt16 = 1232
        var version: UInt8 = 0
        var dnssecOK = false
        var options: [UInt8] = []
        var expected: EDNSRequest
        var testDescription: String { "payload \(payload) v\(version) DO=\(dnssecOK) options \(options)" }
    }

    @Test(
        "EDNS fields are reported: payload floor of 512, version, DO bit, NSID (RFC 6891 §6.2.5, RFC 3225, RFC 5001)",
        arguments: [
            EDNSCase(
                expected: EDNSRequest(udpPayloadSize: 1232, version: 0, dnssecOK: false, nsidRequested: false)
            ),
            EDNSCase(
                payload: 100,
                expected: EDNSRequest(udpPayloadSize: 512, version: 0, dnssecOK: false, nsidRequested: false)),
            EDNSCase(
                payload: 0,
                expected: EDNSRequest(udpPayloadSize: 512, version: 0, dnssecOK: false, nsidRequested: false)),
            EDNSCase(
                payload: 512,
                expected: EDNSRequest(udpPayloadSize: 512, version: 0, dnssecOK: false, nsidRequested: false)),
            EDNSCase(
                payload: 65535,
                expected: EDNSRequest(
                    udpPayloadSize: 65535, version: 0, dnssecOK: false, nsidRequested: false)),
            // Version 1 is reported as sent; answering BADVERS is the responder's job.
            EDNSCase(
                version: 1,
                expected: EDNSRequest(udpPayloadSize: 1232, version: 1, dnssecOK: false, nsidRequested: false)
            ),
            EDNSCase(
                dnssecOK: true,
                expected: EDNSRequest(udpPayloadSize: 1232, version: 0, dnssecOK: true, nsidRequested: false)),
            EDNSCase(
                options: [0, 3, 0, 0],
                expected: EDNSRequest(udpPayloadSize: 1232, version: 0, dnssecOK: false, nsidRequested: true)),
            // Unknown options are skipped (RFC 6891 §6.1.2), alone and around NSID.
            EDNSCase(
                options: [0xFD, 0xE9, 0, 2, 0xAB, 0xCD],
                expected: EDNSRequest(udpPayloadSize: 1232, version: 0, dnssecOK: false, nsidRequested: false)
            ),
            // A COOKIE's data is located (RFC 7873 §4), an edns-tcp-keepalive's length kept
            // (RFC 7828 §3.1), around an NSID and an unknown option.
            EDNSCase(
                options: [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 0, 0, 0xFF, 0xFF, 0, 0],
                expected: EDNSRequest(
                    udpPayloadSize: 1232, version: 0, dnssecOK: false, nsidRequested: true, cookie: 48..<56)),
            EDNSCase(
                options: [0, 11, 0, 0, 0, 10, 0, 16] + Array(1...16),
                expected: EDNSRequest(
                    udpPayloadSize: 1232, version: 0, dnssecOK: false, nsidRequested: false, cookie: 52..<68,
                    keepaliveLength: 0)),
        ])
    func ednsFieldsAreReported(ednsCase: EDNSCase) {
        let builder = plainQuery.withEDNS(
            payload: ednsCase.payload, version: ednsCase.version, dnssecOK: ednsCase.dnssecOK,
            options: ednsCase.options)
        #expect(
            check(builder.bytes)
                == .query(
                    id: 0x1234, name: wire(["www", "example", "com"]), type: .a, qclass: .internet,
                    questionEnd: plainQuestionEnd, edns: ednsCase.expected))
    }

    @Test("records in the answer, authority and additional sections are skipped after checking")
    func otherRecordsAreSkipped() {
        // An A record with a compressed owner pointing at the QNAME, in each section.
        var record: [UInt8] = [0xC0, 12]
        record.appendWord(RecordType.a.rawValue)
        record.appendWord(DNSClass.internet.rawValue)
        record += [0, 0, 0x0E, 0x10, 0, 4, 192, 0, 2, 1]
        var packet = plainQuery.withEDNS(dnssecOK: true).bytes
        let opt = Array(packet[plainQuestionEnd...])
        packet = Array(packet[..<plainQuestionEnd]) + record + record + record + opt
        packet = setting(setting(setting(packet, word: 1, at: 6), word: 1, at: 8), word: 2, at: 10)
        #expect(
            check(packet)
                == .query(
                    id: 0x1234, name: wire(["www", "example", "com"]), type: .a, qclass: .internet,
                    questionEnd: plainQuestionEnd,
                    edns: EDNSRequest(udpPayloadSize: 1232, version: 0, dnssecOK: true, nsidRequested: false))
        )
        // The same record with RDLENGTH running past the end is FORMERR.
        var broken = Array(packet[..<plainQuestionEnd]) + record
        broken[broken.count - 5] = 40
        broken = setting(setting(broken, word: 1, at: 6), word: 0, at: 8)
        broken = setting(broken, word: 0, at: 10)
        #expect(check(broken) == .reject(.formErr, questionEnd: plainQuestionEnd, edns: nil))
    }

    @Test("a CHAOS-class question is accepted as a query; the class is the responder's concern")
    func chaosClassIsPassedThrough() {
        var builder = QueryBuilder("version.bind.", .txt)
        builder.qclass = .chaos
        #expect(
            check(builder.bytes)
                == .query(
                    id: 0x1234, name: wire(["version", "bind"]), type: .txt, qclass: .chaos,
                    questionEnd: 12 + 14 + 4,
                    edns: nil))
    }
}
