import DNSWire
import Testing

@Suite("Open code spaces: RecordType, DNSClass, RCode (RFC 3597, RFC 6895, RFC 6891 §6.1.3)")
struct CodeSpaceTests {
    @Test(
        "every 16-bit TYPE is representable; unknown ones print as TYPEnnn (RFC 3597 §5)",
        arguments: [
            (1, "A"), (2, "NS"), (5, "CNAME"), (6, "SOA"), (15, "MX"), (16, "TXT"), (28, "AAAA"), (33, "SRV"),
            (39, "DNAME"), (41, "OPT"), (43, "DS"), (255, "ANY"),
            (0, "TYPE0"), (99, "TYPE99"), (65400, "TYPE65400"), (65535, "TYPE65535"),
        ] as [(UInt16, String)])
    func recordTypeDescription(value: UInt16, expected: String) {
        let type = RecordType(rawValue: value)
        #expect(type.description == expected)
        #expect(type.rawValue == value)
    }

    @Test("static members and raw values are the same values")
    func recordTypeConstantsMatchRawValues() {
        #expect(RecordType(rawValue: 65400) == RecordType(rawValue: 65400))
        #expect(RecordType(rawValue: 28) == .aaaa)
        #expect(RecordType(rawValue: 65400) != .any)
        #expect(Set([RecordType.a, RecordType(rawValue: 1), .aaaa]).count == 2)
    }

    @Test(
        "meta-types and QTYPEs (OPT, 128–255) are flagged; data types are not (RFC 6895 §3.1)",
        arguments: [
            (41, true), (128, true), (250, true), (252, true), (255, true),
            (1, false), (40, false), (42, false), (127, false), (256, false), (65400, false),
        ] as [(UInt16, Bool)])
    func metaTypes(value: UInt16, isMeta: Bool) {
        #expect(RecordType(rawValue: value).isMeta == isMeta)
    }

    @Test(
        "classes print their mnemonic or CLASSnnn",
        arguments: [
            (1, "IN"), (3, "CH"), (4, "HS"), (254, "NONE"), (255, "ANY"), (2, "CLASS2"), (4660, "CLASS4660"),
        ]
            as [(UInt16, String)])
    func classDescription(value: UInt16, expected: String) {
        #expect(DNSClass(rawValue: value).description == expected)
    }

    @Test(
        "an RCODE splits into four header bits and eight OPT bits (RFC 6891 §6.1.3)",
        arguments: [
            (RCode.noError, 0, 0, "NOERROR"),
            (RCode.formErr, 1, 0, "FORMERR"),
            (RCode.nxDomain, 3, 0, "NXDOMAIN"),
            (RCode.notImp, 4, 0, "NOTIMP"),
            (RCode.refused, 5, 0, "REFUSED"),
            (RCode(rawValue: 15), 15, 0, "RCODE15"),
            // BADVERS = 16: nothing in the header, 1 in the extended field.
            (RCode.badVers, 0, 1, "BADVERS"),
            (RCode(rawValue: 23), 7, 1, "BADCOOKIE"),
            (RCode(rawValue: 4095), 15, 255, "RCODE4095"),
        ] as [(RCode, UInt8, UInt8, String)])
    func rcodeBits(rcode: RCode, header: UInt8, extended: UInt8, description: String) {
        #expect(rcode.headerBits == header)
        #expect(rcode.extendedBits == extended)
        #expect(UInt16(rcode.extendedBits) << 4 | UInt16(rcode.headerBits) == rcode.rawValue)
        #expect(rcode.description == description)
    }

    @Test("the header's flag word exposes QR, OPCODE, the flag bits and the RCODE bits")
    func headerFields() throws {
        let bytes: [UInt8] = [0xAB, 0xCD, 0xAD, 0x93, 0, 1, 0, 2, 0, 3, 0, 4]
        let header = try #require(bytes.withUnsafeBytes { DNSHeader($0) })
        #expect(header.id == 0xABCD)
        #expect(header.isResponse)
        #expect(header.opcode == Opcode(rawValue: 5))
        #expect(header.has(DNSHeader.Flag.aa))
        #expect(header.has(DNSHeader.Flag.rd))
        #expect(!header.has(DNSHeader.Flag.tc))
        #expect(header.has(DNSHeader.Flag.ra))
        #expect(header.has(DNSHeader.Flag.cd))
        #expect(!header.has(DNSHeader.Flag.ad))
        #expect(header.rcodeBits == 3)
        #expect(
            [header.questionCount, header.answerCount, header.authorityCount, header.additionalCount] == [
                1, 2, 3, 4,
            ])
        #expect(Array(bytes.prefix(11)).withUnsafeBytes { DNSHeader($0) } == nil)
    }
}

@Suite("NameView: a lowercased name and every ancestor as slices of one buffer")
struct NameViewTests {
    /// Runs `body` with a view over `text` built in scratch memory.
    func withView<R>(_ text: String, _ body: (NameView) throws -> R) rethrows -> R {
        let storage = UnsafeMutableRawBufferPointer.allocate(
            byteCount: NameLimits.maxWireLength, alignment: 1)
        let starts = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 128)
        defer {
            storage.deallocate()
            starts.deallocate()
        }
        return try DomainName(text)!.wire.withUnsafeBytes { source in
            try body(NameView(loweringName: source, storage: storage, starts: starts))
        }
    }

    @Test("suffix(dropping:) yields each ancestor down to the root, lowercased")
    func suffixesAreAncestors() {
        withView("WWW.Example.COM.") { view in
            #expect(view.labelCount == 3)
            #expect(Array(view.bytes) == wire(["www", "example", "com"]))
            #expect(Array(view.suffix(dropping: 0)) == wire(["www", "example", "com"]))
            #expect(Array(view.suffix(dropping: 1)) == wire(["example", "com"]))
            #expect(Array(view.suffix(dropping: 2)) == wire(["com"]))
            #expect(Array(view.suffix(dropping: 3)) == [0])
            #expect(Array(view.labelStarts) == [0, 4, 12, 16])
        }
    }

    @Test("the root has no labels and its only suffix is itself")
    func rootView() {
        withView(".") { view in
            #expect(view.labelCount == 0)
            #expect(Array(view.suffix(dropping: 0)) == [0])
        }
    }

    @Test("a 127-label, 255-octet name fits the documented scratch sizes")
    func longestNameFitsScratch() {
        withView(String(repeating: "A.", count: 127)) { view in
            #expect(view.labelCount == 127)
            #expect(view.bytes.count == 255)
            #expect(view.labelStarts.last == 254)
            #expect(Array(view.suffix(dropping: 126)) == [1, UInt8(ascii: "a"), 0])
        }
    }

    @Test("octets outside A–Z are copied unchanged, escaped dots included")
    func onlyASCIIIsLowered() {
        withView("A\\.B\\200.") { view in
            #expect(view.labelCount == 1)
            #expect(
                Array(view.bytes) == [4, UInt8(ascii: "a"), UInt8(ascii: "."), UInt8(ascii: "b"), 200, 0])
        }
    }
}
