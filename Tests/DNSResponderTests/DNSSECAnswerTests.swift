import DNSResponder
import DNSWire
import DNSZone
import Foundation
import ServingTypes
import TestSupport
import Testing

/// The zone every DNSSEC scenario is answered from, signed in the test by ``TestSigner``.
private let unsignedSource = """
    $ORIGIN example.test.
    $TTL 3600
    @        IN SOA ns1 hostmaster 1 3600 900 604800 300
    @        NS    ns1
    ns1      A     192.0.2.53
    www      A     192.0.2.80
    a.b.c    A     192.0.2.3
    *.wild   A     192.0.2.100
    alias    CNAME www
    cw       CNAME x.wild
    dn       DNAME target
    www.target A   192.0.2.150
    sub      NS    ns.sub
    ns.sub   A     192.0.2.201
    secure   NS    ns.outside.example.
    secure   DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
    big      TXT   "\(String(repeating: "x", count: 200))"
    big      TXT   "\(String(repeating: "y", count: 200))"

    """

/// Signs the zone with `denial`, loads it, and answers queries in-process.
private struct SignedHarness {
    let files = TemporaryZones()
    let zones: ZoneSet
    let signedText: String
    let responder = Responder(identity: ServerIdentity(identity: "site-a", version: nil))
    let scratch = ResponderScratch()
    let iterations: UInt16
    let salt: [UInt8]

    init(
        _ denial: TestSigner.Denial, source: String = unsignedSource, more: [Zone] = [],
        unavailable: [DomainName] = [], edit: (String) -> String = { $0 }
    ) throws {
        let now = UInt32(Date().timeIntervalSince1970)
        signedText = try TestSigner.sign(
            source, origin: "example.test.", denial: denial, inception: now - 86400,
            expiration: now + 30 * 86400)
        let loaded = try files.load("example.test.", edit(signedText)).get()
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        zones = ZoneSet([loaded.zone] + more, unavailable: unavailable)
        if case .nsec3(let iterations, let salt, _) = denial {
            (self.iterations, self.salt) = (iterations, salt)
        } else {
            (iterations, salt) = (0, [])
        }
    }

    func ask(
        _ name: String, _ type: RecordType, dnssec: Bool = true, payload: UInt16 = 1232,
        checkingDisabled: Bool = false, over transport: Transport = .udp
    ) throws -> ParsedMessage {
        var query = QueryBuilder(name, type).withEDNS(payload: payload, dnssecOK: dnssec)
        if checkingDisabled { query.flags |= DNSHeader.Flag.cd }
        let response = try #require(
            query.bytes.withUnsafeBytes { packet in
                responder.respond(to: packet, transport: transport, zones: zones, scratch: scratch).map {
                    Array($0.bytes)
                }
            })
        return try #require(ParsedMessage(response))
    }

    /// The NSEC3 owner matching or covering `name`, found by libldns's hash over the signed text
    /// (an oracle independent of the server's index).
    func nsec3Owner(for name: String) -> String {
        var owners: [String] = []
        for line in signedText.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count > 3, fields[3] == "NSEC3" else { continue }
            owners.append(String(fields[0].split(separator: ".")[0]).lowercased())
        }
        owners.sort()
        let hash = TestSigner.nsec3Label(of: name, iterations: iterations, salt: salt)
        return (owners.last { $0 <= hash } ?? owners.last!) + ".example.test."
    }
}

/// Each record as `owner TYPE`, an RRSIG as `owner RRSIG(COVERED labels)`, sorted: what a
/// validator needs from a section, without the signature bytes that change from run to run.
private func summary(_ records: [ParsedMessage.Record]) -> [String] {
    records.map { record in
        guard record.type == .rrsig else { return "\(record.owner) \(record.type)" }
        let covered = RecordType(rawValue: UInt16(record.data.prefix(4), radix: 16)!)
        let labels = Int(record.data.dropFirst(6).prefix(2), radix: 16)!
        return "\(record.owner) RRSIG(\(covered) \(labels))"
    }.sorted()
}

private let soaWithSignature = ["example.test. RRSIG(SOA 2)", "example.test. SOA"]

private func proof(_ owner: String, _ type: RecordType) -> [String] {
    // RFC 4034 §3.1.3: the Labels field leaves out the root and a leading wildcard label.
    let labels = owner.split(separator: ".").count - (owner.hasPrefix("*.") ? 1 : 0)
    return ["\(owner) \(type)", "\(owner) RRSIG(\(type) \(labels))"]
}

@Suite("DNSSEC: the DO bit (RFC 3225, RFC 4035 §3.1)")
struct DOBitTests {
    @Test func signaturesOnlyWithDO() throws {
        let harness = try SignedHarness(.nsec)
        let signed = try harness.ask("www.example.test.", .a)
        #expect(summary(signed.answer) == ["www.example.test. A", "www.example.test. RRSIG(A 3)"])
        let plain = try harness.ask("www.example.test.", .a, dnssec: false)
        #expect(summary(plain.answer) == ["www.example.test. A"])
        let negative = try harness.ask("nx.example.test.", .a, dnssec: false)
        #expect(negative.rcode == .nxDomain)
        #expect(summary(negative.authority) == ["example.test. SOA"])
        // Asked for by type, RRSIG and NSEC are data like any other.
        let asked = try harness.ask("www.example.test.", .nsec, dnssec: false)
        #expect(summary(asked.answer) == ["www.example.test. NSEC"])
        #expect(try harness.ask("www.example.test.", .rrsig, dnssec: false).answer.count == 2)
    }

    @Test func authoritativeAnswersNeverSetADAndEchoCD() throws {
        let harness = try SignedHarness(.nsec)
        let reply = try harness.ask("www.example.test.", .a, checkingDisabled: true)
        #expect(!reply.header.has(DNSHeader.Flag.ad))
        #expect(reply.header.has(DNSHeader.Flag.cd))
        #expect(reply.opt.map { $0.ttl & 0x8000 != 0 } == true, "DO echoed in the OPT")
        #expect(!(try harness.ask("www.example.test.", .a).header.has(DNSHeader.Flag.cd)))
    }

    @Test func unsignedZoneAnswersWithoutProofs() throws {
        let files = TemporaryZones()
        let zone = try files.load("example.test.", unsignedSource).get().zone
        #expect(zone.signing == nil)
        let responder = Responder(identity: ServerIdentity(identity: "a", version: nil))
        let bytes = QueryBuilder("nx.example.test.", .a).withEDNS(dnssecOK: true).bytes
        let scratch = ResponderScratch()
        let response = try #require(
            bytes.withUnsafeBytes {
                responder.respond(to: $0, transport: .udp, zones: ZoneSet([zone]), scratch: scratch)
                    .map { Array($0.bytes) }
            })
        withExtendedLifetime(scratch) {}
        #expect(summary(try #require(ParsedMessage(response)).authority) == ["example.test. SOA"])
    }

    @Test func cnameAndDNAMEAnswersCarryTheirSignatures() throws {
        let harness = try SignedHarness(.nsec)
        let cname = try harness.ask("alias.example.test.", .a)
        #expect(
            summary(cname.answer) == [
                "alias.example.test. CNAME", "alias.example.test. RRSIG(CNAME 3)", "www.example.test. A",
                "www.example.test. RRSIG(A 3)",
            ])
        // RFC 6672 §5.3.1: the DNAME is signed, the synthesized CNAME is not.
        let dname = try harness.ask("www.dn.example.test.", .a)
        #expect(
            summary(dname.answer) == [
                "dn.example.test. DNAME", "dn.example.test. RRSIG(DNAME 3)", "www.dn.example.test. CNAME",
                "www.target.example.test. A", "www.target.example.test. RRSIG(A 4)",
            ])
    }

    @Test func signedAnswersTruncateAndComeWholeOverTCP() throws {
        let harness = try SignedHarness(.nsec3(iterations: 0, salt: [], optOut: false))
        let udp = try harness.ask("nx.nx.example.test.", .a, payload: 512)
        #expect(udp.isTruncated)
        #expect(udp.answer.isEmpty && udp.authority.isEmpty)
        let tcp = try harness.ask("nx.nx.example.test.", .a, payload: 512, over: .tcp)
        #expect(!tcp.isTruncated)
        #expect(tcp.rcode == .nxDomain)
        #expect(tcp.authority.filter { $0.type == .nsec3 }.count >= 2)
        #expect(tcp.authority.filter { $0.type == .rrsig }.count == tcp.authority.count / 2)
    }
}

@Suite("DNSSEC: NSEC proofs (RFC 4035 §3.1.3)")
struct NSECProofTests {
    // The chain in canonical order (RFC 4034 §6.1): example.test, alias, big, a.b.c, cw, dn,
    // ns1, secure, sub, www.target, *.wild, www.

    @Test func nameError() throws {
        let reply = try SignedHarness(.nsec).ask("nx.example.test.", .a)
        #expect(reply.rcode == .nxDomain)
        #expect(reply.isAuthoritative)
        // ns1 < nx < secure proves the name; the apex NSEC covers *.example.test.
        #expect(
            summary(reply.authority)
                == (soaWithSignature + proof("ns1.example.test.", .nsec) + proof("example.test.", .nsec))
                .sorted())
    }

    @Test func noDataAndEmptyNonTerminal() throws {
        let harness = try SignedHarness(.nsec)
        let noData = try harness.ask("www.example.test.", .txt)
        #expect(noData.rcode == .noError && noData.answer.isEmpty)
        #expect(summary(noData.authority) == (soaWithSignature + proof("www.example.test.", .nsec)).sorted())
        // RFC 4035 §3.1.3.2: b.c has no NSEC; the one covering it (big < b.c < a.b.c) proves it.
        let ent = try harness.ask("b.c.example.test.", .a)
        #expect(ent.rcode == .noError)
        #expect(summary(ent.authority) == (soaWithSignature + proof("big.example.test.", .nsec)).sorted())
    }

    @Test func wildcardAnswerKeepsTheLabelsFieldAndProvesNoCloserName() throws {
        let reply = try SignedHarness(.nsec).ask("foo.wild.example.test.", .a)
        #expect(reply.rcode == .noError)
        // RFC 4035 §3.1.3.3: the RRSIG is the wildcard's (3 labels), owned by the query name.
        #expect(summary(reply.answer) == ["foo.wild.example.test. A", "foo.wild.example.test. RRSIG(A 3)"])
        #expect(summary(reply.authority) == proof("*.wild.example.test.", .nsec))
    }

    @Test func wildcardNoData() throws {
        let reply = try SignedHarness(.nsec).ask("foo.wild.example.test.", .txt)
        #expect(reply.rcode == .noError && reply.answer.isEmpty)
        // The wildcard's own NSEC both covers foo.wild and shows it has no TXT.
        #expect(
            summary(reply.authority) == (soaWithSignature + proof("*.wild.example.test.", .nsec)).sorted())
    }

    @Test func referralsAndDS() throws {
        let harness = try SignedHarness(.nsec)
        let insecure = try harness.ask("host.sub.example.test.", .a)
        #expect(!insecure.isAuthoritative)
        #expect(
            summary(insecure.authority)
                == (["sub.example.test. NS"] + proof("sub.example.test.", .nsec)).sorted())
        #expect(summary(insecure.additional.filter { $0.type != .opt }) == ["ns.sub.example.test. A"])
        let secure = try harness.ask("host.secure.example.test.", .a)
        #expect(
            summary(secure.authority) == [
                "secure.example.test. DS", "secure.example.test. NS", "secure.example.test. RRSIG(DS 3)",
            ])
        let noDS = try harness.ask("sub.example.test.", .ds)
        #expect(noDS.isAuthoritative && noDS.answer.isEmpty)
        #expect(summary(noDS.authority) == (soaWithSignature + proof("sub.example.test.", .nsec)).sorted())
        let ds = try harness.ask("secure.example.test.", .ds)
        #expect(ds.isAuthoritative)
        #expect(summary(ds.answer) == ["secure.example.test. DS", "secure.example.test. RRSIG(DS 3)"])
    }
}

@Suite("DNSSEC: NSEC3 proofs (RFC 5155 §7.2)")
struct NSEC3ProofTests {
    static let plain = TestSigner.Denial.nsec3(iterations: 0, salt: [], optOut: false)

    @Test func nameErrorIsTheClosestEncloserProofAndTheWildcard() throws {
        let harness = try SignedHarness(Self.plain)
        let reply = try harness.ask("nx.a.b.c.example.test.", .a)
        #expect(reply.rcode == .nxDomain)
        // RFC 5155 §7.2.2: the closest encloser a.b.c matches, the next closer nx.a.b.c and the
        // wildcard *.a.b.c are covered.
        let owners = Set(
            ["a.b.c.example.test.", "nx.a.b.c.example.test.", "*.a.b.c.example.test."].map(harness.nsec3Owner)
        )
        #expect(
            summary(reply.authority) == (soaWithSignature + owners.flatMap { proof($0, .nsec3) }).sorted())
    }

    @Test func noDataMatchesTheName() throws {
        let harness = try SignedHarness(Self.plain)
        for name in ["www.example.test.", "b.c.example.test."] {  // an empty non-terminal too
            let reply = try harness.ask(name, .txt)
            #expect(reply.rcode == .noError && reply.answer.isEmpty)
            #expect(
                summary(reply.authority)
                    == (soaWithSignature + proof(harness.nsec3Owner(for: name), .nsec3)).sorted())
        }
    }

    @Test func wildcardAnswerCoversTheNextCloserName() throws {
        let harness = try SignedHarness(Self.plain)
        let reply = try harness.ask("x.y.wild.example.test.", .a)
        #expect(summary(reply.answer) == ["x.y.wild.example.test. A", "x.y.wild.example.test. RRSIG(A 3)"])
        // RFC 5155 §7.2.6: the next closer name is y.wild (the closest encloser is wild).
        #expect(summary(reply.authority) == proof(harness.nsec3Owner(for: "y.wild.example.test."), .nsec3))
    }

    @Test func wildcardNoDataHasTheWildcardsNSEC3() throws {
        let harness = try SignedHarness(Self.plain)
        let reply = try harness.ask("foo.wild.example.test.", .txt)
        // RFC 5155 §7.2.5: closest encloser (wild), next closer (foo.wild), and the wildcard.
        let owners = Set(
            ["wild.example.test.", "foo.wild.example.test.", "*.wild.example.test."].map(harness.nsec3Owner))
        #expect(owners.count == 3)
        #expect(
            summary(reply.authority) == (soaWithSignature + owners.flatMap { proof($0, .nsec3) }).sorted())
    }

    @Test func wildcardCNAMEProvesEachStep() throws {
        let harness = try SignedHarness(Self.plain)
        let reply = try harness.ask("cw.example.test.", .a)
        #expect(
            summary(reply.answer) == [
                "cw.example.test. CNAME", "cw.example.test. RRSIG(CNAME 3)", "x.wild.example.test. A",
                "x.wild.example.test. RRSIG(A 3)",
            ])
        #expect(summary(reply.authority) == proof(harness.nsec3Owner(for: "x.wild.example.test."), .nsec3))
    }

    @Test func insecureReferralMatchesTheDelegation() throws {
        let harness = try SignedHarness(Self.plain)
        let reply = try harness.ask("host.sub.example.test.", .a)
        #expect(
            summary(reply.authority)
                == (["sub.example.test. NS"] + proof(harness.nsec3Owner(for: "sub.example.test."), .nsec3))
                .sorted())
    }

    @Test func optOutReferralIsTheClosestProvableEncloserProof() throws {
        let harness = try SignedHarness(.nsec3(iterations: 0, salt: [], optOut: true))
        // RFC 5155 §7.2.7: sub has no NSEC3; the apex matches and the opt-out NSEC3 covering sub.
        let owners = Set(["example.test.", "sub.example.test."].map(harness.nsec3Owner))
        #expect(owners.count == 2)
        let referral = try harness.ask("host.sub.example.test.", .a)
        #expect(
            summary(referral.authority)
                == (["sub.example.test. NS"] + owners.flatMap { proof($0, .nsec3) }).sorted())
        // RFC 5155 §7.2.4: DS at an opt-out delegation, the same proof.
        let noDS = try harness.ask("sub.example.test.", .ds)
        #expect(noDS.isAuthoritative && noDS.answer.isEmpty)
        #expect(summary(noDS.authority) == (soaWithSignature + owners.flatMap { proof($0, .nsec3) }).sorted())
    }

    @Test func saltAndIterationsAreHonoured() throws {
        let harness = try SignedHarness(.nsec3(iterations: 5, salt: [0xAB, 0xCD], optOut: false))
        let reply = try harness.ask("www.example.test.", .txt)
        #expect(summary(reply.authority).contains("\(harness.nsec3Owner(for: "www.example.test.")) NSEC3"))
    }
}

@Suite("DNSSEC: DS from the parent side (RFC 4035 §3.1.4.1)")
struct ParentSideDSTests {
    @Test func dsForAChildServedHereComesFromTheParent() throws {
        let now = UInt32(Date().timeIntervalSince1970)
        let child = """
            $ORIGIN child.example.test.
            $TTL 3600
            @ IN SOA ns1 hostmaster 1 3600 900 604800 300
            @ NS ns1
            ns1 A 192.0.2.9

            """
        let files = TemporaryZones()
        let signedChild = try TestSigner.sign(
            child, origin: "child.example.test.", denial: .nsec, inception: now - 86400,
            expiration: now + 86400)
        let childZone = try files.load("child.example.test.", signedChild).get().zone
        let parent =
            unsignedSource + "child NS ns1.child\nns1.child A 192.0.2.9\n"
            + TestSigner.ds(origin: "child.example.test.")
        let harness = try SignedHarness(.nsec, source: parent, more: [childZone])
        let reply = try harness.ask("child.example.test.", .ds)
        #expect(reply.isAuthoritative)
        #expect(summary(reply.answer) == ["child.example.test. DS", "child.example.test. RRSIG(DS 3)"])
        // Signed by the parent: the signer's name in the RRSIG is example.test.
        let signature = try #require(reply.answer.first { $0.type == .rrsig })
        #expect(signature.data.contains("076578616d706c650474657374"))
        // Anything else at the child apex is the child's.
        #expect(try harness.ask("child.example.test.", .soa).isAuthoritative)
        #expect(
            summary(try harness.ask("child.example.test.", .soa).answer).contains("child.example.test. SOA"))
    }
}

@Suite("DNSSEC: edge cases")
struct DNSSECEdgeCaseTests {
    /// RFC 8482 §4.2: ANY gets one RRset of data, never the RRSIGs, whatever the file order.
    @Test func anyNeverAnswersWithTheSignatures() throws {
        let harness = try SignedHarness(.nsec) { text in
            // The A record of www after its RRSIG and NSEC: the node's first RRset is RRSIG.
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let record = lines.first { $0.hasPrefix("www.example.test.") && $0.contains("\tA\t") }!
            return (lines.filter { $0 != record } + [record]).joined(separator: "\n")
        }
        let plain = try harness.ask("www.example.test.", .any, dnssec: false)
        #expect(summary(plain.answer) == ["www.example.test. A"])
        let signed = try harness.ask("www.example.test.", .any)
        #expect(summary(signed.answer) == ["www.example.test. A", "www.example.test. RRSIG(A 3)"])
    }

    /// RFC 4035 §3.1.4.1: the parent answers DS for a child that is configured but unavailable.
    @Test func dsForAnUnavailableChildComesFromTheParent() throws {
        let harness = try SignedHarness(.nsec, unavailable: [DomainName("secure.example.test.")!])
        let reply = try harness.ask("secure.example.test.", .ds)
        #expect(reply.rcode == .noError && reply.isAuthoritative)
        #expect(summary(reply.answer) == ["secure.example.test. DS", "secure.example.test. RRSIG(DS 3)"])
        // Anything else there is the child's, which is not servable.
        #expect(try harness.ask("secure.example.test.", .soa).rcode == .servFail)
    }
}
