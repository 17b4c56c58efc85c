import CAnydnsCrypto
import DNSWire

/// A running HMAC over the TSIG digest components (RFC 8945 §4.3), for whichever algorithm a key
/// uses. The hashing is OpenSSL's (`CAnydnsCrypto`); the struct keeps value semantics by copying
/// the OpenSSL state before a shared copy is changed.
struct TSIGMACContext {
    /// The OpenSSL state, freed with its last reference.
    private final class State {
        let hmac: OpaquePointer

        init(hmac: OpaquePointer) { self.hmac = hmac }

        deinit { anydns_hmac_free(hmac) }
    }

    private var state: State

    init(key: TSIGKey) {
        let digest: anydns_digest =
            switch key.algorithm.hash {
            case .sha1: ANYDNS_DIGEST_SHA1
            case .sha256: ANYDNS_DIGEST_SHA256
            case .sha384: ANYDNS_DIGEST_SHA384
            case .sha512: ANYDNS_DIGEST_SHA512
            }
        // Only an allocation failure makes OpenSSL refuse: every digest is in its default provider.
        guard
            let hmac = key.secret.withUnsafeBufferPointer({
                anydns_hmac_new(digest, $0.baseAddress, $0.count)
            })
        else { fatalError("OpenSSL could not start an HMAC") }
        state = State(hmac: hmac)
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        if !isKnownUniquelyReferenced(&state) {
            guard let copy = anydns_hmac_copy(state.hmac) else {
                fatalError("OpenSSL could not copy an HMAC")
            }
            state = State(hmac: copy)
        }
        anydns_hmac_update(state.hmac, bytes.baseAddress, bytes.count)
    }

    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Feeds a 16-bit field in network order.
    mutating func update(_ value: UInt16) {
        update([UInt8(value >> 8), UInt8(truncatingIfNeeded: value)])
    }

    /// A MAC with its length first, as the Request MAC and Prior MAC components are
    /// (RFC 8945 §4.3.1, §5.3.1).
    mutating func update(lengthPrefixed mac: [UInt8]) {
        update(UInt16(mac.count))
        update(mac)
    }

    /// A message without its TSIG RR (RFC 8945 §4.3.2): `message[..<end]` with the header ID replaced
    /// by `originalID` and ARCOUNT lowered by `removedRecords`.
    mutating func update(
        message: UnsafeRawBufferPointer, end: Int, originalID: UInt16, removedRecords: UInt16
    ) {
        let additionalCount = UInt16(message[10]) << 8 | UInt16(message[11])
        update(originalID)
        update(UnsafeRawBufferPointer(rebasing: message[2..<10]))
        update(additionalCount &- removedRecords)
        update(UnsafeRawBufferPointer(rebasing: message[DNSHeader.length..<end]))
    }

    /// The MAC of what was fed so far; the running state is left as it was.
    func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 64) { buffer, count in
            count = anydns_hmac_final(state.hmac, buffer.baseAddress!)
        }
    }
}

/// The TSIG variables of RFC 8945 §4.3.3 that go into the MAC of a first (or only) message: key name
/// and algorithm name in canonical form (lowercase, uncompressed), CLASS ANY, TTL 0, Time Signed,
/// Fudge, Error, Other Len and Other Data.
func tsigVariables(
    keyName: DomainName, algorithmName: DomainName, timeSigned: UInt64, fudge: UInt16, error: UInt16,
    otherData: [UInt8]
) -> [UInt8] {
    var bytes = keyName.wire.map(asciiLowercase)
    bytes += [0, 255, 0, 0, 0, 0]  // CLASS ANY, TTL 0
    bytes += algorithmName.wire.map(asciiLowercase)
    bytes += timerVariables(timeSigned: timeSigned, fudge: fudge)
    bytes += [UInt8(error >> 8), UInt8(truncatingIfNeeded: error)]
    bytes += [UInt8(otherData.count >> 8), UInt8(truncatingIfNeeded: otherData.count)]
    bytes += otherData
    return bytes
}

/// The TSIG timers (RFC 8945 §4.3.3, §5.3.1): Time Signed as 48 bits, then Fudge.
func timerVariables(timeSigned: UInt64, fudge: UInt16) -> [UInt8] {
    [
        UInt8(truncatingIfNeeded: timeSigned >> 40), UInt8(truncatingIfNeeded: timeSigned >> 32),
        UInt8(truncatingIfNeeded: timeSigned >> 24), UInt8(truncatingIfNeeded: timeSigned >> 16),
        UInt8(truncatingIfNeeded: timeSigned >> 8), UInt8(truncatingIfNeeded: timeSigned),
        UInt8(fudge >> 8), UInt8(truncatingIfNeeded: fudge),
    ]
}

/// Whether `received` equals the first `received.count` octets of `computed`, in time that depends
/// only on the lengths (RFC 8945 §5.2.2 verification must not leak where the MACs differ).
func macMatches(_ received: [UInt8], _ computed: [UInt8]) -> Bool {
    guard !received.isEmpty, received.count <= computed.count else { return false }
    var difference: UInt8 = 0
    for index in 0..<received.count {
        difference |= received[index] ^ computed[index]
    }
    return difference == 0
}

/// Whether `|now - timeSigned| <= fudge` (RFC 8945 §5.2.3).
func isWithinFudge(timeSigned: UInt64, fudge: UInt16, now: UInt64) -> Bool {
    let skew = now >= timeSigned ? now - timeSigned : timeSigned - now
    return skew <= UInt64(fudge)
}
