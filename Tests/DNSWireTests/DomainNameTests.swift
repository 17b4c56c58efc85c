import DNSWire
import Testing

/// Wire bytes of `labels` followed by the root label, for expected values written out by hand.
func wire(_ labels: [String]) -> [UInt8] {
    labels.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
}

/// A label of `count` copies of `character`.
func label(_ count: Int, _ character: Character = "a") -> String {
    String(repeating: character, count: count)
}

@Suite("DomainName: presentation format, limits and comparison (RFC 1035 §2.3.4, §5.1; RFC 4343)")
struct DomainNameTests {
    @Test(
        "presentation text parses to the expected wire bytes",
        arguments: [
            ("www.example.com.", wire(["www", "example", "com"])),
            ("Www.Example.COM.", wire(["Www", "Example", "COM"])),
            (".", [0]),
            ("com.", wire(["com"])),
            // `\.` is a dot inside a label, not a separator.
            ("a\\.b.example.", wire(["a.b", "example"])),
            // `\DDD` is a decimal octet: 046 is ".", 065 is "A", 000 is NUL.
            ("a\\046b.example.", wire(["a.b", "example"])),
            ("\\065.", wire(["A"])),
            ("\\000x.", [2, 0, UInt8(ascii: "x"), 0]),
            ("\\255.", [1, 255, 0]),
            // Any other escaped character stands for itself.
            ("a\\\\b.", wire(["a\\b"])),
            ("\\@.", wire(["@"])),
        ] as [(String, [UInt8])])
    func presentationParses(text: String, expected: [UInt8]) throws {
        let name = try #require(DomainName(text))
        #expect(name.wire == expected)
    }

    @Test("a name without the final dot is relative to the root, so equals the absolute form")
    func relativeNameIsTakenFromTheRoot() throws {
        let relative = try #require(DomainName("www.example.com"))
        let absolute = try #require(DomainName("www.example.com."))
        #expect(relative == absolute)
        #expect(relative.description == "www.example.com.")
        // An escaped final dot is part of the label, not the root: the name stays one label long.
        let escapedDot = try #require(DomainName("example\\."))
        #expect(escapedDot.wire == wire(["example."]))
    }

    @Test(
        "malformed presentation text is refused",
        arguments: [
            "a..example.",  // empty label in the middle
            ".example.",  // empty first label
            "..",  // two empty labels
            "a\\256.",  // decimal escape above 255
            "a\\04",  // decimal escape cut short
            "a\\0x1.",  // decimal escape with a non-digit
            "a\\",  // backslash at the end
        ])
    func malformedTextIsRefused(text: String) {
        #expect(DomainName(text) == nil)
    }

    @Test("a 63-octet label is accepted and a 64-octet label refused (RFC 1035 §2.3.4)")
    func labelLengthLimitIs63() throws {
        let longest = try #require(DomainName(label(63) + ".com."))
        #expect(longest.wire.first == 63)
        #expect(longest.labelCount == 2)
        #expect(DomainName(label(64) + ".com.") == nil)
        #expect(DomainName(label(64)) == nil)
        // Escapes count as one octet each: 63 escaped dots are a legal label, 64 are not.
        #expect(DomainName(String(repeating: "\\046", count: 63) + ".")?.wire.count == 65)
        #expect(DomainName(String(repeating: "\\046", count: 64) + ".") == nil)
    }

    @Test("a name of 255 wire octets is accepted and one of 256 refused (RFC 1035 §2.3.4)")
    func nameLengthLimitIs255Octets() throws {
        // 3 × (1 + 63) + (1 + 61) + 1 root octet = 255.
        let longest = try #require(
            DomainName([label(63), label(63), label(63), label(61)].joined(separator: ".") + "."))
        #expect(longest.wire.count == 255)
        // One more octet in the last label makes 256.
        #expect(DomainName([label(63), label(63), label(63), label(62)].joined(separator: ".") + ".") == nil)
        // Many short labels hit the same limit: 127 × "a." is 255 octets, 128 × is 257.
        #expect(DomainName(String(repeating: "a.", count: 127))?.wire.count == 255)
        #expect(DomainName(String(repeating: "a.", count: 128)) == nil)
    }

    @Test(
        "wire bytes breaking the invariant are refused by init?(wire:)",
        arguments: [
            [],  // nothing
            [1, 0x61],  // no root label
            [0, 0],  // bytes after the root label
            [2, 0x61, 0],  // label overruns into the root label
            [64] + [UInt8](repeating: 0x61, count: 64) + [0],  // 64-octet label
            [0xC0, 0x0C],  // a compression pointer is not an uncompressed name
            Array(repeating: [1, 0x61], count: 128).flatMap { $0 } + [0],  // 257 octets
        ] as [[UInt8]])
    func invalidWireIsRefused(bytes: [UInt8]) {
        #expect(DomainName(wire: bytes) == nil)
        #expect(!DomainName.isValidWire(bytes))
    }

    @Test("equality is exact but lowercased() compares ASCII case-insensitively (RFC 4343 §3)")
    func lowercasedFoldsOnlyASCII() throws {
        let mixed = try #require(DomainName("WwW.ExAmPlE.CoM."))
        let lower = try #require(DomainName("www.example.com."))
        #expect(mixed != lower)
        #expect(mixed.lowercased() == lower)
        #expect(mixed.lowercased().description == "www.example.com.")
        // Octets outside A–Z are untouched: 0xC4 (Ä in Latin-1) and "[" (0x5B, just after Z).
        let other = try #require(DomainName("\\196Z[.example."))
        #expect(
            other.lowercased().wire == [3, 0xC4, UInt8(ascii: "z"), UInt8(ascii: "["), 7]
                + Array("example".utf8) + [0])
    }

    @Test(
        "isSubdomain(of:) matches whole labels only, case-insensitively",
        arguments: [
            ("www.example.com.", "example.com.", true),
            ("example.com.", "example.com.", true),
            ("a.b.c.example.com.", "example.com.", true),
            ("WWW.EXAMPLE.COM.", "example.com.", true),
            ("www.example.com.", "EXAMPLE.com.", true),
            ("anything.", ".", true),
            (".", ".", true),
            // Same trailing bytes, but not on a label boundary.
            ("xexample.com.", "example.com.", false),
            ("www.xexample.com.", "example.com.", false),
            // One label "a.example" (escaped dot) ending in "example.com" bytes.
            ("a\\.example.com.", "example.com.", false),
            // The parent is not below the child; siblings are unrelated.
            ("example.com.", "www.example.com.", false),
            ("example.org.", "example.com.", false),
            (".", "com.", false),
        ] as [(String, String, Bool)])
    func subdomainOnLabelBoundaries(name: String, ancestor: String, expected: Bool) throws {
        let child = try #require(DomainName(name))
        let parent = try #require(DomainName(ancestor))
        #expect(child.isSubdomain(of: parent) == expected)
    }

    @Test(
        "description escapes special and non-printable octets (RFC 1035 §5.1)",
        arguments: [
            (wire(["www", "example"]), "www.example."),
            ([0], "."),
            (wire(["a.b", "example"]), "a\\.b.example."),
            (wire(["semi;colon"]), "semi\\;colon."),
            (wire(["back\\slash"]), "back\\\\slash."),
            (wire(["(paren)"]), "\\(paren\\)."),
            (wire(["\"q\""]), "\\\"q\\\"."),
            (wire(["@"]), "\\@."),
            (wire(["$x"]), "\\$x."),
            (wire(["sp ace"]), "sp\\032ace."),
            ([3, 0x00, 0x7F, 0xFF, 0], "\\000\\127\\255."),
            (wire(["Keep-Case_1"]), "Keep-Case_1."),
        ] as [([UInt8], String)])
    func descriptionEscapes(bytes: [UInt8], expected: String) throws {
        let name = try #require(DomainName(wire: bytes))
        #expect(name.description == expected)
        // What description prints parses back to the same bytes.
        #expect(DomainName(expected)?.wire == bytes)
    }

    @Test("labelCount, parent and prepending(label:) walk the tree one label at a time")
    func parentAndPrepending() throws {
        let name = try #require(DomainName("www.example.com."))
        #expect(name.labelCount == 3)
        #expect(name.parent == DomainName("example.com."))
        #expect(name.parent?.parent?.parent == .root)
        #expect(DomainName.root.parent == nil)
        #expect(DomainName.root.labelCount == 0)
        #expect(DomainName.root.isRoot)
        let parent = try #require(name.parent)
        #expect(parent.prepending(label: Array("*".utf8))?.description == "*.example.com.")
        #expect(parent.prepending(label: []) == nil)
        #expect(parent.prepending(label: Array(repeating: 0x61, count: 64)) == nil)
        // Prepending past 255 octets is refused rather than building an invalid name.
        let long = try #require(
            DomainName([label(63), label(63), label(63), label(61)].joined(separator: ".") + "."))
        #expect(long.prepending(label: [0x61]) == nil)
    }
}
