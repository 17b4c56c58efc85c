/// A bounds-checked reader over a message received from the network.
///
/// Invariant: `0 <= offset <= bytes.count`. Every read checks the remaining length first and throws
/// ``WireError/truncated(offset:)`` rather than reading past the end. It never allocates.
public struct WireReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        precondition(offset >= 0 && offset <= bytes.count, "offset \(offset) outside 0...\(bytes.count)")
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func readUInt8() throws(WireError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readUInt16() throws(WireError) -> UInt16 {
        guard remaining >= 2 else { throw .truncated(offset: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    public mutating func readUInt32() throws(WireError) -> UInt32 {
        guard remaining >= 4 else { throw .truncated(offset: offset) }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }

    public mutating func skip(_ count: Int) throws(WireError) {
        guard count >= 0, remaining >= count else { throw .truncated(offset: offset) }
        offset += count
    }

    /// Decodes the possibly compressed name at the current offset into `output` as uncompressed
    /// wire format, case preserved, and moves past it (past the first pointer if there is one).
    ///
    /// Defences (RFC 1035 §4.1.4): each pointer must point strictly before the
    /// position it was read from and before every earlier jump target, so forward pointers,
    /// self-pointers and loops are rejected; pointers into the header are rejected; labels over 63
    /// octets and names over 255 are rejected.
    ///
    /// - Parameter output: at least 255 writable bytes, or `nil` to validate and skip only.
    /// - Returns: the length of the uncompressed name written (or that would be written).
    @discardableResult
    public mutating func readName(into output: UnsafeMutableRawBufferPointer?) throws(WireError) -> Int {
        precondition(output == nil || output!.count >= NameLimits.maxWireLength, "name buffer too small")
        var position = offset
        var jumpLimit = offset  // a pointer must land strictly below this
        var resumeOffset: Int? = nil
        var written = 0
        while true {
            guard position < bytes.count else { throw .truncated(offset: position) }
            let length = Int(bytes[position])
            switch length & 0xC0 {
            case 0xC0:
                guard position + 1 < bytes.count else { throw .truncated(offset: position) }
                let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < jumpLimit, target >= DNSHeader.length else {
                    throw .badPointer(offset: position)
                }
                if resumeOffset == nil { resumeOffset = position + 2 }
                jumpLimit = target
                position = target
            case 0x00:
                guard written + 1 + length <= NameLimits.maxWireLength else {
                    throw .nameTooLong(offset: position)
                }
                guard position + 1 + length <= bytes.count else { throw .truncated(offset: position) }
                if let output {
                    output[written] = UInt8(length)
                    if length > 0 {
                        output.baseAddress!.advanced(by: written + 1).copyMemory(
                            from: bytes.baseAddress!.advanced(by: position + 1), byteCount: length)
                    }
                }
                written += 1 + length
                position += 1 + length
                if length == 0 {
                    offset = resumeOffset ?? position
                    return written
                }
            default:
                throw .badLabel(offset: position)
            }
        }
    }
}
