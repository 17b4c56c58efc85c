import DNSAuth
import DNSWire
import Testing

@Suite("Signing answers and verifying response streams (RFC 8945 §5.3, §5.3.1, §5.4)")
struct TSIGResponseTests {
    static let key = Vectors.key(.hmacSHA256)
    static let stream = [Vectors.multi0, Vectors.multi1, Vectors.multi2, Vectors.multi3]

    /// A verifier for the stream answering `querySHA256`.
    static func streamVerifier() -> TSIGResponseVerifier {
        TSIGResponseVerifier(key: key, requestMAC: Vectors.multiRequestMAC)
    }

    @Test(
        "TSIGSigner(key:requestMAC:) reproduces dnspython's signed answer octet for octet (RFC 8945 §4.3.1)",
        arguments: allAlgorithms)
    func responseSignerMatchesDnspython_RFC8945_4_3_1(algorithm: TSIGAlgorithm) throws {
        let requestMAC = tsigRecord(query(algorithm)).mac
        var signer = TSIGSigner(key: Vectors.key(algorithm), requestMAC: requestMAC)
        let expected = response(algorithm)
        #expect(try signInWriter(withoutTSIG(expected), &signer, time: Vectors.time) == expected)
    }

    @Test("a client signer's lastMAC verifies dnspython's answer", arguments: allAlgorithms)
    func clientVerifiesDnspythonAnswer_RFC8945_5_4(algorithm: TSIGAlgorithm) throws {
        var signer = TSIGSigner(key: Vectors.key(algorithm))
        _ = try signInWriter(withoutTSIG(query(algorithm)), &signer, time: Vectors.time)
        var verifier = TSIGResponseVerifier(key: Vectors.key(algorithm), requestMAC: signer.lastMAC)
        #expect(response(algorithm).withUnsafeBytes { verifier.verify($0, now: Vectors.time + 5) } == .valid)
        #expect(verifier.finish())
    }

    @Test("a BADTIME answer is signed, with the server's time as other data (RFC 8945 §5.2.3)")
    func badTimeAnswerMatchesDnspython_RFC8945_5_2_3() throws {
        let serverNow = Vectors.time + 1000
        guard
            case .rejected(.badTime, let key?, let request) = verify(
                Vectors.querySHA256, keyring: TSIGKeyring([Self.key]), now: serverNow)
        else {
            Issue.record("not BADTIME")
            return
        }
        var signer = TSIGSigner(key: key, requestMAC: request.mac)
        let otherData = badTimeOtherData(now: serverNow)
        #expect(otherData == [0x00, 0x00, 0x65, 0x53, 0xF4, 0xE8])
        let answer = try signInWriter(
            withoutTSIG(Vectors.badTimeSHA256), &signer, time: request.timeSigned, fudge: request.fudge,
            error: .badTime, otherData: otherData)
        #expect(answer == Vectors.badTimeSHA256)
        #expect(
            TSIGSigner.recordLength(key: key, otherDataLength: 6)
                == answer.count - withoutTSIG(Vectors.badTimeSHA256).count)
    }

    @Test("the client reports a BADTIME answer as an error from the server")
    func clientReportsBadTime_RFC8945_5_4_3() {
        var verifier = Self.streamVerifier()
        let check = Vectors.badTimeSHA256.withUnsafeBytes { verifier.verify($0, now: Vectors.time) }
        #expect(check == .failed("BADTIME from server"))
        #expect(!verifier.finish())
    }

    @Test("BADKEY/BADSIG answers carry an unsigned TSIG RR echoing the request (RFC 8945 §5.3.2)")
    func unsignedErrorTSIGEchoesRequest_RFC8945_5_3_2() throws {
        let request = tsigRecord(Vectors.querySHA256)
        let scratch = ResponseScratch()
        var writer = MessageWriter(scratch: scratch)
        for byte in withoutTSIG(Vectors.responseSHA256) { try writer.append(byte) }
        let before = writer.count
        try appendUnsignedTSIG(&writer, echoing: request, error: .badSig)
        let answer = Array(writer.bytes)
        #expect(answer[11] == 2)  // OPT and TSIG
        var echoed = tsigRecord(answer)
        #expect(echoed.recordOffset == before)
        #expect(echoed.mac.isEmpty)
        #expect(echoed.error == TSIGErrorCode.badSig.rawValue)
        echoed.mac = request.mac
        echoed.error = 0
        echoed.recordOffset = request.recordOffset
        #expect(echoed == request)
        var verifier = Self.streamVerifier()
        #expect(
            answer.withUnsafeBytes { verifier.verify($0, now: Vectors.time) } == .failed("BADSIG from server")
        )
    }

    @Test("signing fails cleanly when the TSIG RR does not fit the writer's limit")
    func overflowLeavesWriterUnchanged() throws {
        let unsigned = withoutTSIG(Vectors.responseSHA256)
        var signer = TSIGSigner(key: Self.key, requestMAC: Vectors.requestMACSHA256)
        let scratch = ResponseScratch()
        var writer = MessageWriter(scratch: scratch, limit: unsigned.count + signer.recordLength - 1)
        for byte in unsigned { try writer.append(byte) }
        #expect(throws: WriteOverflow.self) { try signer.sign(&writer, time: Vectors.time) }
        #expect(Array(writer.bytes) == unsigned)
        #expect(signer.lastMAC.isEmpty)
        writer.limit = unsigned.count + signer.recordLength
        try signer.sign(&writer, time: Vectors.time)
        #expect(Array(writer.bytes) == Vectors.responseSHA256)
    }

    @Test("dnspython's stream verifies, its unsigned third message covered by the fourth (RFC 8945 §5.3.1)")
    func dnspythonStreamVerifies_RFC8945_5_3_1() {
        var verifier = Self.streamVerifier()
        let checks = Self.stream.map { message in
            message.withUnsafeBytes { verifier.verify($0, now: Vectors.time) }
        }
        #expect(checks == [.valid, .valid, .unsignedAllowed, .valid])
        #expect(verifier.finish())
    }

    @Test("a response signer reproduces dnspython's signed messages of a stream (prior MAC, timers only)")
    func streamSignerMatchesDnspython_RFC8945_5_3_1() throws {
        var signer = TSIGSigner(key: Self.key, requestMAC: Vectors.multiRequestMAC)
        #expect(try signInWriter(withoutTSIG(Vectors.multi0), &signer, time: Vectors.time) == Vectors.multi0)
        #expect(
            try signInWriter(withoutTSIG(Vectors.multi1), &signer, time: Vectors.time + 1) == Vectors.multi1)
    }

    @Test("a stream signed by TSIGSigner verifies, and every message's MAC chains to the previous one")
    func signerStreamRoundTrips_RFC8945_5_3_1() throws {
        var signer = TSIGSigner(key: Self.key, requestMAC: Vectors.multiRequestMAC)
        var verifier = Self.streamVerifier()
        for (index, message) in [Vectors.multi0, Vectors.multi1, Vectors.multi0].enumerated() {
            let signed = try signInWriter(withoutTSIG(message), &signer, time: Vectors.time + UInt64(index))
            #expect(signed.withUnsafeBytes { verifier.verify($0, now: Vectors.time) } == .valid)
        }
        #expect(verifier.finish())
    }

    @Test("a tampered second message fails with a MAC mismatch, and so does the rest of the stream")
    func tamperedSecondMessageFails_RFC8945_5_3_1() {
        var verifier = Self.streamVerifier()
        var second = Vectors.multi1
        second[second.count - 97] ^= 0x01  // inside the A record's RDATA
        #expect(Vectors.multi0.withUnsafeBytes { verifier.verify($0, now: Vectors.time) } == .valid)
        #expect(second.withUnsafeBytes { verifier.verify($0, now: Vectors.time) } == .failed("MAC mismatch"))
        let after = Vectors.multi2.withUnsafeBytes { verifier.verify($0, now: Vectors.time) }
        #expect(after == .failed("stream already failed: MAC mismatch"))
        #expect(!verifier.finish())
    }

    @Test("an unsigned message left out of the chain makes the next signed message fail")
    func skippedUnsignedMessageBreaksChain_RFC8945_5_3_1() {
        var verifier = Self.streamVerifier()
        for message in [Vectors.multi0, Vectors.multi1] {
            #expect(message.withUnsafeBytes { verifier.verify($0, now: Vectors.time) } == .valid)
        }
        #expect(
            Vectors.multi3.withUnsafeBytes { verifier.verify($0, now: Vectors.time) }
                == .failed("MAC mismatch"))
    }

    @Test("a tampered unsigned intermediate message makes the next signed message fail")
    func tamperedUnsignedMessageFails_RFC8945_5_3_1() {
        var verifier = Self.streamVerifier()
        var third = Vectors.multi2
        third[third.count - 12] ^= 0x01
        for message in [Vectors.multi0, Vectors.multi1] {
            _ = message.withUnsafeBytes { verifier.verify($0, now: Vectors.time) }
        }
        #expect(third.withUnsafeBytes { verifier.verify($0, now: Vectors.time) } == .unsignedAllowed)
        #expect(
            Vectors.multi3.withUnsafeBytes { verifier.verify($0, now: Vectors.time) }
                == .failed("MAC mismatch"))
    }

    @Test("the first message must be signed (RFC 8945 §5.3.1)")
    func unsignedFirstMessageFails_RFC8945_5_3_1() {
        var verifier = Self.streamVerifier()
        let check = Vectors.multi2.withUnsafeBytes { verifier.verify($0, now: Vectors.time) }
        #expect(check == .failed("missing TSIG on first message"))
    }

    @Test("finish() fails when the stream ends unsigned or is empty (RFC 8945 §5.3.1)")
    func streamEndingUnsignedFails_RFC8945_5_3_1() {
        var verifier = Self.streamVerifier()
        #expect(!verifier.finish())
        for message in Self.stream.prefix(3) {
            _ = message.withUnsafeBytes { verifier.verify($0, now: Vectors.time) }
        }
        #expect(!verifier.finish())
    }

    @Test("at most 99 unsigned messages in a row (RFC 8945 §5.3.1)")
    func hundredthUnsignedMessageFails_RFC8945_5_3_1() {
        var verifier = Self.streamVerifier()
        #expect(Vectors.multi0.withUnsafeBytes { verifier.verify($0, now: Vectors.time) } == .valid)
        for _ in 0..<99 {
            #expect(
                Vectors.multi2.withUnsafeBytes { verifier.verify($0, now: Vectors.time) } == .unsignedAllowed)
        }
        let check = Vectors.multi2.withUnsafeBytes { verifier.verify($0, now: Vectors.time) }
        #expect(check == .failed("more than 99 unsigned messages"))
    }

    @Test("a response signed outside the fudge fails")
    func responseOutsideFudgeFails_RFC8945_5_4_3() {
        var verifier = Self.streamVerifier()
        let check = Vectors.multi0.withUnsafeBytes { verifier.verify($0, now: Vectors.time + 301) }
        #expect(check == .failed("time outside fudge"))
    }

    @Test("a response verified against another request MAC fails")
    func wrongRequestMACFails_RFC8945_4_3_1() {
        var verifier = TSIGResponseVerifier(key: Self.key, requestMAC: Vectors.requestMACSHA1)
        #expect(
            Vectors.multi0.withUnsafeBytes { verifier.verify($0, now: Vectors.time) }
                == .failed("MAC mismatch"))
    }

    @Test("a response signed with another key name fails")
    func otherKeyFails_RFC8945_5_4_1() {
        let other = TSIGKey(name: DomainName("other-key.")!, algorithm: .hmacSHA256, secret: Vectors.secret)
        var verifier = TSIGResponseVerifier(key: other, requestMAC: Vectors.multiRequestMAC)
        guard case .failed = Vectors.multi0.withUnsafeBytes({ verifier.verify($0, now: Vectors.time) }) else {
            Issue.record("accepted a TSIG RR of another key")
            return
        }
    }
}
