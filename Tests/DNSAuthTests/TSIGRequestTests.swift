import DNSAuth
import DNSWire
import Testing

@Suite("Verifying and signing requests (RFC 8945 §4.3, §5.2)")
struct TSIGRequestTests {
    static let keyring = TSIGKeyring([Vectors.key(.hmacSHA256)])

    @Test("dnspython's signed query verifies for every algorithm", arguments: allAlgorithms)
    func knownAnswerQueryVerifies_RFC8945_5_2(algorithm: TSIGAlgorithm) {
        let keyring = TSIGKeyring([Vectors.key(algorithm)])
        let message = query(algorithm)
        guard case .valid(let key, let record) = verify(message, keyring: keyring) else {
            Issue.record("not valid: \(verify(message, keyring: keyring))")
            return
        }
        #expect(key == Vectors.key(algorithm))
        #expect(record.keyName == Vectors.keyName)
        #expect(record.algorithmName == algorithm.wireName)
        #expect(record.timeSigned == Vectors.time)
        #expect(record.fudge == 300)
        #expect(record.mac.count == algorithm.macLength)
        #expect(record.originalID == 0x1234)
        #expect(record.error == 0)
        #expect(record.otherData.isEmpty)
    }

    @Test("TSIGSigner(key:) reproduces dnspython's signed query octet for octet", arguments: allAlgorithms)
    func signerMatchesDnspythonQuery_RFC8945_4_3(algorithm: TSIGAlgorithm) throws {
        let expected = query(algorithm)
        var signer = TSIGSigner(key: Vectors.key(algorithm))
        let signed = try signInWriter(withoutTSIG(expected), &signer, time: Vectors.time)
        #expect(signed == expected)
        #expect(signer.lastMAC == tsigRecord(expected).mac)
        #expect(signer.recordLength == expected.count - withoutTSIG(expected).count)
    }

    @Test("signing an array gives the same octets as signing in a MessageWriter")
    func arraySignerMatchesWriterSigner() {
        var signer = TSIGSigner(key: Vectors.key(.hmacSHA256))
        var message = withoutTSIG(Vectors.querySHA256)
        signer.sign(&message, time: Vectors.time)
        #expect(message == Vectors.querySHA256)
        #expect(signer.lastMAC == Vectors.requestMACSHA256)
    }

    @Test("a request signer signs each request on its own, not as a chain")
    func requestSignerDoesNotChain() throws {
        var signer = TSIGSigner(key: Vectors.key(.hmacSHA256))
        let unsigned = withoutTSIG(Vectors.querySHA256)
        _ = try signInWriter(unsigned, &signer, time: Vectors.time)
        let second = try signInWriter(unsigned, &signer, time: Vectors.time)
        #expect(second == Vectors.querySHA256)
    }

    @Test("the key name is compared case-insensitively and the MAC uses its canonical form (RFC 4343)")
    func mixedCaseKeyNameVerifies_RFC8945_4_3_3() {
        guard case .valid(_, let record) = verify(Vectors.queryMixedCase, keyring: Self.keyring) else {
            Issue.record("mixed-case key name rejected")
            return
        }
        #expect(record.keyName == Vectors.keyName)
    }

    @Test("the MAC covers the Original ID, not the header ID (RFC 8945 §4.3.2)")
    func originalIDReplacesHeaderID_RFC8945_4_3_2() {
        guard case .valid(_, let record) = verify(Vectors.queryOriginalID, keyring: Self.keyring) else {
            Issue.record("Original ID not honoured")
            return
        }
        #expect(record.originalID == 0xBEEF)
        #expect(Vectors.queryOriginalID[0] == 0x12 && Vectors.queryOriginalID[1] == 0x34)
    }

    @Test("a message without TSIG is unsigned")
    func unsignedMessageIsUnsigned() {
        #expect(verify(withoutTSIG(Vectors.querySHA256), keyring: Self.keyring) == .unsigned)
    }

    @Test("an unknown key name is NOTAUTH/BADKEY with no key (RFC 8945 §5.2.1)")
    func badKeyIsNotAuthWithBADKEY_RFC8945_5_2_1() {
        let other = TSIGKey(name: DomainName("other-key.")!, algorithm: .hmacSHA256, secret: Vectors.secret)
        let outcome = verify(Vectors.querySHA256, keyring: TSIGKeyring([other]))
        #expect(outcome == .rejected(error: .badKey, key: nil, record: tsigRecord(Vectors.querySHA256)))
        #expect(verify(Vectors.querySHA256, keyring: .empty) == outcome)
    }

    @Test("a known key name with another algorithm is BADKEY (RFC 8945 §5.2.1)")
    func wrongAlgorithmIsBADKEY_RFC8945_5_2_1() {
        let keyring = TSIGKeyring([Vectors.key(.hmacSHA1)])
        guard case .rejected(.badKey, nil, _) = verify(Vectors.querySHA256, keyring: keyring) else {
            Issue.record("wrong algorithm accepted")
            return
        }
    }

    @Test("an algorithm this server does not implement is BADKEY (RFC 8945 §5.2.1)")
    func unknownAlgorithmIsBADKEY_RFC8945_5_2_1() {
        let message = withTSIG(Vectors.querySHA256) {
            $0.algorithmName = DomainName("hmac-md5.sig-alg.reg.int.")!
        }
        guard case .rejected(.badKey, nil, let record) = verify(message, keyring: Self.keyring) else {
            Issue.record("unknown algorithm accepted")
            return
        }
        #expect(record.algorithmName == DomainName("hmac-md5.sig-alg.reg.int.")!)
    }

    @Test("a flipped MAC octet is BADSIG with the key known (RFC 8945 §5.2.2)")
    func flippedMACIsBADSIG_RFC8945_5_2_2() {
        var message = Vectors.querySHA256
        message[message.count - 7] ^= 0x01  // last MAC octet: Original ID, Error, Other Len follow
        let outcome = verify(message, keyring: Self.keyring)
        #expect(
            outcome == .rejected(error: .badSig, key: Vectors.key(.hmacSHA256), record: tsigRecord(message)))
    }

    @Test("a changed message octet is BADSIG (RFC 8945 §5.2.2)")
    func changedMessageIsBADSIG_RFC8945_5_2_2() {
        var message = Vectors.querySHA256
        message[12 + 14] = 0x06  // QTYPE AXFR (0x00FC) becomes SOA
        guard case .rejected(.badSig, .some, _) = verify(message, keyring: Self.keyring) else {
            Issue.record("tampered message accepted")
            return
        }
    }

    @Test("a key with the right name and algorithm but another secret is BADSIG (RFC 8945 §5.2.2)")
    func wrongSecretIsBADSIG_RFC8945_5_2_2() {
        let key = TSIGKey(
            name: Vectors.keyName, algorithm: .hmacSHA256, secret: Array(repeating: 7, count: 32))
        guard case .rejected(.badSig, _, _) = verify(Vectors.querySHA256, keyring: TSIGKeyring([key])) else {
            Issue.record("wrong secret accepted")
            return
        }
    }

    @Test(
        "Time Signed further than Fudge from now is BADTIME with the key set (RFC 8945 §5.2.3)",
        arguments: [Vectors.time - 301, Vectors.time + 301, 0])
    func outsideFudgeIsBADTIME_RFC8945_5_2_3(now: UInt64) {
        let outcome = verify(Vectors.querySHA256, keyring: Self.keyring, now: now)
        #expect(
            outcome
                == .rejected(
                    error: .badTime, key: Vectors.key(.hmacSHA256), record: tsigRecord(Vectors.querySHA256)))
    }

    @Test("Time Signed exactly Fudge away is still valid (RFC 8945 §5.2.3)", arguments: [-300, 300])
    func edgeOfFudgeIsValid_RFC8945_5_2_3(offset: Int) {
        let now = UInt64(Int(Vectors.time) + offset)
        guard case .valid = verify(Vectors.querySHA256, keyring: Self.keyring, now: now) else {
            Issue.record("rejected at the edge of the fudge")
            return
        }
    }

    @Test("BADSIG is checked before BADTIME (RFC 8945 §5.2 order)")
    func badSigBeforeBadTime_RFC8945_5_2() {
        var message = Vectors.querySHA256
        message[message.count - 7] ^= 0x01
        guard case .rejected(.badSig, _, _) = verify(message, keyring: Self.keyring, now: 0) else {
            Issue.record("BADTIME reported before BADSIG")
            return
        }
    }

    @Test(
        "a MAC longer than the hash, or shorter than max(10, half the hash), is FORMERR (RFC 8945 §5.2.2.1)",
        arguments: [0, 9, 15, 33, 40])
    func macSizeOutOfRangeIsFormErr_RFC8945_5_2_2_1(size: Int) {
        let full = tsigRecord(Vectors.querySHA256).mac
        let message = withTSIG(Vectors.querySHA256) { record in
            record.mac =
                size <= full.count ? Array(full[0..<size]) : full + Array(repeating: 0, count: size - 32)
        }
        #expect(verify(message, keyring: Self.keyring) == .malformed)
    }

    @Test(
        "a truncated MAC that verifies is BADTRUNC: our minimum is the full hash (RFC 8945 §5.2.4)",
        arguments: [16, 20, 31])
    func truncatedMACIsBADTRUNC_RFC8945_5_2_4(size: Int) {
        let message = withTSIG(Vectors.querySHA256) { $0.mac = Array($0.mac[0..<size]) }
        let outcome = verify(message, keyring: Self.keyring)
        #expect(
            outcome == .rejected(error: .badTrunc, key: Vectors.key(.hmacSHA256), record: tsigRecord(message))
        )
    }

    @Test("a wrong truncated MAC is BADSIG, not BADTRUNC (RFC 8945 §5.2 order)")
    func wrongTruncatedMACIsBADSIG_RFC8945_5_2_2() {
        let message = withTSIG(Vectors.querySHA256) { record in
            record.mac = Array(record.mac[0..<16])
            record.mac[15] ^= 0xFF
        }
        guard case .rejected(.badSig, _, _) = verify(message, keyring: Self.keyring) else {
            Issue.record("forged truncated MAC not BADSIG")
            return
        }
    }

    @Test("the offset-taking overload agrees with the walking one")
    func knownOffsetOverloadAgrees() {
        let message = Vectors.querySHA256
        let offset = tsigRecord(message).recordOffset
        let outcome = message.withUnsafeBytes {
            verifyRequest($0, tsigOffset: offset, keyring: Self.keyring, now: Vectors.time)
        }
        #expect(outcome == verify(message, keyring: Self.keyring))
        let unsigned = message.withUnsafeBytes {
            verifyRequest($0, tsigOffset: nil, keyring: Self.keyring, now: Vectors.time)
        }
        #expect(unsigned == .unsigned)
    }
}
