import DNSWire
import Testing

/// A 12-octet header of zeros followed by `body`: offsets in `body` start at 12.
func message(_ body: [UInt8]) -> [UInt8] {
    [UInt8](repeating: 0, count: DNSHeader.length) + body
}

/// Decodes the name at `offset` of `bytes` with ``WireReader/readName(into:)``.
///
/// - Returns: the decoded name, the reader's offset afterwards and the length `readName` returned.
func readName(_ bytes: [UInt8], at offset: Int) -> Result<(name: [UInt8], next: Int, length: Int), WireError>
{
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: NameLimits.maxWireLength, alignment: 1)
    defer { output.deallocate() }
    return bytes.withUnsafeBytes { packet in
        var reader = WireReader(packet, offset: offset)
        do throws(WireError) {
            let length = try reader.readName(into: output)
            return .success((Array(output[0..<length]), reader.offset, length))
        } catch {
            return .failure(error)
        }
    }
}

/// The error `readName` throws for the name at `offset`, or `nil` if it decodes.
func nameError(_ bytes: [UInt8], at offset: Int) -> WireError? {
    if case .failure(let error) = readName(bytes, at: offset) { return error }
    return nil
}

let exampleCom = wire(["example", "com"])

@Suite("WireReader: bounds-checked reads and compressed names (RFC 1035 §4.1.4)")
struct WireReaderTests {
    @Test("a backward pointer to a suffix decodes to the full name, and the reader resumes after the pointer")
    func backwardCompressionDecodes() throws {
        // 12: www.example.com.   29: mail + pointer to 16 ("example.com.")
        let bytes = message(wire(["www", "example", "com"]) + [4] + Array("mail".utf8) + [0xC0, 16])
        let first = try readName(bytes, at: 12).get()
        #expect(first.name == wire(["www", "example", "com"]))
        #expect(first.next == 29)
        let second = try readName(bytes, at: 29).get()
        #expect(second.name == wire(["mail", "example", "com"]))
        #expect(second.length == 18)
        #expect(second.next == 36, "resume just past the first pointer, not where the jump ended")
    }

    @Test("a pointer to a pointer to a suffix decodes (each jump strictly backward)")
    func chainedBackwardPointersDecode() throws {
        // 12: example.com.   25: "mail" + ptr(12)   32: ptr(25)
        let bytes = message(exampleCom + [4] + Array("mail".utf8) + [0xC0, 12] + [0xC0, 25])
        let decoded = try readName(bytes, at: 32).get()
        #expect(decoded.name == wire(["mail", "example", "com"]))
        #expect(decoded.next == 34)
    }

    @Test("decoding through a pointer keeps the case of every label: names are copied, not lowercased")
    func decodingPreservesCase() throws {
        let bytes = message(wire(["ExAmple", "COM"]) + [1, UInt8(ascii: "W"), 0xC0, 12])
        #expect(try readName(bytes, at: 25).get().name == wire(["W", "ExAmple", "COM"]))
    }

    @Test("readName(into: nil) validates and skips a name without writing it")
    func readNameWithoutOutputSkips() throws {
        let bytes = message(exampleCom + [1, 0x61, 0xC0, 12, 0xEE])
        try bytes.withUnsafeBytes { packet throws in
            var reader = WireReader(packet, offset: 25)
            let length = try reader.readName(into: nil)
            #expect(length == 15)
            #expect(reader.offset == 29)
            #expect(try reader.readUInt8() == 0xEE)
        }
    }

    @Test("a pointer forward of its own position is rejected as badPointer")
    func forwardCompressionPointerIsRejected() {
        // 12: pointer to 14, where a valid root label waits.
        #expect(nameError(message([0xC0, 14, 0]), at: 12) == .badPointer(offset: 12))
        // After a label: 12: "a" then pointer at 14 to 16.
        #expect(nameError(message([1, 0x61, 0xC0, 16, 0]), at: 12) == .badPointer(offset: 14))
    }

    @Test("a pointer to itself is rejected as badPointer instead of looping forever")
    func selfPointerIsRejected() {
        #expect(nameError(message([0xC0, 12]), at: 12) == .badPointer(offset: 12))
        // A name after some other data pointing at its own first octet.
        #expect(nameError(message([0, 0, 0xC0, 14]), at: 14) == .badPointer(offset: 14))
    }

    @Test("two pointers that point at each other are rejected as badPointer")
    func pointerLoopIsRejected() {
        // 12: "a" + ptr(16)   16: ptr(12). Reading at 16 jumps back to 12, whose pointer leads
        // forward to 16 again: not strictly before the previous jump target.
        let bytes = message([1, 0x61, 0xC0, 16, 0xC0, 12])
        #expect(nameError(bytes, at: 16) == .badPointer(offset: 14))
        // A pointer back into the middle of the name it belongs to also loops.
        let intoOwnName = message([1, 0x61, 1, 0x62, 0xC0, 14])
        #expect(nameError(intoOwnName, at: 12) == .badPointer(offset: 16))
    }

    @Test("a pointer into the 12-octet header is rejected as badPointer")
    func pointerIntoHeaderIsRejected() {
        for target: UInt8 in [0, 5, 11] {
            #expect(
                nameError(message([0xC0, target]), at: 12) == .badPointer(offset: 12), "target \(target)")
        }
        // The 14-bit offset is read whole: 0xC1 0x00 is offset 256, forward here.
        #expect(nameError(message([0xC1, 0x00]), at: 12) == .badPointer(offset: 12))
    }

    @Test(
        "label types 0b01 and 0b10 (0x40, 0x80) are rejected as badLabel",
        arguments: [0x40, 0x41, 0x7F, 0x80, 0xBF] as [UInt8])
    func reservedLabelTypesAreRejected(octet: UInt8) {
        let filler = [UInt8](repeating: 0x61, count: 70) + [0]
        #expect(nameError(message([octet] + filler), at: 12) == .badLabel(offset: 12))
        #expect(nameError(message([1, 0x61, octet] + filler), at: 12) == .badLabel(offset: 14))
    }

    @Test("a name of exactly 255 octets decodes; 256 is rejected as nameTooLong")
    func nameLengthLimitOnTheWire() throws {
        let longest = wire([label(63), label(63), label(63), label(61)])
        #expect(try readName(message(longest), at: 12).get().length == 255)
        let tooLong = wire([label(63), label(63), label(63), label(62)])
        // The four labels fill 255 octets; the root label would be octet 256.
        #expect(nameError(message(tooLong), at: 12) == .nameTooLong(offset: 12 + 255))
    }

    @Test("a name that only passes 255 octets through compression pointers is rejected as nameTooLong")
    func nameTooLongThroughPointersIsRejected() throws {
        // 12: three 63-octet labels + root (193 octets, ends at 205).
        // 205: a 63-octet label + pointer to 12 → 64 + 193 = 257 octets once decoded.
        let base = wire([label(63), label(63), label(63)])
        let bytes = message(base + [63] + Array(label(63, "b").utf8) + [0xC0, 12])
        #expect(try readName(bytes, at: 12).get().length == 193)
        // The third label of the target (offset 12 + 128) would bring the name to 256 octets.
        #expect(nameError(bytes, at: 205) == .nameTooLong(offset: 140))
    }

    @Test(
        "a message ending inside a name is rejected as truncated at the incomplete field",
        arguments: [
            ([5, 0x61, 0x62], 12),  // mid-label: 5 octets announced, 2 present
            ([1, 0x61], 14),  // no root label after a complete label
            ([1, 0x61, 0xC0], 14),  // mid-pointer: second pointer octet missing
            ([0xC0], 12),  // a lone pointer octet
            ([], 12),  // nothing at all
        ] as [([UInt8], Int)])
    func truncatedNameIsRejected(body: [UInt8], offset: Int) {
        #expect(nameError(message(body), at: 12) == .truncated(offset: offset))
    }

    @Test("fixed-size reads throw truncated at the field's start and do not move the offset")
    func integerReadsAreBoundsChecked() throws {
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]
        try bytes.withUnsafeBytes { packet throws in
            var reader = WireReader(packet)
            #expect(try reader.readUInt8() == 0x01)
            #expect(try reader.readUInt16() == 0x0203)
            #expect(try reader.readUInt32() == 0x0405_0607)
            #expect(reader.remaining == 0)
            #expect(throws: WireError.truncated(offset: 7)) { try reader.readUInt8() }
            #expect(reader.offset == 7)
        }
        try bytes.withUnsafeBytes { packet throws in
            var reader = WireReader(packet, offset: 4)
            #expect(throws: WireError.truncated(offset: 4)) { try reader.readUInt32() }
            #expect(throws: WireError.truncated(offset: 4)) { try reader.skip(4) }
            #expect(throws: WireError.truncated(offset: 4)) { try reader.skip(-1) }
            try reader.skip(3)
            #expect(reader.remaining == 0)
        }
    }
}
