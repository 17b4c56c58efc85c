import DNSWire

/// The TSIG RR of a received message (RFC 8945 §4.2), names lowercased.
public struct TSIGRecord: Sendable, Equatable {
    /// The owner name: the key name as sent, lowercased.
    public var keyName: DomainName
    /// The Algorithm Name, lowercased.
    public var algorithmName: DomainName
    /// Seconds since 1970-01-01 UTC, 48 bits on the wire.
    public var timeSigned: UInt64
    /// Seconds of error permitted in Time Signed.
    public var fudge: UInt16
    /// The MAC as sent (possibly truncated, empty in BADKEY/BADSIG answers).
    public var mac: [UInt8]
    /// The message ID the signer saw (RFC 8945 §4.2), used in place of the header ID in the MAC.
    public var originalID: UInt16
    /// The TSIG Error field (``TSIGErrorCode``).
    public var error: UInt16
    public var otherData: [UInt8]
    /// Offset of the TSIG RR's owner name in the message (it must be the last record).
    public var recordOffset: Int

    public init(
        keyName: DomainName, algorithmName: DomainName, timeSigned: UInt64, fudge: UInt16, mac: [UInt8],
        originalID: UInt16, error: UInt16, otherData: [UInt8], recordOffset: Int
    ) {
        self.keyName = keyName
        self.algorithmName = algorithmName
        self.timeSigned = timeSigned
        self.fudge = fudge
        self.mac = mac
        self.originalID = originalID
        self.error = error
        self.otherData = otherData
        self.recordOffset = recordOffset
    }
}

/// What ``parseTSIG(in:)`` found.
public enum TSIGParse: Sendable, Equatable {
    /// No TSIG RR: the message is unsigned.
    case absent
    /// Broken bytes, or a TSIG RR that is not the last record of the additional section, or one
    /// whose CLASS is not ANY or TTL not 0: answer FORMERR (RFC 8945 §5.2, §4.2).
    case malformed
    case present(TSIGRecord)
}

/// Finds and parses the TSIG RR, which must be the last record of the additional section
/// (RFC 8945 §5.1, §5.2). Every record of the message is walked: a TSIG anywhere else, bytes that do
/// not parse, or bytes after the last record make the message `.malformed` (FORMERR), signed or not.
public func parseTSIG(in message: UnsafeRawBufferPointer) -> TSIGParse {
    guard let header = DNSHeader(message) else { return .malformed }
    var reader = WireReader(message, offset: DNSHeader.length)
    let recordCount = Int(header.answerCount) + Int(header.authorityCount) + Int(header.additionalCount)
    do {
        for _ in 0..<header.questionCount {
            try reader.readName(into: nil)
            try reader.skip(4)  // QTYPE, QCLASS
        }
        guard recordCount > 0 else { return reader.remaining == 0 ? .absent : .malformed }
        for _ in 0..<(recordCount - 1) {
            try reader.readName(into: nil)
            // RFC 8945 §5.2: a TSIG RR in any other position is a format error.
            guard try reader.readUInt16() != RecordType.tsig.rawValue else { return .malformed }
            try reader.skip(6)  // CLASS, TTL
            try reader.skip(Int(try reader.readUInt16()))
        }
    } catch {
        return .malformed
    }
    return readLastRecord(message, at: reader.offset, inAdditional: header.additionalCount > 0)
}

/// ``parseTSIG(in:)`` for a caller that has already walked the message and checked that no earlier
/// record is a TSIG RR: parses the last additional record, which starts at `lastRecordOffset`.
/// `.absent` when it is not a TSIG RR; `.malformed` when it is broken or the message goes on after it.
public func parseTSIG(in message: UnsafeRawBufferPointer, lastRecordOffset: Int) -> TSIGParse {
    guard lastRecordOffset >= DNSHeader.length, lastRecordOffset <= message.count else { return .malformed }
    return readLastRecord(message, at: lastRecordOffset, inAdditional: true)
}

/// Reads the record at `offset`, the last of the message; `inAdditional` tells whether it belongs
/// to the additional section, the only place a TSIG RR may be.
private func readLastRecord(_ message: UnsafeRawBufferPointer, at offset: Int, inAdditional: Bool)
    -> TSIGParse
{
    var reader = WireReader(message, offset: offset)
    return withUnsafeTemporaryAllocation(byteCount: 2 * NameLimits.maxWireLength, alignment: 1) {
        scratch -> TSIGParse in
        let ownerBuffer = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<NameLimits.maxWireLength])
        let algorithmBuffer = UnsafeMutableRawBufferPointer(rebasing: scratch[NameLimits.maxWireLength...])
        do {
            let ownerLength = try reader.readName(into: ownerBuffer)
            let type = try reader.readUInt16()
            guard type == RecordType.tsig.rawValue else {
                try reader.skip(6)
                try reader.skip(Int(try reader.readUInt16()))
                return reader.remaining == 0 ? .absent : .malformed
            }
            // RFC 8945 §4.2: CLASS ANY, TTL 0; the RR ends the message.
            guard inAdditional, try reader.readUInt16() == DNSClass.any.rawValue,
                try reader.readUInt32() == 0,
                Int(try reader.readUInt16()) == reader.remaining
            else { return .malformed }
            let algorithmLength = try reader.readName(into: algorithmBuffer)
            let timeSigned = UInt64(try reader.readUInt16()) << 32 | UInt64(try reader.readUInt32())
            let fudge = try reader.readUInt16()
            let macSize = Int(try reader.readUInt16())
            let mac = try readBytes(&reader, count: macSize)
            let originalID = try reader.readUInt16()
            let error = try reader.readUInt16()
            let otherLength = Int(try reader.readUInt16())
            let otherData = try readBytes(&reader, count: otherLength)
            guard reader.remaining == 0 else { return .malformed }
            return .present(
                TSIGRecord(
                    keyName: lowercasedName(ownerBuffer, length: ownerLength),
                    algorithmName: lowercasedName(algorithmBuffer, length: algorithmLength),
                    timeSigned: timeSigned, fudge: fudge, mac: mac, originalID: originalID, error: error,
                    otherData: otherData, recordOffset: offset))
        } catch {
            return .malformed
        }
    }
}

/// The next `count` octets as an array.
private func readBytes(_ reader: inout WireReader, count: Int) throws(WireError) -> [UInt8] {
    let start = reader.offset
    try reader.skip(count)
    return Array(reader.bytes[start..<(start + count)])
}

/// A name decoded by `WireReader.readName` (so valid), lowercased.
private func lowercasedName(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> DomainName {
    DomainName(trustedWire: buffer[0..<length].map(asciiLowercase))
}
