import DNSAuth
import DNSResponder
import DNSWire
import DNSZone
import ServingTypes
import TestSupport
import Testing

private let zoneText = """
    $ORIGIN example.test.
    $TTL 3600
    @   IN SOA ns1 hostmaster 7 3600 900 604800 300
    @   NS  ns1
    ns1 A   192.0.2.53
    www A   192.0.2.80
    """

/// The responder's stages for zone transfers and NOTIFY, in process: access lists by client
/// address, the UDP answers, SERVFAIL for a zone that is configured but unavailable.
private struct TransferHarness {
    let files = TemporaryZones()
    let zones: ZoneSet
    let responder: Responder
    let scratch = ResponderScratch()

    init(allowFrom prefix: String = "192.0.2.0/24", unavailable: [DomainName] = []) throws {
        let loaded = try files.load("example.test.", zoneText).get()
        zones = ZoneSet([loaded.zone], unavailable: unavailable)
        let rule = AccessRule(name: "sites", prefixes: [AddressPrefix(prefix)!], keyName: nil)
        let access = AccessPolicy(
            zones: [
                DomainName("example.test.")!: .init(
                    allowTransfer: AccessList([rule]), allowNotify: AccessList([rule]))
            ])
        responder = Responder(identity: ServerIdentity(identity: "site-a", version: nil), access: access)
    }

    func ask(_ query: QueryBuilder, from client: String, over transport: Transport = .udp) -> (
        ParsedMessage?, FollowUp?
    ) {
        query.bytes.withUnsafeBytes { packet in
            let context = QueryContext(transport: transport, client: IPAddress(client)!, now: 1000)
            guard
                let response = responder.respond(to: packet, context: context, zones: zones, scratch: scratch)
            else { return (nil, nil) }
            return (ParsedMessage(Array(response.bytes)), response.followUp)
        }
    }
}

@Suite("Transfer and NOTIFY stages of the responder (RFC 5936, RFC 1995, RFC 1996)")
struct TransferStageTests {
    @Test("AXFR over TCP from an allowed client becomes a transfer for the transport to stream")
    func allowedAXFRIsHandedToTheTransport() throws {
        let harness = try TransferHarness()
        let (reply, followUp) = harness.ask(
            QueryBuilder("example.test.", .axfr), from: "192.0.2.10", over: .tcp)
        #expect(reply == nil, "a transfer has no bytes of its own")
        guard case .transfer(let request)? = followUp else {
            Issue.record("no transfer follow-up: \(String(describing: followUp))")
            return
        }
        #expect(request.zone.serial == 7 && request.clientSerial == nil)
    }

    @Test("AXFR from a client outside the access list is REFUSED and reported for the log")
    func deniedAXFRIsRefused() throws {
        let harness = try TransferHarness()
        let (reply, followUp) = harness.ask(
            QueryBuilder("example.test.", .axfr), from: "198.51.100.1", over: .tcp)
        #expect(reply?.rcode == .refused)
        guard case .event(.refused(let origin, let client, let request))? = followUp else {
            Issue.record("no refusal follow-up")
            return
        }
        #expect(
            origin == DomainName("example.test.")! && client == IPAddress("198.51.100.1")!
                && request == "AXFR")
    }

    @Test("AXFR over UDP is NOTIMP (RFC 5936 §4.2); IXFR over UDP is the SOA alone (RFC 1995 §2)")
    func udpTransfers() throws {
        let harness = try TransferHarness()
        #expect(harness.ask(QueryBuilder("example.test.", .axfr), from: "192.0.2.10").0?.rcode == .notImp)
        let (ixfr, _) = harness.ask(QueryBuilder("example.test.", .ixfr), from: "192.0.2.10")
        #expect(ixfr?.rcode == .noError && ixfr?.isAuthoritative == true)
        #expect(ixfr?.answer.map(\.type) == [.soa])
    }

    @Test("AXFR for a name that is not a zone apex here is NOTAUTH")
    func transferBelowTheApexIsNotAuth() throws {
        let harness = try TransferHarness()
        let (reply, _) = harness.ask(QueryBuilder("www.example.test.", .axfr), from: "192.0.2.10", over: .tcp)
        #expect(reply?.rcode == .notAuth)
    }

    @Test("NOTIFY from an allowed sender is NOERROR with AA and passes the serial on (RFC 1996 §4.7)")
    func allowedNotifyIsAcknowledged() throws {
        let harness = try TransferHarness()
        var notify = QueryBuilder("example.test.", .soa)
        notify.flags = UInt16(Opcode.notify.rawValue) << 11
        let (reply, followUp) = harness.ask(notify, from: "192.0.2.53")
        #expect(reply?.rcode == .noError && reply?.isAuthoritative == true)
        #expect(reply?.header.opcode == .notify)
        guard case .zone(.notify(let origin, _, let from))? = followUp else {
            Issue.record("no notify follow-up")
            return
        }
        #expect(origin == DomainName("example.test.")! && from == IPAddress("192.0.2.53")!)
        let (denied, _) = harness.ask(notify, from: "203.0.113.1")
        #expect(denied?.rcode == .refused)
    }

    @Test("a configured zone that is not servable (not yet transferred, or expired) answers SERVFAIL")
    func unavailableZoneIsServFail() throws {
        let harness = try TransferHarness(unavailable: [DomainName("example.net.")!])
        #expect(harness.ask(QueryBuilder("www.example.net.", .a), from: "192.0.2.10").0?.rcode == .servFail)
        #expect(harness.ask(QueryBuilder("www.example.test.", .a), from: "192.0.2.10").0?.rcode == .noError)
        #expect(harness.ask(QueryBuilder("www.example.org.", .a), from: "192.0.2.10").0?.rcode == .refused)
    }
}
