import DNSWire

/// Adds a TSIG RR to a message being written (RFC 8945 §4.3, §5.3).
///
/// A request signer (``init(key:)``) signs each message on its own. A response signer
/// (``init(key:requestMAC:)``) signs the first message over the request MAC and the full TSIG
/// variables, and each later message of the same stream (RFC 8945 §5.3.1: AXFR/IXFR over TCP) over
/// the prior MAC, the message and the timers only. Every message of a stream is signed.
public struct TSIGSigner: Sendable {
    public let key: TSIGKey
    /// The request MAC for a response signer, `nil` for a request signer.
    private let requestMAC: [UInt8]?
    /// MAC of the last message signed (the request MAC a client keeps to verify the answer).
    public private(set) var lastMAC: [UInt8] = []
    private var signedCount = 0

    /// A signer for requests (our SOA, AXFR, IXFR and NOTIFY queries).
    public init(key: TSIGKey) {
        self.key = key
        self.requestMAC = nil
    }

    /// A signer for the answer to a request whose MAC verified: `requestMAC` is that request's
    /// ``TSIGRecord/mac``.
    public init(key: TSIGKey, requestMAC: [UInt8]) {
        self.key = key
        self.requestMAC = requestMAC
    }

    /// Octets the TSIG RR will take with a full-length MAC and no other data: keep this much room
    /// below the writer's limit.
    public var recordLength: Int { TSIGSigner.recordLength(key: key) }

    /// Octets of a TSIG RR signed with `key` carrying `otherDataLength` octets of other data
    /// (6 for a BADTIME answer): owner, fixed fields, algorithm name, MAC.
    public static func recordLength(key: TSIGKey, otherDataLength: Int = 0) -> Int {
        key.name.wire.count + 10 + key.algorithm.wireName.wire.count + 16 + key.algorithm.macLength
            + otherDataLength
    }

    /// Signs the message written so far and appends the TSIG RR, incrementing ARCOUNT (RFC 8945
    /// §4.3). The Original ID is the message's ID (header bytes 0-1). On overflow the writer is left
    /// as it was and the signer unchanged.
    ///
    /// - Parameters:
    ///   - time: Time Signed, seconds since 1970-01-01 UTC. A BADTIME answer carries the request's
    ///     Time Signed here (RFC 8945 §5.2.3).
    ///   - fudge: seconds of clock error allowed; a BADTIME answer echoes the request's.
    ///   - error: the TSIG Error; `.badTime` or `.badTrunc` for the signed error answers of §5.3.2.
    ///   - otherData: ``badTimeOtherData(now:)`` for a BADTIME answer, else empty.
    public mutating func sign(
        _ writer: inout MessageWriter, time: UInt64, fudge: UInt16 = 300, error: TSIGErrorCode = .noError,
        otherData: [UInt8] = []
    ) throws(WriteOverflow) {
        let message = writer.bytes
        precondition(message.count >= DNSHeader.length, "not a DNS message: \(message.count) octets")
        let mac = computeMAC(message, time: time, fudge: fudge, error: error, otherData: otherData)
        let record = tsigRecordBytes(
            keyName: key.name, algorithmName: key.algorithm.wireName, time: time, fudge: fudge, mac: mac,
            originalID: UInt16(message[0]) << 8 | UInt16(message[1]), error: error.rawValue,
            otherData: otherData)
        try append(record, to: &writer)
        lastMAC = mac
        signedCount += 1
    }

    /// ``sign(_:time:fudge:error:otherData:)`` for a message held in an array (the transfer client
    /// builds its requests in arrays).
    public mutating func sign(
        _ message: inout [UInt8], time: UInt64, fudge: UInt16 = 300, error: TSIGErrorCode = .noError,
        otherData: [UInt8] = []
    ) {
        precondition(message.count >= DNSHeader.length, "not a DNS message: \(message.count) octets")
        let mac = message.withUnsafeBytes {
            computeMAC($0, time: time, fudge: fudge, error: error, otherData: otherData)
        }
        message += tsigRecordBytes(
            keyName: key.name, algorithmName: key.algorithm.wireName, time: time, fudge: fudge, mac: mac,
            originalID: UInt16(message[0]) << 8 | UInt16(message[1]), error: error.rawValue,
            otherData: otherData)
        let additionalCount = (UInt16(message[10]) << 8 | UInt16(message[11])) &+ 1
        message[10] = UInt8(additionalCount >> 8)
        message[11] = UInt8(truncatingIfNeeded: additionalCount)
        lastMAC = mac
        signedCount += 1
    }

    /// The MAC of `message` (no TSIG RR yet) as RFC 8945 §4.3 (first message) or §5.3.1 (later
    /// messages of a response stream) defines it.
    private func computeMAC(
        _ message: UnsafeRawBufferPointer, time: UInt64, fudge: UInt16, error: TSIGErrorCode,
        otherData: [UInt8]
    ) -> [UInt8] {
        var context = TSIGMACContext(key: key)
        let originalID = UInt16(message[0]) << 8 | UInt16(message[1])
        if requestMAC != nil, signedCount > 0 {
            context.update(lengthPrefixed: lastMAC)
            context.update(message: message, end: message.count, originalID: originalID, removedRecords: 0)
            context.update(timerVariables(timeSigned: time, fudge: fudge))
        } else {
            if let requestMAC { context.update(lengthPrefixed: requestMAC) }
            context.update(message: message, end: message.count, originalID: originalID, removedRecords: 0)
            context.update(
                tsigVariables(
                    keyName: key.name, algorithmName: key.algorithm.wireName, timeSigned: time, fudge: fudge,
                    error: error.rawValue, otherData: otherData))
        }
        return context.finalize()
    }
}

/// The server's clock as the 6 octets of Other Data a BADTIME answer carries (RFC 8945 §5.2.3).
public func badTimeOtherData(now: UInt64) -> [UInt8] {
    Array(timerVariables(timeSigned: now, fudge: 0)[0..<6])
}

/// Appends an unsigned TSIG RR for a BADKEY or BADSIG answer (RFC 8945 §5.2.1, §5.2.2, §5.3.2):
/// the request's key name, algorithm name, Time Signed, Fudge and Original ID, MAC Size 0, `error`,
/// no other data. ARCOUNT is incremented. On overflow the writer is left as it was.
public func appendUnsignedTSIG(
    _ writer: inout MessageWriter, echoing record: TSIGRecord, error: TSIGErrorCode
)
    throws(WriteOverflow)
{
    let bytes = tsigRecordBytes(
        keyName: record.keyName, algorithmName: record.algorithmName, time: record.timeSigned,
        fudge: record.fudge, mac: [], originalID: record.originalID, error: error.rawValue, otherData: [])
    try append(bytes, to: &writer)
}

/// Appends a whole TSIG RR and counts it in ARCOUNT; nothing is written unless all of it fits.
private func append(_ record: [UInt8], to writer: inout MessageWriter) throws(WriteOverflow) {
    guard writer.count + record.count <= writer.limit else { throw .limitReached(limit: writer.limit) }
    for byte in record { try writer.append(byte) }
    writer.patch(writer.uint16(at: 10) &+ 1, at: 10)
}

/// A whole TSIG RR (RFC 8945 §4.2), names uncompressed: owner, TYPE TSIG, CLASS ANY, TTL 0,
/// RDLENGTH, then Algorithm Name, Time Signed, Fudge, MAC Size, MAC, Original ID, Error, Other Len,
/// Other Data.
func tsigRecordBytes(
    keyName: DomainName, algorithmName: DomainName, time: UInt64, fudge: UInt16, mac: [UInt8],
    originalID: UInt16, error: UInt16, otherData: [UInt8]
) -> [UInt8] {
    func word(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(truncatingIfNeeded: value)] }
    var rdata = algorithmName.wire
    rdata += timerVariables(timeSigned: time, fudge: fudge)
    rdata += word(UInt16(mac.count)) + mac
    rdata += word(originalID) + word(error)
    rdata += word(UInt16(otherData.count)) + otherData
    var bytes = keyName.wire
    bytes += word(RecordType.tsig.rawValue) + word(DNSClass.any.rawValue) + [0, 0, 0, 0]
    bytes += word(UInt16(rdata.count)) + rdata
    return bytes
}
