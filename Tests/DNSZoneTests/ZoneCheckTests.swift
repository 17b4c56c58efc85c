import DNSWire
import DNSZone
import TestSupport
import Testing

/// A DS RDATA in presentation form (key tag, algorithm 13, SHA-256 digest).
let dsData = "12345 13 2 E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766"

/// One zone the checker must refuse: the lines after `zoneHeader` (which start at line 5), the
/// line the single error must point at, and words its message must contain.
struct RefusedZone: Sendable, CustomTestStringConvertible {
    var name: String
    var lines: [String]
    var line: Int
    var message: String
    /// Another fragment the message must contain, such as where the first of two records is.
    var mentions: String? = nil

    var testDescription: String { name }
}

@Suite("ZoneBuilder: zones an authoritative server must refuse, each error at file:line")
struct ZoneCheckTests {
    @Test(
        "each semantic error refuses the zone with one error at the offending record's line",
        arguments: [
            RefusedZone(
                name: "second SOA", lines: ["@ IN SOA ns2 hostmaster 2 7200 3600 1209600 300"], line: 5,
                message: "second SOA record for example.com.", mentions: ".zone:2)"),
            RefusedZone(
                name: "SOA not at the apex", lines: ["sub IN SOA ns1 hostmaster 1 7200 3600 1209600 300"],
                line: 5,
                message: "SOA record at sub.example.com., not at the zone apex"),
            RefusedZone(
                name: "CNAME then other data (RFC 1034 §3.6.2)",
                lines: ["www IN CNAME ns1", "www IN A 192.0.2.2"],
                line: 6, message: "CNAME and other data at www.example.com.", mentions: "(CNAME at "),
            RefusedZone(
                name: "other data then CNAME", lines: ["www IN A 192.0.2.2", "www IN CNAME ns1"],
                line: 6, message: "CNAME and other data at www.example.com.", mentions: "(A at "),
            RefusedZone(
                name: "two CNAMEs (RFC 2181 §10.1)", lines: ["www IN CNAME ns1", "www IN CNAME ns2"], line: 6,
                message: "more than one CNAME record at www.example.com."),
            RefusedZone(
                name: "owner outside the zone", lines: ["www.example.org. IN A 192.0.2.2"], line: 5,
                message: "www.example.org. is outside the zone example.com."),
            RefusedZone(
                name: "owner that only shares trailing bytes with the origin",
                lines: ["www.xexample.com. IN A 192.0.2.2"],
                line: 5, message: "is outside the zone"),
            RefusedZone(
                name: "data below a DNAME (RFC 6672 §2.4)",
                lines: ["dn IN DNAME example.net.", "x.dn IN A 192.0.2.2"], line: 6,
                message: "A record at x.dn.example.com. is below the DNAME at dn.example.com."),
            RefusedZone(
                name: "two DNAMEs", lines: ["dn IN DNAME example.net.", "dn IN DNAME example.org."], line: 6,
                message: "more than one DNAME record at dn.example.com."),
            RefusedZone(
                name: "class other than IN", lines: ["txt CH TXT \"t\""], line: 5,
                message: "class CH is not supported, only IN"),
            RefusedZone(
                name: "syntax error", lines: ["www IN A 192.0.2.256"], line: 5, message: "cannot parse record"
            ),
            RefusedZone(
                name: "unbalanced parenthesis", lines: ["www IN TXT ( \"t\""], line: 5,
                message: "unbalanced '('"),
            RefusedZone(
                name: "unknown directive", lines: ["$GENERATE 1-3 host$ A 192.0.2.$"], line: 5,
                message: "unknown directive $GENERATE"),
            RefusedZone(
                name: "bad $TTL", lines: ["$TTL forever"], line: 5, message: "$TTL needs one TTL value"),
        ])
    func semanticErrorIsReportedAtItsLine(zone: RefusedZone) throws {
        let zones = TemporaryZones()
        let error = try #require(zones.load("example.com.", zoneText(zone.lines)).failure)
        let path = zones.directory + "/example.com.zone"
        #expect(error.errors.count == 1, "\(error)")
        let found = try #require(error.errors.first)
        #expect(found.location == SourceLocation(file: path, line: zone.line))
        #expect(found.message.contains(zone.message), "\(found.message)")
        if let mentions = zone.mentions {
            #expect(found.message.contains(mentions), "\(found.message)")
        }
        #expect(found.description.hasPrefix("\(path):\(zone.line): error: "))
    }

    @Test(
        "what NSD and Knot DNS load anyway loads with a warning at its line: occluded data, DS off a cut",
        arguments: [
            RefusedZone(
                name: "data below a delegation (RFC 1034 §4.2.1)",
                lines: ["sub IN NS ns.example.net.", "www.sub IN TXT \"t\""], line: 6,
                message: "TXT record at www.sub.example.com. is below delegation sub.example.com."),
            RefusedZone(
                name: "non-glue data at a delegation point",
                lines: ["sub IN NS ns.example.net.", "sub IN MX 10 mail.example.net."], line: 6,
                message: "MX record at sub.example.com. is non-glue data at delegation point sub.example.com."
            ),
            RefusedZone(
                name: "address record below a cut that no NS names is occluded, not glue",
                lines: ["sub IN NS ns.sub", "ns.sub IN A 192.0.2.53", "www.sub IN A 192.0.2.54"], line: 7,
                message: "A record at www.sub.example.com. is below delegation sub.example.com."),
            RefusedZone(
                name: "address record at a cut that no NS names is non-glue",
                lines: ["sub IN NS ns.example.net.", "sub IN AAAA 2001:db8::1"], line: 6,
                message:
                    "AAAA record at sub.example.com. is non-glue data at delegation point sub.example.com."),
            RefusedZone(
                name: "DS away from a delegation point (RFC 4035 §2.4)", lines: ["www IN DS \(dsData)"],
                line: 5,
                message: "DS record at www.example.com., which is not a delegation point"),
            RefusedZone(
                name: "DS at the apex", lines: ["@ IN DS \(dsData)"], line: 5,
                message: "DS record at example.com., which is not a delegation point"),
            RefusedZone(
                name: "an NS record below another delegation (RFC 1034 §4.2.1)",
                lines: ["sub IN NS ns.example.net.", "deep.sub IN NS ns.example.net."], line: 6,
                message: "NS record at deep.sub.example.com. is below delegation sub.example.com."),
        ])
    func occludedDataIsAWarning(zone: RefusedZone) throws {
        let zones = TemporaryZones()
        let loaded = try #require(zones.load("example.com.", zoneText(zone.lines)).success)
        let path = zones.directory + "/example.com.zone"
        let found = try #require(
            loaded.warnings.first { $0.message.contains(zone.message) }, "\(loaded.warnings)")
        #expect(found.location == SourceLocation(file: path, line: zone.line))
        #expect(found.description.hasPrefix("\(path):\(zone.line): warning: "))
    }

    @Test("a zone without an apex SOA is refused with an error about the whole file")
    func missingSOAIsAnError() throws {
        let zones = TemporaryZones()
        let error = try #require(
            zones.load("example.com.", "@ 3600 IN NS ns1\nns1 3600 IN A 192.0.2.1\n").failure)
        let path = zones.directory + "/example.com.zone"
        #expect(
            error.errors.map(Finding.init) == [
                Finding(
                    ZoneDiagnostic(
                        .error, SourceLocation(file: path, line: nil),
                        "no SOA record at the zone apex example.com."))
            ])
        #expect(error.description == "\(path): error: no SOA record at the zone apex example.com.")
    }

    @Test("a zone without apex NS records is refused with an error about the whole file")
    func missingApexNSIsAnError() throws {
        let zones = TemporaryZones()
        let text = "@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300\nns1 3600 IN A 192.0.2.1\n"
        let error = try #require(zones.load("example.com.", text).failure)
        let path = zones.directory + "/example.com.zone"
        #expect(
            error.errors.map(Finding.init) == [
                Finding(
                    ZoneDiagnostic(
                        .error, SourceLocation(file: path, line: nil),
                        "no NS records at the zone apex example.com."))
            ])
    }

    @Test("every error in a zone is reported, in file order, not just the first")
    func allErrorsAreReported() throws {
        let zones = TemporaryZones()
        let text = zoneText([
            "www IN A not-an-address",  // 5
            "x.example.org. IN A 192.0.2.1",  // 6
            "alias IN CNAME www",  // 7
            "alias IN TXT \"t\"",  // 8
        ])
        let error = try #require(zones.load("example.com.", text).failure)
        #expect(error.errors.map(\.location.line) == [5, 6, 8])
    }

    @Test("an in-zone name server without an address is a missing-glue warning; the zone still loads")
    func missingGlueIsAWarning() throws {
        let zones = TemporaryZones()
        let loaded = try #require(zones.load("example.com.", zoneText(["sub IN NS ns.sub"])).success)
        let path = zones.directory + "/example.com.zone"
        #expect(
            loaded.warnings.map(Finding.init) == [
                Finding(
                    ZoneDiagnostic(
                        .warning, SourceLocation(file: path, line: 5),
                        "missing glue: name server ns.sub.example.com. of sub.example.com. has no A or AAAA record"
                    ))
            ])
        #expect(loaded.warnings.first?.severity == .warning)
        #expect(loaded.zone.outcome("www.sub.example.com.", .a) == "delegation sub.example.com.")
    }

    @Test("name servers outside the zone, or with glue, raise no warning")
    func outOfZoneOrGluedNameServersAreFine() throws {
        let zones = TemporaryZones()
        let text = zoneText(["sub IN NS ns.example.net.", "sub IN NS ns.sub", "ns.sub IN AAAA 2001:db8::53"])
        let loaded = try #require(zones.load("example.com.", text).success)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
    }

    @Test("TTLs that differ inside an RRset are a warning (RFC 2181 §5.2); the zone still loads")
    func ttlMismatchIsAWarning() throws {
        let zones = TemporaryZones()
        let loaded = try #require(
            zones.load("example.com.", zoneText(["www 300 IN A 192.0.2.1", "www 600 IN A 192.0.2.2"])).success
        )
        let path = zones.directory + "/example.com.zone"
        #expect(loaded.warnings.map(Finding.init).map(\.line) == [6])
        #expect(
            loaded.warnings.first?.message
                == "TTL 600 differs from 300 at \(path):5 in the A RRset of www.example.com.")
        #expect(loaded.zone.records("www.example.com.", .a).count == 2)
    }

    @Test("identical records are merged into one (RFC 2181 §5), whatever the owner's case")
    func duplicateRecordsAreMerged() throws {
        let zones = TemporaryZones()
        let text = zoneText([
            "www 300 IN A 192.0.2.1", "www 600 IN A 192.0.2.1", "WWW IN A 192.0.2.1",
            "www 300 IN A 192.0.2.2",
        ])
        let loaded = try #require(zones.load("example.com.", text).success)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(
            loaded.zone.records("www.example.com.", .a)
                == [
                    StoredRecord(ttl: 300, rdata: [192, 0, 2, 1]),
                    StoredRecord(ttl: 300, rdata: [192, 0, 2, 2]),
                ])
        #expect(loaded.zone.recordCount == 5)  // SOA, NS, ns1 A, two www A
    }

    @Test("address records of name servers at or below a cut are glue; the cut's NS and DS are accepted")
    func glueAndDSAtTheCutAreAccepted() throws {
        let zones = TemporaryZones()
        let text = zoneText([
            "sub IN NS ns.sub", "sub IN NS sub", "sub IN DS \(dsData)", "ns.sub IN A 192.0.2.53",
            "ns.sub IN AAAA 2001:db8::53", "sub IN A 192.0.2.54",  // sub names itself as a server
        ])
        let loaded = try #require(zones.load("example.com.", text).success)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(loaded.zone.outcome("sub.example.com.", .ds) == "answer sub.example.com. DS")
    }

    @Test("ZoneBuilder checks records made in memory, without a file")
    func builderWorksOnRecordsInMemory() throws {
        let origin = DomainName("example.org.")!
        func record(_ owner: String, _ type: RecordType, _ rdata: [UInt8], line: Int) -> ZoneRecord {
            ZoneRecord(
                owner: DomainName(owner)!, type: type, ttl: 600, rdata: rdata,
                location: SourceLocation(file: "memory", line: line))
        }
        let soa =
            DomainName("ns.example.org.")!.wire + DomainName("h.example.org.")!.wire
            + [UInt8](repeating: 0, count: 16) + [0, 0, 0, 60]
        let records = [
            record("example.org.", .soa, soa, line: 1),
            record("example.org.", .ns, DomainName("ns.example.org.")!.wire, line: 2),
            record("ns.example.org.", .a, [192, 0, 2, 1], line: 3),
            record("example.org.", .opt, [], line: 4),
        ]
        let error = try #require(
            ZoneBuilder.build(origin: origin, source: "memory", records: records).failure)
        #expect(
            error.errors.map(Finding.init) == [
                Finding(
                    ZoneDiagnostic(
                        .error, SourceLocation(file: "memory", line: 4), "type OPT cannot appear in a zone"))
            ])
        let zone = try #require(
            ZoneBuilder.build(origin: origin, source: "memory", records: Array(records.prefix(3))).success
        ).zone
        #expect(zone.negativeTTL == 60)
        #expect(zone.source == "memory")
    }
}
