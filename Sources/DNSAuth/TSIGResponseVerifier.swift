import DNSWire

/// The outcome of checking one message of a response stream.
public enum TSIGResponseCheck: Sendable, Equatable {
    /// Signed, and the MAC and time verified.
    case valid
    /// Unsigned, which RFC 8945 §5.3.1 allows between signed messages; the next signed message must
    /// cover it.
    case unsignedAllowed
    /// The stream must be abandoned; the reason names what was wrong.
    case failed(String)
}

/// Verifies the messages of a response to a request we signed (client side, RFC 8945 §5.4), one
/// message or a stream of them on a TCP connection (§5.3.1).
///
/// The first message must be signed, its MAC taken over the request MAC (length and octets), the
/// message without its TSIG RR (ARCOUNT decremented, ID replaced by the Original ID) and the full TSIG
/// variables. A later signed message's MAC covers the prior MAC (length and octets), every unsigned
/// message since the prior signed one as received, the message itself without its TSIG RR and the
/// timers only (Time Signed, Fudge). At most 99 unsigned messages may come in a row, and the stream
/// must end on a signed message: call ``finish()`` after the last one. After a failure every later
/// call fails too.
public struct TSIGResponseVerifier {
    public let key: TSIGKey
    /// The MAC the next signed message chains from: the request MAC, then each verified MAC.
    private var priorMAC: [UInt8]
    /// The MAC of the next signed message, fed with the prior MAC and unsigned messages so far.
    private var pending: TSIGMACContext?
    private var unsignedInARow = 0
    private var signedCount = 0
    private var failure: String?

    /// At most this many unsigned messages between signed ones (RFC 8945 §5.3.1).
    public static let maximumUnsignedInARow = 99

    /// A verifier for the answer to a request signed with `key` whose MAC was `requestMAC`
    /// (``TSIGSigner/lastMAC``).
    public init(key: TSIGKey, requestMAC: [UInt8]) {
        self.key = key
        self.priorMAC = requestMAC
    }

    /// Verifies the next message of the stream.
    ///
    /// - Parameter now: the local clock, seconds since 1970-01-01 UTC.
    public mutating func verify(_ message: UnsafeRawBufferPointer, now: UInt64) -> TSIGResponseCheck {
        if let failure { return .failed("stream already failed: \(failure)") }
        let check = check(message, now: now)
        if case .failed(let reason) = check { failure = reason }
        return check
    }

    /// Whether the stream may end here: at least one message verified, none failed, and the last one
    /// was signed (RFC 8945 §5.3.1).
    public func finish() -> Bool {
        failure == nil && signedCount > 0 && unsignedInARow == 0
    }

    private mutating func check(_ message: UnsafeRawBufferPointer, now: UInt64) -> TSIGResponseCheck {
        let record: TSIGRecord
        switch parseTSIG(in: message) {
        case .malformed:
            return .failed("malformed message or TSIG record")
        case .absent:
            guard signedCount > 0 else { return .failed("missing TSIG on first message") }
            guard unsignedInARow < TSIGResponseVerifier.maximumUnsignedInARow else {
                return .failed("more than \(TSIGResponseVerifier.maximumUnsignedInARow) unsigned messages")
            }
            unsignedInARow += 1
            pending?.update(message)
            return .unsignedAllowed
        case .present(let found):
            record = found
        }
        guard sameName(record.keyName, key.name), sameName(record.algorithmName, key.algorithm.wireName)
        else {
            return .failed("TSIG key \(record.keyName) \(record.algorithmName) is not the request's")
        }
        if record.error != TSIGErrorCode.noError.rawValue {
            return .failed("\(TSIGErrorCode(rawValue: record.error)) from server")
        }
        let algorithm = key.algorithm
        guard record.mac.count <= algorithm.macLength, record.mac.count >= algorithm.minimumMACLength else {
            return .failed("MAC size \(record.mac.count) invalid for \(algorithm)")
        }
        var context: TSIGMACContext
        if signedCount == 0 {
            context = TSIGMACContext(key: key)
            context.update(lengthPrefixed: priorMAC)
        } else {
            context = pending ?? TSIGMACContext(key: key)
        }
        context.update(
            message: message, end: record.recordOffset, originalID: record.originalID, removedRecords: 1)
        if signedCount == 0 {
            context.update(
                tsigVariables(
                    keyName: record.keyName, algorithmName: record.algorithmName,
                    timeSigned: record.timeSigned,
                    fudge: record.fudge, error: record.error, otherData: record.otherData))
        } else {
            context.update(timerVariables(timeSigned: record.timeSigned, fudge: record.fudge))
        }
        guard macMatches(record.mac, context.finalize()) else { return .failed("MAC mismatch") }
        guard isWithinFudge(timeSigned: record.timeSigned, fudge: record.fudge, now: now) else {
            return .failed("time outside fudge")
        }
        // Our truncation policy (RFC 8945 §5.4.4 mirrors §5.2.4): full-length MACs only.
        guard record.mac.count == algorithm.macLength else { return .failed("truncated MAC") }
        priorMAC = record.mac
        var next = TSIGMACContext(key: key)
        next.update(lengthPrefixed: priorMAC)
        pending = next
        signedCount += 1
        unsignedInARow = 0
        return .valid
    }
}
