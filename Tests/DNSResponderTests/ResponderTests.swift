import DNSResponder
import DNSWire
import DNSZone
import ServingTypes
import TestSupport
import Testing

/// The zone every scenario below is answered from (inline, CoreDNS-style).
private let zoneText = """
    $ORIGIN example.test.
    $TTL 3600
    @        7200 IN SOA ns1 hostmaster 1 3600 900 604800 300
    @        NS    ns1
    @        NS    ns2.outside.example.
    @        MX    10 mail
    ns1      A     192.0.2.53
    ns1      AAAA  2001:db8::53
    mail     A     192.0.2.25
    www      A     192.0.2.80
    www      TXT   "hello"
    alias    CNAME chain
    chain    CNAME www
    loop1    CNAME loop2
    loop2    CNAME loop1
    out      CNAME www.elsewhere.example.
    tosub    CNAME host.sub
    a.b.c    A     192.0.2.3
    *.wild   A     192.0.2.100
    *.wild   TXT   "wild"
    exists.wild A  192.0.2.101
    sub      NS    ns.sub
    sub      NS    ns.outside.example.
    ns.sub   A     192.0.2.201
    secure   NS    ns.outside.example.
    secure   DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
    dn       1800 DNAME target
    www.target A   192.0.2.150
    big      TXT   "\(String(repeating: "x", count: 200))"
    big      TXT   "\(String(repeating: "y", count: 200))"
    big      TXT   "\(String(repeating: "z", count: 200))"
    unknown  TYPE65400 \\# 4 0A000001
    """

/// Loads the zone once per test and answers queries in-process.
private struct Harness {
    let files = TemporaryZones()
    let zones: ZoneSet
    let responder = Responder(identity: ServerIdentity(identity: "site-a", version: nil))
    let scratch = ResponderScratch()

    init() throws {
        let loaded = try files.load("example.test.", zoneText).get()
        zones = ZoneSet([loaded.zone])
    }

    func ask(_ query: QueryBuilder, over transport: Transport = .udp) throws -> ParsedMessage {
        let response = try #require(raw(query.bytes, over: transport), "no response")
        return try #require(ParsedMessage(response), "undecodable response")
    }

    func askRaw(_ bytes: [UInt8]) throws -> ParsedMessage {
        let response = try #require(raw(bytes), "no response")
        return try #require(ParsedMessage(response), "undecodable response")
    }

    func raw(_ bytes: [UInt8], over transport: Transport = .udp) -> [UInt8]? {
        bytes.withUnsafeBytes { packet in
            responder.respond(to: packet, transport: transport, zones: zones, scratch: scratch).map {
                Array($0.bytes)
            }
        }
    }
}

@Suite("Authoritative answers (RFC 1034 §4.3.2)")
struct AuthoritativeAnswerTests {
    @Test func exactMatchIsAuthoritativeWithTheRRset() throws {
        let reply = try Harness().ask(QueryBuilder("www.example.test.", .a))
        #expect(reply.rcode == .noError)
        #expect(reply.isAuthoritative)
        #expect(reply.answer.map(\.description) == ["www.example.test. 3600 A 192.0.2.80"])
        #expect(reply.authority.isEmpty)
    }

    @Test func qnameCaseIsEchoedExactly_RFC4343() throws {
        let reply = try Harness().ask(QueryBuilder("WwW.ExAmPlE.tEsT.", .a))
        #expect(reply.questionNameExact == "WwW.ExAmPlE.tEsT.")
        #expect(reply.answer.count == 1)
    }

    @Test func nxDomainCarriesSOAWithMinimumOfTTLAndMinimum_RFC2308() throws {
        let reply = try Harness().ask(QueryBuilder("nothere.example.test.", .a))
        #expect(reply.rcode == .nxDomain)
        #expect(reply.isAuthoritative)
        #expect(reply.answer.isEmpty)
        #expect(reply.authority.map(\.type) == [.soa])
        #expect(reply.authority.first?.ttl == 300)
    }

    @Test func noDataCarriesSOA() throws {
        let reply = try Harness().ask(QueryBuilder("www.example.test.", .aaaa))
        #expect(reply.rcode == .noError)
        #expect(reply.answer.isEmpty)
        #expect(reply.authority.map(\.type) == [.soa])
    }

    @Test func emptyNonTerminalIsNoData_RFC8020() throws {
        let reply = try Harness().ask(QueryBuilder("b.c.example.test.", .a))
        #expect(reply.rcode == .noError)
        #expect(reply.authority.map(\.type) == [.soa])
    }

    @Test func cnameChainIsFollowedInsideTheZone() throws {
        let reply = try Harness().ask(QueryBuilder("alias.example.test.", .a))
        #expect(
            reply.answer.map(\.description) == [
                "alias.example.test. 3600 CNAME chain.example.test.",
                "chain.example.test. 3600 CNAME www.example.test.",
                "www.example.test. 3600 A 192.0.2.80",
            ])
    }

    @Test func cnameLoopStopsAtTheRepeat() throws {
        let reply = try Harness().ask(QueryBuilder("loop1.example.test.", .a))
        #expect(reply.rcode == .noError)
        #expect(reply.answer.map(\.owner) == ["loop1.example.test.", "loop2.example.test."])
    }

    @Test func cnameLeavingTheZoneStops() throws {
        let reply = try Harness().ask(QueryBuilder("out.example.test.", .a))
        #expect(reply.answer.map(\.description) == ["out.example.test. 3600 CNAME www.elsewhere.example."])
        #expect(reply.authority.isEmpty)
    }

    @Test func cnameIntoADelegationAddsTheReferral() throws {
        let reply = try Harness().ask(QueryBuilder("tosub.example.test.", .a))
        #expect(reply.isAuthoritative)
        #expect(reply.answer.map(\.type) == [.cname])
        #expect(reply.authority.map(\.type) == [.ns, .ns])
        #expect(reply.additional.map(\.description) == ["ns.sub.example.test. 3600 A 192.0.2.201"])
    }

    @Test func wildcardIsSynthesizedWithTheQueryName_RFC4592() throws {
        let reply = try Harness().ask(QueryBuilder("a.b.wild.example.test.", .txt))
        #expect(reply.answer.map(\.description) == ["a.b.wild.example.test. 3600 TXT \"wild\""])
    }

    @Test func wildcardDoesNotMatchBelowExistingName() throws {
        let reply = try Harness().ask(QueryBuilder("x.exists.wild.example.test.", .a))
        #expect(reply.rcode == .nxDomain)
    }

    @Test func wildcardNoDataGivesSOA() throws {
        let reply = try Harness().ask(QueryBuilder("foo.wild.example.test.", .mx))
        #expect(reply.rcode == .noError)
        #expect(reply.answer.isEmpty)
        #expect(reply.authority.map(\.type) == [.soa])
    }

    @Test func referralIsNotAuthoritativeWithGlue() throws {
        let reply = try Harness().ask(QueryBuilder("host.sub.example.test.", .a))
        #expect(reply.rcode == .noError)
        #expect(!reply.isAuthoritative)
        #expect(reply.answer.isEmpty)
        #expect(
            Set(reply.authority.map(\.description)) == [
                "sub.example.test. 3600 NS ns.sub.example.test.",
                "sub.example.test. 3600 NS ns.outside.example.",
            ])
        #expect(reply.additional.map(\.description) == ["ns.sub.example.test. 3600 A 192.0.2.201"])
    }

    @Test func dsIsAnsweredFromTheParentSideOfTheCut_RFC4035() throws {
        let harness = try Harness()
        let secure = try harness.ask(QueryBuilder("secure.example.test.", .ds))
        #expect(secure.isAuthoritative)
        #expect(secure.answer.map(\.type) == [.ds])
        let insecure = try harness.ask(QueryBuilder("sub.example.test.", .ds))
        #expect(insecure.isAuthoritative)
        #expect(insecure.answer.isEmpty)
        #expect(insecure.authority.map(\.type) == [.soa])
    }

    @Test func dnameSynthesizesACNAMEWithTheDNAMETTL_RFC6672() throws {
        let reply = try Harness().ask(QueryBuilder("www.dn.example.test.", .a))
        #expect(
            reply.answer.map(\.description) == [
                "dn.example.test. 1800 DNAME target.example.test.",
                "www.dn.example.test. 1800 CNAME www.target.example.test.",
                "www.target.example.test. 3600 A 192.0.2.150",
            ])
    }

    @Test func mxTargetAddressesGoInAdditional() throws {
        let reply = try Harness().ask(QueryBuilder("example.test.", .mx))
        #expect(reply.answer.map(\.description) == ["example.test. 3600 MX 10 mail.example.test."])
        #expect(reply.additional.map(\.description) == ["mail.example.test. 3600 A 192.0.2.25"])
    }

    @Test func anyReturnsOneRRset_RFC8482() throws {
        let reply = try Harness().ask(QueryBuilder("example.test.", .any))
        #expect(reply.isAuthoritative)
        #expect(reply.answer.map(\.type) == [.soa])
    }

    @Test func unknownTypeIsServedByteForByte_RFC3597() throws {
        let reply = try Harness().ask(QueryBuilder("unknown.example.test.", RecordType(rawValue: 65400)))
        #expect(reply.answer.map(\.data) == ["0a000001"])
    }

    @Test func outOfZoneIsRefused() throws {
        let reply = try Harness().ask(QueryBuilder("www.example.org.", .a))
        #expect(reply.rcode == .refused)
        #expect(!reply.isAuthoritative)
        #expect(reply.answer.isEmpty && reply.authority.isEmpty)
    }
}

@Suite("EDNS, truncation and malformed queries")
struct ProtocolEdgeTests {
    @Test func largeAnswerWithoutEDNSIsTruncatedWithEmptySections() throws {
        let reply = try Harness().ask(QueryBuilder("big.example.test.", .txt))
        #expect(reply.isTruncated)
        #expect(reply.isAuthoritative)
        #expect(reply.questionName == "big.example.test.")
        #expect(reply.answer.isEmpty && reply.authority.isEmpty && reply.additional.isEmpty)
    }

    @Test func tcpGivesTheFullAnswer_RFC7766() throws {
        let reply = try Harness().ask(QueryBuilder("big.example.test.", .txt), over: .tcp)
        #expect(!reply.isTruncated)
        #expect(reply.answer.count == 3)
    }

    @Test func ednsBufferLiftsTheLimitAndOPTIsEchoed() throws {
        let reply = try Harness().ask(
            QueryBuilder("big.example.test.", .txt).withEDNS(payload: 4096, dnssecOK: true))
        #expect(!reply.isTruncated)
        #expect(reply.answer.count == 3)
        let opt = try #require(reply.opt)
        #expect(opt.rrClass == 1232)
        #expect(opt.ttl & 0x8000 != 0, "DO bit echoed")
    }

    @Test func unknownEDNSVersionGetsBADVERS_RFC6891() throws {
        let reply = try Harness().ask(QueryBuilder("www.example.test.", .a).withEDNS(version: 1))
        #expect(reply.rcode == .badVers)
        #expect(reply.header.rcodeBits == 0)
        #expect(reply.answer.isEmpty)
        #expect(!reply.isAuthoritative)
    }

    @Test func nsidReturnsTheIdentity_RFC5001() throws {
        let reply = try Harness().ask(QueryBuilder("www.example.test.", .a).withEDNS(options: [0, 3, 0, 0]))
        let opt = try #require(reply.opt)
        // Option code 3, length 6, "site-a".
        #expect(opt.data == "00030006" + Array("site-a".utf8).map { String($0, radix: 16) }.joined())
    }

    @Test func qdcountOtherThanOneIsFORMERR() throws {
        var bytes = QueryBuilder("www.example.test.", .a).bytes
        bytes[5] = 2
        let reply = try Harness().askRaw(bytes)
        #expect(reply.rcode == .formErr)
        #expect(reply.header.questionCount == 0)
    }

    @Test func trailingGarbageIsFORMERRWithTheQuestionEchoed() throws {
        let reply = try Harness().askRaw(QueryBuilder("www.example.test.", .a).bytes + [1, 2, 3])
        #expect(reply.rcode == .formErr)
        #expect(reply.questionName == "www.example.test.")
    }

    @Test func responsesAreNeverAnswered() throws {
        var bytes = QueryBuilder("www.example.test.", .a).bytes
        bytes[2] |= 0x80
        #expect(try Harness().raw(bytes) == nil)
    }

    @Test func unknownOpcodeIsNOTIMP() throws {
        var query = QueryBuilder("www.example.test.", .a)
        query.flags = 3 << 11
        let reply = try Harness().ask(query)
        #expect(reply.rcode == .notImp)
        #expect(reply.header.opcode == Opcode(rawValue: 3))
    }

    /// RD and CD mean something only for the opcodes we implement; for any other they are cleared
    /// (BIND's behaviour, ISC genreport `opcodeflg`), while a QUERY and an UPDATE keep them echoed.
    @Test(arguments: [UInt16(1), 2, 3, 6, 15])
    func unknownOpcodeClearsRDAndCD(opcode: UInt16) throws {
        var query = QueryBuilder("www.example.test.", .a)
        query.flags = opcode << 11 | DNSHeader.Flag.rd | DNSHeader.Flag.cd
        let reply = try Harness().ask(query)
        #expect(reply.rcode == .notImp)
        #expect(reply.header.opcode == Opcode(rawValue: UInt8(opcode)))
        #expect(reply.header.flags & (DNSHeader.Flag.rd | DNSHeader.Flag.cd) == 0)
    }

    @Test func implementedOpcodesEchoRDAndCD() throws {
        for opcode: UInt16 in [0, 5] {
            var query = QueryBuilder("www.example.test.", .a)
            query.flags = opcode << 11 | DNSHeader.Flag.rd | DNSHeader.Flag.cd
            let reply = try Harness().ask(query)
            #expect(reply.header.flags & DNSHeader.Flag.rd != 0)
            #expect(reply.header.flags & DNSHeader.Flag.cd != 0)
        }
    }

    /// UPDATE (RFC 2136) changes only the member table; a server without one does not implement it.
    @Test func updateWithoutServicesIsNOTIMP() throws {
        var query = QueryBuilder("example.test.", .soa)
        query.flags = 5 << 11
        let reply = try Harness().ask(query)
        #expect(reply.rcode == .notImp)
        #expect(reply.header.opcode == .update)
    }

    @Test func axfrOverUDPIsNotImplementedAndRefusedOverTCP() throws {
        let harness = try Harness()
        #expect(try harness.ask(QueryBuilder("example.test.", .axfr)).rcode == .notImp)
        #expect(try harness.ask(QueryBuilder("example.test.", .axfr), over: .tcp).rcode == .refused)
    }
}

@Suite("CHAOS class identity (RFC 4892)")
struct ChaosTests {
    @Test func idServerReturnsTheSiteIdentity() throws {
        var query = QueryBuilder("id.server.", .txt)
        query.qclass = .chaos
        let reply = try Harness().ask(query)
        #expect(reply.rcode == .noError)
        #expect(reply.answer.map(\.data) == ["\"site-a\""])
        #expect(reply.answer.first?.rrClass == DNSClass.chaos.rawValue)
        #expect(reply.answer.first?.ttl == 0)
    }

    @Test func hiddenVersionIsRefused() throws {
        var query = QueryBuilder("version.bind.", .txt)
        query.qclass = .chaos
        #expect(try Harness().ask(query).rcode == .refused)
    }

    @Test func chaosQueriesAreNotAnsweredFromInternetData() throws {
        var query = QueryBuilder("www.example.test.", .a)
        query.qclass = .chaos
        let reply = try Harness().ask(query)
        #expect(reply.rcode == .refused)
        #expect(reply.answer.isEmpty)
    }
}
