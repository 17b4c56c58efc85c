import DNSWire
import TestSupport
import Testing

/// A writer over fresh scratch memory with a zeroed 12-octet header already written, so names
/// start at offset 12 as in a real message.
func writerWithHeader(_ scratch: ResponseScratch, limit: Int = ResponseScratch.messageCapacity) throws
    -> MessageWriter
{
    var writer = MessageWriter(scratch: scratch, limit: limit)
    for _ in 0..<6 { try writer.append(UInt16(0)) }
    return writer
}

extension MessageWriter {
    mutating func write(name text: String, compress: Bool = true) throws {
        let name = DomainName(text)!
        try name.wire.withUnsafeBytes { bytes in try writeName(bytes, compress: compress) }
    }

    mutating func write(rdata: [UInt8], type: RecordType) throws {
        try rdata.withUnsafeBytes { bytes in try writeRData(bytes, type: type) }
    }

    mutating func write(owner: String, type: RecordType, ttl: UInt32, rdata: [UInt8]) throws {
        let name = DomainName(owner)!
        try name.wire.withUnsafeBytes { ownerBytes in
            try rdata.withUnsafeBytes { rdataBytes in
                try writeRecord(owner: ownerBytes, type: type, ttl: ttl, rdata: rdataBytes)
            }
        }
    }

    /// The octets written from `offset` on.
    func written(from offset: Int) -> [UInt8] { Array(bytes[offset...]) }
}

/// SOA RDATA with the five 32-bit fields 1...5.
func soaRData(mname: String, rname: String) -> [UInt8] {
    DomainName(mname)!.wire + DomainName(rname)!.wire + [
        0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5,
    ]
}

@Suite("MessageWriter: compression (RFC 1035 §4.1.4), limits and RDATA (RFC 3597 §4)")
struct MessageWriterTests {
    @Test("a second name sharing a suffix is written as its own labels plus a pointer to the suffix")
    func sharedSuffixIsCompressed() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        try writer.write(name: "www.example.com.")
        #expect(writer.written(from: 12) == wire(["www", "example", "com"]))
        try writer.write(name: "mail.example.com.")
        // "mail" then a pointer to offset 16, where "example.com." starts.
        #expect(writer.written(from: 29) == [4, 0x6D, 0x61, 0x69, 0x6C, 0xC0, 16])
        try writer.write(name: "com.")
        #expect(writer.written(from: 36) == [0xC0, 24])
        try writer.write(name: "www.example.com.")
        #expect(writer.written(from: 38) == [0xC0, 12])
        // A suffix of a name that was itself compressed: "x.mail.example.com." → "x" + ptr(29).
        try writer.write(name: "x.mail.example.com.")
        #expect(writer.written(from: 40) == [1, 0x78, 0xC0, 29])
        #expect(writer.count == 44)
    }

    @Test("compression matches names case-insensitively and keeps the case of the literal labels")
    func compressionIsCaseInsensitive() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        try writer.write(name: "www.example.com.")
        try writer.write(name: "WWW.EXAMPLE.COM.")
        #expect(writer.written(from: 29) == [0xC0, 12])
        try writer.write(name: "Mail.ExAmPle.com.")
        #expect(writer.written(from: 31) == [4, UInt8(ascii: "M"), 0x61, 0x69, 0x6C, 0xC0, 16])
    }

    @Test("names that share no suffix, and the root, are written uncompressed")
    func unrelatedNamesAreLiteral() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        try writer.write(name: "example.com.")
        try writer.write(name: "example.org.")
        #expect(writer.written(from: 25) == wire(["example", "org"]))
        try writer.write(name: ".")
        #expect(writer.written(from: 38) == [0])
        // "xexample.com." shares "com." only, on a label boundary.
        try writer.write(name: "xexample.com.")
        #expect(writer.written(from: 39) == [8] + Array("xexample".utf8) + [0xC0, 20])
    }

    @Test("compress: false writes the whole name and offers it to no later name")
    func uncompressedNamesAreNotTargets() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        try writer.write(name: "example.com.")
        try writer.write(name: "www.example.com.", compress: false)
        #expect(writer.written(from: 25) == wire(["www", "example", "com"]))
        try writer.write(name: "www.example.com.")
        #expect(writer.written(from: 42) == [3, 0x77, 0x77, 0x77, 0xC0, 12])
    }

    @Test("rememberName(at:) makes a question copied as raw bytes a compression target")
    func rememberedQuestionIsCompressionTarget() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        let question = wire(["www", "example", "com"])
        try question.withUnsafeBytes { bytes in try writer.append(bytes) }
        writer.rememberName(at: 12)
        try writer.write(name: "www.example.com.")
        try writer.write(name: "ns1.example.com.")
        #expect(writer.written(from: 29) == [0xC0, 12, 3, 0x6E, 0x73, 0x31, 0xC0, 16])
    }

    @Test("names past offset 0x3FFF are not compression targets: a pointer has 14 bits")
    func namesBeyondPointerRangeAreNotTargets() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        let padding = [UInt8](repeating: 0, count: 0x4000)
        try padding.withUnsafeBytes { bytes in try writer.append(bytes) }
        let start = writer.count
        try writer.write(name: "far.example.")
        try writer.write(name: "far.example.")
        #expect(writer.written(from: start) == wire(["far", "example"]) + wire(["far", "example"]))
    }

    @Test("passing the limit throws WriteOverflow and leaves the count where it was")
    func limitOverflowThrows() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch, limit: 28)
        let error = #expect(throws: WriteOverflow.self) { try writer.write(name: "www.example.com.") }
        if case .limitReached(let limit) = error { #expect(limit == 28) }
        #expect(writer.count == 12)
        #expect(throws: WriteOverflow.self) {
            try [UInt8](repeating: 0, count: 17).withUnsafeBytes { bytes in
                try writer.append(bytes)
            }
        }
        #expect(writer.count == 12)
        // Exactly up to the limit is fine.
        try writer.write(name: "www.example.co.")
        #expect(writer.count == 28)
        #expect(throws: WriteOverflow.self) { try writer.append(UInt8(0)) }
        // Raising the limit lets writing continue.
        writer.limit = 29
        try writer.append(UInt8(7))
        #expect(writer.count == 29)
    }

    @Test("a compressed name that fits only as a pointer is written within the limit")
    func compressedNameFitsWhereLiteralWouldNot() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch, limit: 31)
        try writer.write(name: "www.example.com.")
        try writer.write(name: "www.example.com.")
        #expect(writer.count == 31)
        #expect(writer.written(from: 29) == [0xC0, 12])
    }

    @Test("rollback(to:) restores the count and forgets names written after the mark")
    func rollbackRestoresCountAndCompressionTable() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch, limit: 40)
        let mark = writer.mark
        try writer.write(name: "www.example.com.")
        // A record that overflows half way: the owner fits, the RDATA does not.
        #expect(throws: WriteOverflow.self) {
            try writer.write(owner: "www.example.com.", type: .a, ttl: 60, rdata: [192, 0, 2, 1])
        }
        #expect(writer.count > 29)
        writer.rollback(to: mark)
        #expect(writer.count == 12)
        // "example.com." is no longer in the message: nothing to point at.
        try writer.write(name: "mail.example.com.")
        #expect(writer.written(from: 12) == wire(["mail", "example", "com"]))
    }

    @Test(
        "NS, CNAME and PTR RDATA names are compressed (RFC 3597 §4)",
        arguments: [RecordType.ns, .cname, .ptr])
    func wellKnownNameRDataIsCompressed(type: RecordType) throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        try writer.write(name: "example.com.")
        try writer.write(rdata: DomainName("ns1.example.com.")!.wire, type: type)
        #expect(writer.written(from: 25) == [3, 0x6E, 0x73, 0x31, 0xC0, 12])
    }

    @Test("MX RDATA keeps its preference and compresses the exchange (RFC 3597 §4)")
    func mxRDataIsCompressed() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        try writer.write(name: "example.com.")
        try writer.write(rdata: [0, 10] + DomainName("mail.example.com.")!.wire, type: .mx)
        #expect(writer.written(from: 25) == [0, 10, 4, 0x6D, 0x61, 0x69, 0x6C, 0xC0, 12])
    }

    @Test("SOA RDATA compresses MNAME and RNAME and copies the five counters (RFC 3597 §4)")
    func soaRDataIsCompressed() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        try writer.write(name: "example.com.")
        try writer.write(rdata: soaRData(mname: "ns1.example.com.", rname: "ns1.example.com."), type: .soa)
        let counters: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5]
        // RNAME points at the MNAME just written.
        #expect(writer.written(from: 25) == [3, 0x6E, 0x73, 0x31, 0xC0, 12, 0xC0, 25] + counters)
    }

    @Test(
        "SRV, DNAME and unknown-type RDATA is copied byte for byte even when it holds a known suffix (RFC 3597 §4, RFC 6672 §2.5)",
        arguments: [
            (RecordType.srv, [0, 1, 0, 2, 0, 53] + wire(["ns1", "example", "com"])),
            (RecordType.dname, wire(["example", "com"])),
            (RecordType(rawValue: 65400), wire(["example", "com"])),
            (RecordType.txt, [11] + Array("example.com".utf8)),
            (RecordType.a, [192, 0, 2, 1]),
        ] as [(RecordType, [UInt8])])
    func otherRDataIsCopiedVerbatim(type: RecordType, rdata: [UInt8]) throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        try writer.write(name: "example.com.")
        try writer.write(rdata: rdata, type: type)
        #expect(writer.written(from: 25) == rdata)
        // Nothing in the copied RDATA became a compression target either.
        try writer.write(name: "ns1.example.com.")
        #expect(writer.written(from: 25 + rdata.count) == [3, 0x6E, 0x73, 0x31, 0xC0, 12])
    }

    @Test("writeRecord writes owner, TYPE, CLASS, TTL and an RDLENGTH that counts the compressed RDATA")
    func recordLayoutAndRDLength() throws {
        let scratch = ResponseScratch()
        var writer = try writerWithHeader(scratch)
        try writer.write(name: "example.com.")
        try writer.write(
            owner: "example.com.", type: .ns, ttl: 0x0102_0304, rdata: DomainName("ns1.example.com.")!.wire)
        #expect(
            writer.written(from: 25) == [
                0xC0, 12, 0, 2, 0, 1, 1, 2, 3, 4, 0, 6, 3, 0x6E, 0x73, 0x31, 0xC0, 12,
            ])
        #expect(writer.uint16(at: 25 + 10) == 6)
        writer.patch(0xABCD, at: 0)
        #expect(writer.uint16(at: 0) == 0xABCD)
    }

    @Test("a message built with the writer decodes back to the same records")
    func writtenMessageRoundTrips() throws {
        let scratch = ResponseScratch()
        var writer = MessageWriter(scratch: scratch)
        for word: UInt16 in [0x4242, DNSHeader.Flag.qr | DNSHeader.Flag.aa, 1, 2, 1, 1] {
            try writer.append(word)
        }
        try writer.write(name: "example.com.")
        try writer.append(RecordType.mx.rawValue)
        try writer.append(DNSClass.internet.rawValue)
        try writer.write(
            owner: "example.com.", type: .mx, ttl: 300,
            rdata: [0, 10] + DomainName("mail.example.com.")!.wire)
        try writer.write(
            owner: "example.com.", type: .mx, ttl: 300, rdata: [0, 20] + DomainName("mx.example.net.")!.wire)
        try writer.write(
            owner: "example.com.", type: .soa, ttl: 60,
            rdata: soaRData(mname: "ns1.example.com.", rname: "hostmaster.example.com."))
        try writer.write(owner: "mail.example.com.", type: .a, ttl: 300, rdata: [192, 0, 2, 25])
        let message = try #require(ParsedMessage(Array(writer.bytes)))
        #expect(message.header.id == 0x4242)
        #expect(message.questionNameExact == "example.com.")
        #expect(message.questionType == .mx)
        #expect(
            message.answer.map(\.description) == [
                "example.com. 300 MX 10 mail.example.com.", "example.com. 300 MX 20 mx.example.net.",
            ])
        #expect(
            message.authority.map(\.description) == [
                "example.com. 60 SOA ns1.example.com. hostmaster.example.com. 1 2 3 4 5"
            ])
        #expect(message.additional.map(\.description) == ["mail.example.com. 300 A 192.0.2.25"])
    }
}
