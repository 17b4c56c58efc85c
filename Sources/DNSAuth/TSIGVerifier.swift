import DNSWire

/// The outcome of checking a request's TSIG RR (RFC 8945 §5.2).
public enum TSIGVerification: Sendable, Equatable {
    /// No TSIG RR in the message.
    case unsigned
    /// The MAC verified with `key`; `record.mac` is the request MAC to use when signing the answer
    /// (``TSIGSigner/init(key:requestMAC:)``).
    case valid(key: TSIGKey, record: TSIGRecord)
    /// Answer NOTAUTH with this TSIG error (RFC 8945 §5.2, §5.3.2). `key` is set when the key was
    /// known and the MAC verified: BADTIME and BADTRUNC answers are signed with it
    /// (``TSIGSigner/init(key:requestMAC:)`` with `record.mac`). BADKEY and BADSIG answers are
    /// unsigned (``appendUnsignedTSIG(_:echoing:error:)``); `key` is nil for BADKEY and set for BADSIG,
    /// where it must not be used to sign.
    case rejected(error: TSIGErrorCode, key: TSIGKey?, record: TSIGRecord)
    /// Answer FORMERR (RFC 8945 §5.2, §5.2.2.1): the message or its TSIG RR does not parse, a TSIG RR
    /// is not last, or the MAC is longer than the hash or shorter than ``TSIGAlgorithm/minimumMACLength``.
    case malformed
}

/// Verifies a request (server side, RFC 8945 §5.2), with the checks in the RFC's order:
///
/// 1. key: the key name must be in `keyring` and the algorithm must be the key's, else BADKEY
///    (§5.2.1; an unknown algorithm is BADKEY too);
/// 2. MAC: a MAC Size above the hash length or below max(10, half the hash) is FORMERR
///    (§5.2.2.1 rules 1 and 3); otherwise the MAC, possibly truncated, is compared in constant time
///    with the leading octets of the computed one, else BADSIG (§5.2.2);
/// 3. time: `|now - Time Signed| > Fudge` is BADTIME (§5.2.3);
/// 4. truncation: this server's minimum is the full hash length, so a truncated MAC that verified is
///    BADTRUNC (§5.2.4).
///
/// The MAC covers (§4.3.2, §4.3.3) the message without its TSIG RR, ARCOUNT decremented and the ID
/// replaced by the Original ID, followed by the TSIG variables.
///
/// - Parameter now: the server's clock, seconds since 1970-01-01 UTC.
public func verifyRequest(_ message: UnsafeRawBufferPointer, keyring: TSIGKeyring, now: UInt64)
    -> TSIGVerification
{
    verify(message, parsed: parseTSIG(in: message), keyring: keyring, now: now)
}

/// ``verifyRequest(_:keyring:now:)`` for a message already walked (by `checkQuery`): `tsigOffset` is
/// the offset of its last additional record if that is a TSIG RR, nil when the message is unsigned.
public func verifyRequest(
    _ message: UnsafeRawBufferPointer, tsigOffset: Int?, keyring: TSIGKeyring, now: UInt64
)
    -> TSIGVerification
{
    guard let tsigOffset else { return .unsigned }
    return verify(
        message, parsed: parseTSIG(in: message, lastRecordOffset: tsigOffset), keyring: keyring, now: now)
}

/// The checks of RFC 8945 §5.2 on a parsed TSIG RR.
private func verify(_ message: UnsafeRawBufferPointer, parsed: TSIGParse, keyring: TSIGKeyring, now: UInt64)
    -> TSIGVerification
{
    let record: TSIGRecord
    switch parsed {
    case .absent: return .unsigned
    case .malformed: return .malformed
    case .present(let found): record = found
    }
    guard let key = keyring.key(named: record.keyName),
        let algorithm = record.algorithmName.wire.withUnsafeBytes({ TSIGAlgorithm(wireName: $0) }),
        algorithm == key.algorithm
    else { return .rejected(error: .badKey, key: nil, record: record) }
    guard record.mac.count <= algorithm.macLength, record.mac.count >= algorithm.minimumMACLength else {
        return .malformed
    }
    var context = TSIGMACContext(key: key)
    context.update(
        message: message, end: record.recordOffset, originalID: record.originalID, removedRecords: 1)
    context.update(
        tsigVariables(
            keyName: record.keyName, algorithmName: record.algorithmName, timeSigned: record.timeSigned,
            fudge: record.fudge, error: record.error, otherData: record.otherData))
    guard macMatches(record.mac, context.finalize()) else {
        return .rejected(error: .badSig, key: key, record: record)
    }
    guard isWithinFudge(timeSigned: record.timeSigned, fudge: record.fudge, now: now) else {
        return .rejected(error: .badTime, key: key, record: record)
    }
    guard record.mac.count == algorithm.macLength else {
        return .rejected(error: .badTrunc, key: key, record: record)
    }
    return .valid(key: key, record: record)
}
