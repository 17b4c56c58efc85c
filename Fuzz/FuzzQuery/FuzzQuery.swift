import DNSAuth
import DNSGuard
import DNSResponder
import DNSWire
import DNSXfr
import DNSZone
import Foundation
import FuzzSupport
import Members
import ServingTypes

/// The served zone: every kind of data the responder treats apart (README "What it answers, and how";
/// RFC 1034 §4.3.2): CNAME chains and loops, DNAME (RFC 6672), wildcards (RFC 4592), a delegation
/// with glue and one to a zone also served here, additional data for NS/MX/SRV, an RRset too big
/// for 512 octets, and the other types libldns reads, unknown ones in RFC 3597 form.
private let zoneText = """
    $ORIGIN example.test.
    $TTL 3600
    @        7200 IN SOA ns1 hostmaster 2 3600 900 604800 300
    @        NS    ns1
    @        NS    ns2.outside.example.
    @        MX    10 mail
    @        MX    20 mail.outside.example.
    @        TXT   "v=spf1 -all"
    @        CAA   0 issue "ca.example.net"
    ns1      A     192.0.2.53
    ns1      AAAA  2001:db8::53
    mail     A     192.0.2.25
    mail     AAAA  2001:db8::25
    www      A     192.0.2.80
    www      AAAA  2001:db8::80
    www      TXT   "hello" "world"
    alias    CNAME chain
    chain    CNAME www
    loop1    CNAME loop2
    loop2    CNAME loop1
    out      CNAME www.elsewhere.example.
    tosub    CNAME host.sub
    todn     CNAME x.dn
    a.b.c    A     192.0.2.3
    *.wild   A     192.0.2.100
    *.wild   TXT   "wild"
    *.wild   MX    5 mail
    exists.wild A  192.0.2.101
    *.wc     CNAME www
    _dns._udp SRV  0 5 53 ns1
    _sip._tcp SRV  10 60 5060 sip.sub
    80.2.0.192.in-addr PTR www
    sub      NS    ns.sub
    sub      NS    ns.outside.example.
    ns.sub   A     192.0.2.201
    ns.sub   AAAA  2001:db8::201
    sip.sub  A     192.0.2.202
    secure   NS    ns.outside.example.
    secure   DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
    child    NS    ns1.child
    ns1.child A    192.0.2.77
    dn       1800 DNAME target
    www.target A   192.0.2.150
    big      TXT   "\(String(repeating: "x", count: 200))"
    big      TXT   "\(String(repeating: "y", count: 200))"
    big      TXT   "\(String(repeating: "z", count: 200))"
    naptr    NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp
    ssh      SSHFP 4 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
    _443._tcp TLSA 3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
    info     HINFO "PC" "Linux"
    loc      LOC   52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m
    svc      SVCB  1 www alpn=dot
    svc      HTTPS 1 . alpn=h2
    unknown  TYPE65400 \\# 4 0A000001
    """

/// The zone at serial 1: the history of serial 2 holds one IXFR difference from it (RFC 1995).
private let previousText =
    zoneText
    .replacingOccurrences(of: "2 3600 900 604800 300", with: "1 3600 900 604800 300")
    .replacingOccurrences(of: "192.0.2.80", with: "192.0.2.79")

/// A zone below the delegation `child`, served here too.
private let childText = """
    $ORIGIN child.example.test.
    @    IN SOA ns1 hostmaster 1 3600 900 604800 300
    @    NS  ns1
    ns1  A   192.0.2.77
    host A   192.0.2.78
    """

/// The TSIG key of the README's example configuration (RFC 8945).
private let key = TSIGKey(
    name: "transfer-key", algorithm: "hmac-sha256", base64Secret: "K2tf3TRjvQkVCmJF3/Z9vA==")!

/// The server's clock for every query, the time the corpus's signed queries were made with
/// (Fuzz/make_corpus.py), so they pass the TSIG time check (RFC 8945 §5.2.3).
let fuzzNow: UInt64 = 1_750_000_000

/// What every input is answered from: the zones above, `down.test.` configured but unavailable
/// (a secondary not yet transferred: SERVFAIL), and the access policy: transfers and NOTIFY from
/// 192.0.2.0/24 or with the key (README "Zone transfers").
private struct Server: Sendable {
    let zones: ZoneSet
    let responder: Responder
    let scratch = ResponderScratch()

    init() {
        let directory = NSTemporaryDirectory() + "anydns-fuzz-query-\(getpid())"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func load(_ origin: String, _ text: String) -> Zone {
            let path = directory + "/" + origin + "zone"
            try! text.write(toFile: path, atomically: false, encoding: .utf8)
            switch ZoneLoader.load(path: path, origin: DomainName(origin)!) {
            case .success(let loaded): return loaded.zone
            case .failure(let error): fatalError("fuzz zone \(origin) does not load: \(error)")
            }
        }
        let previous = load("example.test.", previousText)
        let current = load("example.test.", zoneText)
        let history = ZoneHistory().appending(ZoneDiff.between(previous, current), limits: .init())
        // Two signed zones (Fuzz/FuzzQuery/zones): NSEC3 with opt-out, and NSEC, so DO=1 queries
        // reach every proof (RFC 4035 §3.1.3, RFC 5155 §7.2).
        let signedZones = ["signed.test.", "nsec.test."].map { origin in
            let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("zones/\(origin)zone").path
            switch ZoneLoader.load(path: path, origin: DomainName(origin)!) {
            case .success(let loaded) where loaded.zone.denialMethod != nil: return loaded.zone
            case .success: fatalError("fuzz zone \(origin) has no NSEC or NSEC3 chain")
            case .failure(let error): fatalError("fuzz zone \(origin) does not load: \(error)")
            }
        }
        zones = ZoneSet(
            [current.with(history: history), load("child.example.test.", childText)] + signedZones,
            unavailable: [DomainName("down.test.")!])
        let byKey = AccessRule(name: "key", prefixes: [], keyName: key.name)
        let byAddress = AccessRule(name: "sites", prefixes: [AddressPrefix("192.0.2.0/24")!], keyName: nil)
        let rules = AccessList([byKey, byAddress])
        let access = AccessPolicy(
            keyring: TSIGKeyring([key]),
            zones: [
                DomainName("example.test.")!: .init(allowTransfer: rules, allowNotify: rules),
                DomainName("child.example.test.")!: .init(allowTransfer: AccessList([byKey])),
            ])
        // Cookies with a fixed secret (and a previous one), BADCOOKIE under load, and rate limiting
        // at 5 responses a second, so the defences' stages run too (README "Rate limiting").
        let defenses = Defenses(
            cookies: ServerCookies(
                secret: CookieSecret(hex: "000102030405060708090a0b0c0d0e0f")!,
                previousSecret: CookieSecret(hex: "0f0e0d0c0b0a09080706050403020100")!),
            requireCookiesUnderLoad: true,
            rateLimiter: RateLimiter(
                settings: RateLimitSettings(
                    responsesPerSecond: 5, slip: 2, exempt: [AddressPrefix("198.51.100.0/24")!],
                    tableSize: 1024)))
        // A least-sessions service with two members, so member names, service answers and
        // UPDATE (README "Anycast services") are reached too.
        let members = MemberTable(services: [
            MemberService(
                name: DomainName("www.example.test.")!, anycast: [IPAddress("10.53.0.80")!],
                keys: [key.name], policy: .leastSessions, probe: .none)
        ])
        members.apply([
            MemberChange(service: 0, member: "a1", operation: .addAddress(IPAddress("192.0.2.10")!)),
            MemberChange(service: 0, member: "a1", operation: .setSessions(3)),
            MemberChange(service: 0, member: "a2", operation: .addAddress(IPAddress("2001:db8::11")!)),
        ])
        responder = Responder(
            identity: ServerIdentity(identity: "fuzz-site", version: "fuzz"), access: access,
            defenses: defenses, members: members)
    }
}

private let server = Server()

/// Fuzzes the query path (docs/ARCHITECTURE.md "The path of a query"): DNSWire's `checkQuery`,
/// then `Responder.respond` over UDP and over TCP, TSIG verification and signing (RFC 8945), and
/// over TCP the AXFR/IXFR messages of a transfer the responder hands to the transport
/// (``TransferProducer``, RFC 5936, RFC 1995). The client address follows the query ID's low bit
/// (192.0.2.53, inside the transfer ACL, or 2001:db8::99, outside) so both sides of the access
/// lists are reached; its second bit says whether the server is under load (BADCOOKIE for UDP
/// queries without a valid server cookie). Rate limiting counts every UDP answer.
///
/// Checks beyond "no crash": every answer and transfer message is a well-formed message
/// (RFC 1035 §4.1) with the query's ID, and a UDP answer fits 512 octets, or the EDNS payload
/// size the query gave (RFC 1035 §4.2.1, RFC 6891 §6.2.5).
func fuzzQuery(_ packet: UnsafeRawBufferPointer) {
    let nameBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    defer { nameBuffer.deallocate() }
    var udpLimit = 512
    if case .query(let query) = checkQuery(packet, nameBuffer: nameBuffer), let edns = query.edns {
        udpLimit = max(512, Int(edns.udpPayloadSize))
    }
    let id = packet.count >= 2 ? UInt16(packet[0]) << 8 | UInt16(packet[1]) : 0
    let client = id & 1 == 0 ? IPAddress.v4(0xC000_0235) : IPAddress("2001:db8::99")!
    for transport in [Transport.udp, .tcp] {
        let context = QueryContext(transport: transport, client: client, now: fuzzNow, underLoad: id & 2 != 0)
        guard
            let response = server.responder.respond(
                to: packet, context: context, zones: server.zones, scratch: server.scratch)
        else { continue }
        if case .transfer(let request)? = response.followUp {
            // The transfer has no bytes of its own: the transport streams the producer's messages.
            let producer = TransferProducer(request)
            while let message = producer.nextMessage() {
                checkMessage(message, id: id)
                precondition(producer.messageCount < 1000, "a transfer of a small zone that never ends")
            }
            continue
        }
        if response.rateLimit == .dropped {
            precondition(
                transport == .udp && response.bytes.isEmpty, "a dropped answer with bytes, or over TCP")
            continue
        }
        checkMessage(response.bytes, id: id)
        if transport == .udp {
            precondition(response.bytes.count <= udpLimit, "UDP answer of \(response.bytes.count) octets")
        }
    }
}

/// Traps unless `bytes` is a whole DNS message with ID `id`.
private func checkMessage(_ bytes: UnsafeRawBufferPointer, id: UInt16) {
    do {
        let message = try ReceivedMessage(bytes)
        precondition(message.header.id == id, "answer ID \(message.header.id), query ID \(id)")
    } catch {
        preconditionFailure("malformed answer (\(error)): \(Array(bytes))")
    }
}

/// With `-D FUZZING` the libFuzzer driver (`make fuzz`); otherwise the replay of corpus and
/// regression files: `FuzzQuery FILE|DIR...`.
@main
enum FuzzQueryMain {
    static func main() {
        #if FUZZING
            runFuzzer(fuzzTestOneInput)
        #else
            exit(replay(Array(CommandLine.arguments.dropFirst()), fuzzQuery))
        #endif
    }
}

#if FUZZING
    /// libFuzzer's entry point (https://llvm.org/docs/LibFuzzer.html).
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        fuzzQuery(fuzzInput(data, size))
        return 0
    }
#endif
