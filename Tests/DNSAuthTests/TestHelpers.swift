import DNSAuth
import DNSWire

/// ``verifyRequest(_:keyring:now:)`` on an array.
func verify(_ message: [UInt8], keyring: TSIGKeyring, now: UInt64 = Vectors.time) -> TSIGVerification {
    message.withUnsafeBytes { verifyRequest($0, keyring: keyring, now: now) }
}

/// ``parseTSIG(in:)`` on an array.
func parse(_ message: [UInt8]) -> TSIGParse {
    message.withUnsafeBytes { parseTSIG(in: $0) }
}

/// The TSIG RR of a message known to have one.
func tsigRecord(_ message: [UInt8]) -> TSIGRecord {
    guard case .present(let record) = parse(message) else { preconditionFailure("no TSIG RR") }
    return record
}

/// What was signed: the message without its TSIG RR, ARCOUNT one lower.
func withoutTSIG(_ message: [UInt8]) -> [UInt8] {
    var bytes = Array(message[0..<tsigRecord(message).recordOffset])
    bytes[11] -= 1
    return bytes
}

/// The message with its TSIG RR rebuilt after `change` (to forge MAC sizes, names, MACs...),
/// encoded here independently of the code under test (RFC 8945 §4.2).
func withTSIG(_ message: [UInt8], _ change: (inout TSIGRecord) -> Void) -> [UInt8] {
    var record = tsigRecord(message)
    change(&record)
    func word(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
    let time = (0..<6).map { UInt8(truncatingIfNeeded: record.timeSigned >> (40 - 8 * UInt64($0))) }
    let rdata =
        record.algorithmName.wire + time + word(Int(record.fudge)) + word(record.mac.count) + record.mac
        + word(Int(record.originalID)) + word(Int(record.error)) + word(record.otherData.count)
        + record.otherData
    return Array(message[0..<record.recordOffset]) + record.keyName.wire + [0, 250, 0, 255, 0, 0, 0, 0]
        + word(rdata.count) + rdata
}

/// Writes `unsigned` into a fresh MessageWriter and signs it there.
func signInWriter(
    _ unsigned: [UInt8], _ signer: inout TSIGSigner, time: UInt64, fudge: UInt16 = 300,
    error: TSIGErrorCode = .noError, otherData: [UInt8] = [], limit: Int = ResponseScratch.messageCapacity
) throws(WriteOverflow) -> [UInt8] {
    let scratch = ResponseScratch()
    var writer = MessageWriter(scratch: scratch, limit: limit)
    for byte in unsigned { try writer.append(byte) }
    try signer.sign(&writer, time: time, fudge: fudge, error: error, otherData: otherData)
    return Array(writer.bytes)
}

let allAlgorithms: [TSIGAlgorithm] = [.hmacSHA1, .hmacSHA256, .hmacSHA384, .hmacSHA512]

/// dnspython's signed query for `algorithm`.
func query(_ algorithm: TSIGAlgorithm) -> [UInt8] {
    switch algorithm {
    case .hmacSHA1: Vectors.querySHA1
    case .hmacSHA256: Vectors.querySHA256
    case .hmacSHA384: Vectors.querySHA384
    default: Vectors.querySHA512
    }
}

/// dnspython's signed response to ``query(_:)``.
func response(_ algorithm: TSIGAlgorithm) -> [UInt8] {
    switch algorithm {
    case .hmacSHA1: Vectors.responseSHA1
    case .hmacSHA256: Vectors.responseSHA256
    case .hmacSHA384: Vectors.responseSHA384
    default: Vectors.responseSHA512
    }
}
