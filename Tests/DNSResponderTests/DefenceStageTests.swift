import DNSAuth
import DNSGuard
import DNSResponder
import DNSWire
import DNSZone
import ServingTypes
import TestSupport
import Testing

private let firstZone = """
    $ORIGIN example.test.
    $TTL 3600
    @        IN SOA ns1 hostmaster 1 3600 900 604800 300
    @        NS    ns1
    ns1      A     192.0.2.53
    www      A     192.0.2.80
    toother  CNAME www.other.test.
    across   CNAME hop.other.test.
    back     CNAME across
    outside  CNAME www.elsewhere.example.
    dn       DNAME other.test.
    """

private let secondZone = """
    $ORIGIN other.test.
    $TTL 600
    @        IN SOA ns1.example.test. hostmaster.example.test. 7 3600 900 604800 60
    @        NS    ns1.example.test.
    www      A     198.51.100.80
    hop      CNAME back.example.test.
    """

/// The cookie secret of the scenarios below, as an operator would configure it.
private let secret = CookieSecret(hex: "000102030405060708090a0b0c0d0e0f")!
private let clientCookie: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]

/// Two zones and a responder with chosen defences; each query states its client and time.
private struct Harness {
    let files = TemporaryZones()
    let zones: ZoneSet
    let responder: Responder
    let scratch = ResponderScratch()

    init(defenses: Defenses = Defenses(cookies: ServerCookies(secret: secret)), unavailable: [String] = [])
        throws
    {
        let first = try files.load("example.test.", firstZone).get().zone
        let second = try files.load("other.test.", secondZone).get().zone
        zones = ZoneSet([first, second], unavailable: unavailable.map { DomainName($0)! })
        responder = Responder(identity: ServerIdentity(identity: "site-a", version: nil), defenses: defenses)
    }

    func respond(
        _ query: QueryBuilder, transport: Transport = .udp, client: String = "192.0.2.1",
        now: UInt64 = 1_700_000_000,
        underLoad: Bool = false
    ) -> (Response, ParsedMessage?)? {
        query.bytes.withUnsafeBytes { packet in
            let context = QueryContext(
                transport: transport, client: IPAddress(client)!, now: now, underLoad: underLoad)
            return responder.respond(to: packet, context: context, zones: zones, scratch: scratch).map {
                ($0, ParsedMessage(Array($0.bytes)))
            }
        }
    }

    func ask(
        _ query: QueryBuilder, transport: Transport = .udp, client: String = "192.0.2.1",
        now: UInt64 = 1_700_000_000,
        underLoad: Bool = false
    ) throws -> ParsedMessage {
        let answered = try #require(
            respond(query, transport: transport, client: client, now: now, underLoad: underLoad))
        return try #require(answered.1, "undecodable response")
    }
}

/// EDNS options of a response's OPT, by code (RFC 6891 §6.1.2).
private func options(_ message: ParsedMessage) -> [UInt16: [UInt8]] {
    guard let data = message.opt?.data else { return [:] }
    let digits = Array(data.utf8)
    let bytes = stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
    }
    var result: [UInt16: [UInt8]] = [:]
    var position = 0
    while position + 4 <= bytes.count {
        let code = UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
        let length = Int(bytes[position + 2]) << 8 | Int(bytes[position + 3])
        result[code] = Array(bytes[(position + 4)..<(position + 4 + length)])
        position += 4 + length
    }
    return result
}

private func query(_ name: String, _ type: RecordType = .a, cookie: [UInt8]? = nil, keepalive: [UInt8]? = nil)
    -> QueryBuilder
{
    var optionBytes: [UInt8] = []
    if let cookie { optionBytes += [0, 10, 0, UInt8(cookie.count)] + cookie }
    if let keepalive { optionBytes += [0, 11, 0, UInt8(keepalive.count)] + keepalive }
    return QueryBuilder(name, type).withEDNS(payload: 1232, options: optionBytes)
}

@Suite("DNS cookies in answers (RFC 7873 §5.2, RFC 9018)")
struct CookieStageTests {
    @Test("a client cookie gets the client cookie back with a fresh server cookie")
    func clientCookieGetsServerCookie() throws {
        let harness = try Harness()
        let (response, reply) = try #require(
            harness.respond(query("www.example.test.", cookie: clientCookie)))
        #expect(response.cookie == .clientOnly)
        #expect(reply?.answer.map(\.description) == ["www.example.test. 3600 A 192.0.2.80"])
        let message = try #require(reply)
        let cookie = try #require(options(message)[EDNSOptionCode.cookie])
        var expected = [UInt8](repeating: 0, count: 16)
        clientCookie.withUnsafeBytes { client in
            expected.withUnsafeMutableBytes {
                ServerCookies(secret: secret).writeServerCookie(
                    clientCookie: client, client: IPAddress("192.0.2.1")!, now: 1_700_000_000, into: $0)
            }
        }
        #expect(cookie == clientCookie + expected)
    }

    @Test("a server cookie comes back valid, here and at another site with the same secret, not elsewhere")
    func serverCookieIsValidAcrossSites() throws {
        let site = try Harness()
        let first = try site.ask(query("www.example.test.", cookie: clientCookie))
        let cookie = try #require(options(first)[EDNSOptionCode.cookie])
        let (again, _) = try #require(
            site.respond(query("www.example.test.", cookie: cookie), now: 1_700_000_100))
        #expect(again.cookie == .valid)
        let otherSite = try Harness()
        #expect(
            otherSite.respond(query("www.example.test.", cookie: cookie), now: 1_700_000_100)?.0.cookie
                == .valid)
        let stranger = try Harness(defenses: Defenses(cookies: ServerCookies(secret: .random())))
        #expect(stranger.respond(query("www.example.test.", cookie: cookie))?.0.cookie == .clientOnly)
        // From another address the cookie is not this client's.
        #expect(
            site.respond(query("www.example.test.", cookie: cookie), client: "192.0.2.2")?.0.cookie
                == .clientOnly)
    }

    @Test("a COOKIE option of a bad length is FORMERR")
    func malformedCookieIsFormErr() throws {
        let reply = try Harness().ask(query("www.example.test.", cookie: [1, 2, 3, 4, 5, 6, 7, 8, 9]))
        #expect(reply.rcode == .formErr)
        #expect(reply.answer.isEmpty)
    }

    @Test(
        "under load, UDP without a valid server cookie gets BADCOOKIE and a fresh cookie; TCP and valid cookies are answered"
    )
    func badCookieUnderLoad() throws {
        let harness = try Harness(
            defenses: Defenses(cookies: ServerCookies(secret: secret), requireCookiesUnderLoad: true))
        let refused = try harness.ask(query("www.example.test.", cookie: clientCookie), underLoad: true)
        #expect(refused.rcode == .badCookie)
        #expect(refused.answer.isEmpty)
        let fresh = try #require(options(refused)[EDNSOptionCode.cookie])
        #expect(fresh.count == 24)
        let retried = try harness.ask(query("www.example.test.", cookie: fresh), underLoad: true)
        #expect(retried.rcode == .noError)
        #expect(retried.answer.count == 1)
        let overTCP = try harness.ask(
            query("www.example.test.", cookie: clientCookie), transport: .tcp, underLoad: true)
        #expect(overTCP.answer.count == 1)
        // No COOKIE option at all: answered (RFC 7873 §5.2.1), and left to rate limiting.
        #expect(try harness.ask(query("www.example.test."), underLoad: true).answer.count == 1)
        // Not under load: answered.
        #expect(try harness.ask(query("www.example.test.", cookie: clientCookie)).answer.count == 1)
    }
}

@Suite("Response rate limiting in the responder")
struct RateLimitStageTests {
    fileprivate static func limited(_ settings: RateLimitSettings) throws -> Harness {
        try Harness(
            defenses: Defenses(
                cookies: ServerCookies(secret: secret), rateLimiter: RateLimiter(settings: settings)))
    }

    @Test("over the rate, every 2nd limited response is truncated with no records, the others dropped")
    func dropAndSlip() throws {
        let harness = try Self.limited(RateLimitSettings(responsesPerSecond: 3, slip: 2))
        var outcomes: [String] = []
        var firstOver: [FollowUp] = []
        for _ in 0..<9 {
            let (response, reply) = try #require(harness.respond(query("www.example.test.")))
            if case .event(.rateLimited) = response.followUp { firstOver.append(response.followUp!) }
            switch response.rateLimit {
            case nil: outcomes.append(reply?.answer.count == 1 ? "answer" : "?")
            case .dropped: outcomes.append(response.bytes.isEmpty ? "dropped" : "?")
            case .slipped:
                outcomes.append(
                    reply?.isTruncated == true && reply?.answer.isEmpty == true && reply?.opt != nil
                        ? "slipped" : "?")
            case .logged: outcomes.append("logged")
            }
        }
        #expect(
            outcomes == [
                "answer", "answer", "answer", "dropped", "slipped", "dropped", "slipped", "dropped",
                "slipped",
            ])
        #expect(firstOver.count == 1)
        // The next second starts afresh.
        #expect(harness.respond(query("www.example.test."), now: 1_700_000_001)?.0.rateLimit == nil)
    }

    @Test("TCP, valid cookies, exempt prefixes and other /24s are not limited; log-only answers all")
    func exemptions() throws {
        let harness = try Self.limited(
            RateLimitSettings(responsesPerSecond: 1, exempt: [AddressPrefix("203.0.113.0/24")!]))
        _ = harness.respond(query("www.example.test."))
        #expect(harness.respond(query("www.example.test."))?.0.rateLimit != nil)
        #expect(harness.respond(query("www.example.test."), transport: .tcp)?.0.rateLimit == nil)
        #expect(harness.respond(query("www.example.test."), client: "192.0.3.1")?.0.rateLimit == nil)
        for _ in 0..<5 {
            #expect(harness.respond(query("www.example.test."), client: "203.0.113.9")?.0.rateLimit == nil)
        }
        let withCookie = try harness.ask(query("www.example.test.", cookie: clientCookie), transport: .tcp)
        let cookie = try #require(options(withCookie)[EDNSOptionCode.cookie])
        for _ in 0..<5 {
            #expect(harness.respond(query("www.example.test.", cookie: cookie))?.0.rateLimit == nil)
        }

        let logOnly = try Self.limited(RateLimitSettings(responsesPerSecond: 1, logOnly: true))
        _ = logOnly.respond(query("www.example.test."))
        let (response, reply) = try #require(logOnly.respond(query("www.example.test.")))
        #expect(response.rateLimit == .logged)
        #expect(reply?.answer.count == 1)
    }

    @Test("responses are classed: NXDOMAIN for random names shares one bucket per zone; names do not share")
    func classes() throws {
        let harness = try Self.limited(RateLimitSettings(responsesPerSecond: 2))
        let nx = (0..<4).map { harness.respond(query("random\($0).example.test."))?.0 }
        #expect(nx.map { $0?.responseClass } == [.nxDomain, .nxDomain, .nxDomain, .nxDomain])
        #expect(nx.map { $0?.rateLimit == nil } == [true, true, false, false])
        // Another zone's NXDOMAIN, and a positive answer, have buckets of their own.
        #expect(harness.respond(query("random.other.test."))?.0.rateLimit == nil)
        #expect(harness.respond(query("www.example.test."))?.0.responseClass == .positive)
        #expect(harness.respond(query("www.example.test."))?.0.rateLimit == nil)
        #expect(harness.respond(query("www.example.test.", .aaaa))?.0.responseClass == .noData)
        #expect(harness.respond(query("nowhere.invalid."))?.0.responseClass == .error)
    }

    @Test("two limited clients taking turns both get truncated answers: slip counts per bucket")
    func slipPerBucket() throws {
        let harness = try Self.limited(RateLimitSettings(responsesPerSecond: 1, slip: 2))
        var actions: [String: [RateLimitAction?]] = ["192.0.2.1": [], "198.51.100.1": []]
        for _ in 0..<5 {
            for client in ["192.0.2.1", "198.51.100.1"] {
                actions[client]!.append(
                    harness.respond(query("www.example.test."), client: client)?.0.rateLimit)
            }
        }
        for (_, seen) in actions { #expect(seen == [nil, .dropped, .slipped, .dropped, .slipped]) }
    }

    @Test("BADCOOKIE under load is rate limited too: it must not be reflected without limit")
    func badCookieIsLimited() throws {
        let harness = try Harness(
            defenses: Defenses(
                cookies: ServerCookies(secret: secret), requireCookiesUnderLoad: true,
                rateLimiter: RateLimiter(settings: RateLimitSettings(responsesPerSecond: 2, slip: 0))))
        let answered = (0..<4).map { _ in
            harness.respond(query("www.example.test.", cookie: clientCookie), underLoad: true)?.0
        }
        #expect(answered.map { $0?.rcode } == [.badCookie, .badCookie, .badCookie, .badCookie])
        #expect(answered.map { $0?.rateLimit } == [nil, nil, .dropped, .dropped])
        #expect(answered.map { $0?.responseClass } == [.error, .error, .error, .error])
    }

    @Test(
        "names synthesized below a DNAME share the DNAME owner's bucket; refused CHAOS names the error bucket"
    )
    func dnameAndChaosClasses() throws {
        let harness = try Self.limited(RateLimitSettings(responsesPerSecond: 2, slip: 0))
        var chaos = QueryBuilder("random.server.", .txt)
        chaos.qclass = .chaos
        #expect(harness.respond(chaos)?.0.responseClass == .error)
        #expect(harness.respond(query("id.server.", .txt))?.0.responseClass == .error)  // class IN: REFUSED
        let below = (0..<3).map { harness.respond(query("random\($0).dn.example.test."))?.0 }
        #expect(below.map { $0?.responseClass } == [.wildcard, .wildcard, .wildcard])
        #expect(below.map { $0?.rateLimit } == [nil, nil, .dropped])
    }

    @Test("a flood of malformed queries is limited in the error class")
    func malformedFloodIsLimited() throws {
        let harness = try Self.limited(RateLimitSettings(responsesPerSecond: 2, slip: 0))
        var builder = QueryBuilder("www.example.test.", .a)
        builder.flags = 5 << 11  // an opcode we do not implement: NOTIMP
        let actions = (0..<4).map { _ in harness.respond(builder)?.0.rateLimit }
        #expect(actions == [nil, nil, .dropped, .dropped])
    }
}

@Suite("Extended DNS Errors, edns-tcp-keepalive, chains across zones, zones not loaded")
struct ConformanceStageTests {
    @Test("REFUSED outside our zones carries EDE 20 Not Authoritative with EDNS, nothing without (RFC 8914)")
    func notAuthoritative() throws {
        let harness = try Harness()
        let reply = try harness.ask(query("www.nowhere.invalid."))
        #expect(reply.rcode == .refused)
        #expect(options(reply)[EDNSOptionCode.extendedError] == [0, 20])
        let plain = try harness.ask(QueryBuilder("www.nowhere.invalid.", .a))
        #expect(plain.rcode == .refused)
        #expect(plain.opt == nil)
    }

    @Test("a configured zone that is not loaded answers SERVFAIL with EDE 14 Not Ready, never REFUSED")
    func notLoadedIsServFail() throws {
        let harness = try Harness(unavailable: ["broken.test."])
        let reply = try harness.ask(query("www.broken.test."))
        #expect(reply.rcode == .servFail)
        #expect(options(reply)[EDNSOptionCode.extendedError] == [0, 14])
    }

    @Test(
        "over TCP an empty keepalive option gets our timeout; over UDP nothing; a non-empty one is FORMERR (RFC 7828)"
    )
    func tcpKeepalive() throws {
        let harness = try Harness(
            defenses: Defenses(cookies: ServerCookies(secret: secret), tcpKeepalive: 150))
        let tcp = try harness.ask(query("www.example.test.", keepalive: []), transport: .tcp)
        #expect(options(tcp)[EDNSOptionCode.tcpKeepalive] == [0, 150])
        #expect(tcp.answer.count == 1)
        let udp = try harness.ask(query("www.example.test.", keepalive: []))
        #expect(options(udp)[EDNSOptionCode.tcpKeepalive] == nil)
        #expect(udp.answer.count == 1)
        let bad = try harness.ask(query("www.example.test.", keepalive: [0, 5]), transport: .tcp)
        #expect(bad.rcode == .formErr)
    }

    @Test("a CNAME chain continues into another zone served here (RFC 1034 §4.3.2 step 3a)")
    func chainAcrossZones() throws {
        let reply = try Harness().ask(query("toother.example.test."))
        #expect(reply.rcode == .noError)
        #expect(reply.isAuthoritative)
        #expect(
            reply.answer.map(\.description) == [
                "toother.example.test. 3600 CNAME www.other.test.", "www.other.test. 600 A 198.51.100.80",
            ])
    }

    @Test("a chain that loops through two zones stops at the repeat; a chain leaving our zones stops there")
    func chainStops() throws {
        let harness = try Harness()
        let loop = try harness.ask(query("across.example.test."))
        #expect(
            loop.answer.map(\.description) == [
                "across.example.test. 3600 CNAME hop.other.test.",
                "hop.other.test. 600 CNAME back.example.test.",
                "back.example.test. 3600 CNAME across.example.test.",
            ])
        let outside = try harness.ask(query("outside.example.test."))
        #expect(
            outside.answer.map(\.description) == ["outside.example.test. 3600 CNAME www.elsewhere.example."])
        #expect(outside.rcode == .noError)
    }
}

@Suite("Room for the closing: OPT options and TSIG never overflow the message")
struct ClosingRoomTests {
    @Test("an identity too long for the client's 512 octets answers without NSID instead of trapping")
    func longIdentityDropsNSID() throws {
        let files = TemporaryZones()
        let zone = try files.load("example.test.", firstZone).get().zone
        let responder = Responder(identity: ServerIdentity(identity: String(repeating: "s", count: 300)))
        let scratch = ResponderScratch()
        // A question of 252 octets, EDNS payload 512, NSID and a cookie asked for.
        let longName =
            (0..<3).map { _ in String(repeating: "a", count: 60) }.joined(separator: ".") + "."
            + String(repeating: "b", count: 50) + ".example.test."
        let query = QueryBuilder(longName, .a).withEDNS(
            payload: 512, options: [0, 3, 0, 0, 0, 10, 0, 8] + clientCookie)
        let bytes = try #require(
            query.bytes.withUnsafeBytes { packet in
                responder.respond(
                    to: packet,
                    context: QueryContext(transport: .udp, client: IPAddress("192.0.2.1")!, now: 1),
                    zones: ZoneSet([zone]), scratch: scratch
                ).map { Array($0.bytes) }
            })
        #expect(bytes.count <= 512)
        let reply = try #require(ParsedMessage(bytes))
        #expect(reply.rcode == .nxDomain)
        #expect(options(reply)[EDNSOptionCode.nsid] == nil)
        #expect(options(reply)[EDNSOptionCode.cookie]?.count == 24)
        // With room, NSID is given.
        let short = QueryBuilder("www.example.test.", .a).withEDNS(payload: 1232, options: [0, 3, 0, 0])
        let answered = try #require(
            short.bytes.withUnsafeBytes { packet in
                responder.respond(to: packet, transport: .udp, zones: ZoneSet([zone]), scratch: scratch).map {
                    ParsedMessage(Array($0.bytes))
                }
            })
        #expect(options(try #require(answered))[EDNSOptionCode.nsid]?.count == 300)
    }
}

@Suite("Asking for a server cookie alone (RFC 7873 §5.4)")
struct CookieRequestTests {
    /// A QUERY without a question whose only record is an OPT with `cookie`.
    static func request(_ cookie: [UInt8]) -> [UInt8] {
        [0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]  // ID, flags, QDCOUNT 0, ARCOUNT 1
            + [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, UInt8(4 + cookie.count), 0, 10, 0, UInt8(cookie.count)]
            + cookie
    }

    fileprivate func respond(_ harness: Harness, _ packet: [UInt8]) throws -> (Response, ParsedMessage) {
        let answered = try #require(
            packet.withUnsafeBytes { bytes in
                harness.responder.respond(
                    to: bytes,
                    context: QueryContext(
                        transport: .udp, client: IPAddress("192.0.2.1")!, now: 1_700_000_000),
                    zones: harness.zones, scratch: harness.scratch
                ).map { ($0, ParsedMessage(Array($0.bytes))) }
            })
        return (answered.0, try #require(answered.1))
    }

    @Test(
        "a client cookie alone gets NOERROR, no question and a fresh server cookie; an invalid one BADCOOKIE")
    func cookieWithoutQuestion() throws {
        let harness = try Harness()
        let (first, reply) = try respond(harness, Self.request(clientCookie))
        #expect(first.rcode == .noError)
        #expect(reply.header.questionCount == 0 && reply.answer.isEmpty)
        let cookie = try #require(options(reply)[EDNSOptionCode.cookie])
        #expect(cookie.count == 24 && Array(cookie.prefix(8)) == clientCookie)
        let (again, _) = try respond(harness, Self.request(cookie))
        #expect(again.rcode == .noError && again.cookie == .valid)
        var forged = cookie
        forged[23] ^= 1
        let (refused, refusedReply) = try respond(harness, Self.request(forged))
        #expect(refused.rcode == .badCookie && refusedReply.rcode == .badCookie)
        #expect(options(refusedReply)[EDNSOptionCode.cookie]?.count == 24)
    }
}
