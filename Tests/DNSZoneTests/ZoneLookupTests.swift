import DNSWire
import DNSZone
import TestSupport
import Testing

/// The zone every lookup case runs against.
let lookupZoneText = """
    $ORIGIN example.com.
    $TTL 3600
    @             IN SOA   ns1 hostmaster 2024010101 7200 3600 1209600 300
    @             IN NS    ns1
    @             IN MX    10 mail
    ns1           IN A     192.0.2.1
    mail          IN A     192.0.2.2
    www           IN A     192.0.2.10
    www           IN A     192.0.2.11
    alias         IN CNAME www
    a.b.c         IN TXT   "deep"
    *.wild        IN TXT   "wildcard"
    host.wild     IN A     192.0.2.30
    deep.ent.wild IN A     192.0.2.31
    *.cn          IN CNAME www
    sub           IN NS    ns.sub
    sub           IN DS    \(dsData)
    ns.sub        IN A     192.0.2.53
    nods          IN NS    ns.example.net.
    dn            IN DNAME example.net.

    """

/// A query and what the zone must say about it, rendered by `Zone.describe`.
struct LookupCase: Sendable, CustomTestStringConvertible {
    var name: String
    var type: RecordType
    var expected: String
    init(_ name: String, _ type: RecordType, _ expected: String) {
        self.name = name
        self.type = type
        self.expected = expected
    }
    var testDescription: String { "\(name) \(type) → \(expected)" }
}

@Suite("Zone.lookup: the RFC 1034 §4.3.2 outcomes, wildcards (RFC 4592), ENTs (RFC 8020), DNAME (RFC 6672)")
struct ZoneLookupTests {
    let zone: Zone

    init() throws {
        let zones = TemporaryZones()
        let loaded = try #require(zones.load("example.com.", lookupZoneText).success)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        zone = loaded.zone
    }

    @Test(
        "exact names: answer, NODATA, CNAME and ANY",
        arguments: [
            LookupCase("www.example.com.", .a, "answer www.example.com. A"),
            LookupCase("WWW.Example.COM.", .a, "answer www.example.com. A"),
            LookupCase("example.com.", .soa, "answer example.com. SOA"),
            LookupCase("example.com.", .ns, "answer example.com. NS"),
            LookupCase("example.com.", .mx, "answer example.com. MX"),
            LookupCase("example.com.", .aaaa, "noData example.com."),
            LookupCase("example.com.", .any, "any example.com."),
            LookupCase("www.example.com.", .aaaa, "noData www.example.com."),
            LookupCase("www.example.com.", RecordType(rawValue: 65400), "noData www.example.com."),
            LookupCase("alias.example.com.", .a, "cname alias.example.com. CNAME"),
            LookupCase("alias.example.com.", .mx, "cname alias.example.com. CNAME"),
            LookupCase("alias.example.com.", .cname, "answer alias.example.com. CNAME"),
            LookupCase("alias.example.com.", .any, "any alias.example.com."),
        ])
    func exactNames(lookup: LookupCase) {
        #expect(zone.outcome(lookup.name, lookup.type) == lookup.expected)
    }

    @Test(
        "an empty non-terminal exists: NODATA, never NXDOMAIN (RFC 8020)",
        arguments: [
            LookupCase("b.c.example.com.", .txt, "noData b.c.example.com."),
            LookupCase("c.example.com.", .a, "noData c.example.com."),
            LookupCase("c.example.com.", .any, "noData c.example.com."),
            LookupCase("ent.wild.example.com.", .txt, "noData ent.wild.example.com."),
            LookupCase("wild.example.com.", .txt, "noData wild.example.com."),
        ])
    func emptyNonTerminalIsNoData_RFC8020(lookup: LookupCase) {
        #expect(zone.outcome(lookup.name, lookup.type) == lookup.expected)
    }

    @Test(
        "names that do not exist and match no wildcard are NXDOMAIN",
        arguments: [
            LookupCase("nothere.example.com.", .a, "nxDomain"),
            LookupCase("x.c.example.com.", .a, "nxDomain"),
            LookupCase("a.b.c.d.example.com.", .txt, "nxDomain"),
            LookupCase("x.a.b.c.example.com.", .txt, "nxDomain"),
        ])
    func nonexistentNameIsNXDomain(lookup: LookupCase) {
        #expect(zone.outcome(lookup.name, lookup.type) == lookup.expected)
    }

    @Test(
        "a wildcard answers for names that do not exist below its parent, one or many labels deep (RFC 4592 §3.3.1)",
        arguments: [
            LookupCase("a.wild.example.com.", .txt, "answer *.wild.example.com. TXT wildcard"),
            LookupCase("x.y.z.wild.example.com.", .txt, "answer *.wild.example.com. TXT wildcard"),
            LookupCase("a.wild.example.com.", .a, "noData *.wild.example.com. wildcard"),
            LookupCase("a.wild.example.com.", .any, "any *.wild.example.com. wildcard"),
            LookupCase("foo.cn.example.com.", .a, "cname *.cn.example.com. CNAME wildcard"),
            LookupCase("foo.bar.cn.example.com.", .cname, "answer *.cn.example.com. CNAME wildcard"),
            // The wildcard's own name is an ordinary exact match.
            LookupCase("*.wild.example.com.", .txt, "answer *.wild.example.com. TXT"),
        ])
    func wildcardMatches_RFC4592(lookup: LookupCase) {
        #expect(zone.outcome(lookup.name, lookup.type) == lookup.expected)
    }

    @Test(
        "a wildcard does not match below an existing name or an empty non-terminal (RFC 4592 §2.2.1)",
        arguments: [
            LookupCase("host.wild.example.com.", .txt, "noData host.wild.example.com."),
            LookupCase("x.host.wild.example.com.", .txt, "nxDomain"),
            LookupCase("x.ent.wild.example.com.", .txt, "nxDomain"),
            LookupCase("x.y.ent.wild.example.com.", .a, "nxDomain"),
        ])
    func wildcardIsBlockedByExistingNames_RFC4592(lookup: LookupCase) {
        #expect(zone.outcome(lookup.name, lookup.type) == lookup.expected)
    }

    @Test(
        "at and below a zone cut the answer is a referral, glue included; DS at the cut is the parent's (RFC 4035 §3.1.4.1)",
        arguments: [
            LookupCase("sub.example.com.", .ns, "delegation sub.example.com."),
            LookupCase("sub.example.com.", .a, "delegation sub.example.com."),
            LookupCase("sub.example.com.", .any, "delegation sub.example.com."),
            LookupCase("www.sub.example.com.", .a, "delegation sub.example.com."),
            LookupCase("a.b.c.sub.example.com.", .txt, "delegation sub.example.com."),
            LookupCase("ns.sub.example.com.", .a, "delegation sub.example.com."),
            LookupCase("x.ns.sub.example.com.", .a, "delegation sub.example.com."),
            LookupCase("sub.example.com.", .ds, "answer sub.example.com. DS"),
            // DS below the cut belongs to the child.
            LookupCase("www.sub.example.com.", .ds, "delegation sub.example.com."),
            // DS asked at a cut without DS: the parent proves it absent.
            LookupCase("nods.example.com.", .ds, "noData nods.example.com."),
            LookupCase("nods.example.com.", .ns, "delegation nods.example.com."),
        ])
    func delegations(lookup: LookupCase) {
        #expect(zone.outcome(lookup.name, lookup.type) == lookup.expected)
    }

    @Test(
        "a DNAME redirects names below its owner, not the owner itself (RFC 6672 §2.3, §3.2)",
        arguments: [
            LookupCase("x.dn.example.com.", .a, "dname dn.example.com. DNAME"),
            LookupCase("a.b.dn.example.com.", .aaaa, "dname dn.example.com. DNAME"),
            LookupCase("x.dn.example.com.", .dname, "dname dn.example.com. DNAME"),
            LookupCase("dn.example.com.", .dname, "answer dn.example.com. DNAME"),
            LookupCase("dn.example.com.", .a, "noData dn.example.com."),
        ])
    func dnameAboveTheName_RFC6672(lookup: LookupCase) {
        #expect(zone.outcome(lookup.name, lookup.type) == lookup.expected)
    }

    @Test("a DNAME at the zone apex redirects every name below the apex (RFC 6672 §2.3)")
    func dnameAtTheApexRedirects_RFC6672() throws {
        let zones = TemporaryZones()
        let text = """
            $TTL 3600
            @ IN SOA ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 300
            @ IN NS ns1.example.net.
            @ IN DNAME example.net.

            """
        let zone = try #require(zones.load("example.org.", text).success).zone
        #expect(zone.outcome("example.org.", .dname) == "answer example.org. DNAME")
        #expect(zone.outcome("example.org.", .soa) == "answer example.org. SOA")
        #expect(zone.outcome("www.example.org.", .a) == "dname example.org. DNAME")
    }

    @Test("records come back with their TTLs and RDATA in zone order; NS/MX targets in the zone are linked")
    func recordsAndAdditionalTargets() throws {
        #expect(
            zone.records("www.example.com.", .a)
                == [
                    StoredRecord(ttl: 3600, rdata: [192, 0, 2, 10]),
                    StoredRecord(ttl: 3600, rdata: [192, 0, 2, 11]),
                ])
        let apex = try #require(
            zone.node(named: [0x07] + Array("example".utf8) + [3] + Array("com".utf8) + [0]))
        #expect(apex == zone.apex)
        // The SOA then NS come first at the apex (the order ANY and transfers expect).
        #expect(zone.rrsets(at: apex).map { zone.type(of: $0) } == [.soa, .ns, .mx])
        var targets: [String] = []
        let mx = try #require(zone.rrset(apex, .mx))
        zone.forEachRecord(of: mx) { _, _, target in
            targets.append(target.map { "\(zone.name(of: $0))" } ?? "none")
        }
        #expect(targets == ["mail.example.com."])
    }
}

extension Zone {
    func node(named wire: [UInt8]) -> NodeID? { wire.withUnsafeBytes { node(named: $0) } }
}

@Suite("Negative TTL: min(SOA TTL, SOA MINIMUM) (RFC 2308 §3, §5)")
struct NegativeTTLTests {
    @Test(
        "negativeTTL is the smaller of the SOA's own TTL and its MINIMUM field, either way round",
        arguments: [(3600, 300, 300), (60, 300, 60), (300, 300, 300), (0, 900, 0)]
            as [(UInt32, UInt32, UInt32)])
    func negativeTTLIsTheMinimum(soaTTL: UInt32, minimum: UInt32, expected: UInt32) throws {
        let zones = TemporaryZones()
        let text = """
            @ \(soaTTL) IN SOA ns1 hostmaster 42 7200 3600 1209600 \(minimum)
            @ 3600 IN NS ns1
            ns1 3600 IN A 192.0.2.1

            """
        let zone = try #require(zones.load("example.com.", text).success).zone
        #expect(zone.negativeTTL == expected)
        #expect(zone.serial == 42)
    }
}

@Suite("ZoneSet: choosing the zone for a name")
struct ZoneSetTests {
    let parent: Zone
    let child: Zone

    init() throws {
        let zones = TemporaryZones()
        parent = try #require(zones.load("example.com.", zoneText([])).success).zone
        child = try #require(zones.load("sub.example.com.", zoneText([])).success).zone
    }

    func choose(_ set: ZoneSet, _ name: String) -> String {
        Zone.withView(name) { view in
            guard let found = set.zone(for: view) else { return "none" }
            return "\(found.zone.origin) +\(found.apexLabels)"
        }
    }

    @Test(
        "the deepest apex at or above the name wins, and names under no apex have no zone",
        arguments: [
            ("www.sub.example.com.", "sub.example.com. +1"),
            ("a.b.sub.example.com.", "sub.example.com. +2"),
            ("sub.example.com.", "sub.example.com. +0"),
            ("SUB.Example.COM.", "sub.example.com. +0"),
            ("www.example.com.", "example.com. +1"),
            ("xsub.example.com.", "example.com. +1"),
            ("example.com.", "example.com. +0"),
            ("com.", "none"),
            ("xexample.com.", "none"),
            ("example.org.", "none"),
            (".", "none"),
        ] as [(String, String)])
    func deepestApexWins(name: String, expected: String) {
        #expect(choose(ZoneSet([parent, child]), name) == expected)
        #expect(choose(ZoneSet([child, parent]), name) == expected, "order of the zones does not matter")
    }

    @Test("an empty set has no zone for any name; zone(named:) is case-insensitive")
    func emptySetAndLookupByName() {
        #expect(choose(ZoneSet.empty, "example.com.") == "none")
        #expect(choose(ZoneSet.empty, ".") == "none")
        let set = ZoneSet([parent, child])
        #expect(set.zone(named: DomainName("SUB.example.COM.")!) === child)
        #expect(set.zone(named: DomainName("example.net.")!) == nil)
    }

    @Test(
        "labelsBelowApex counts whole labels and refuses names outside the zone",
        arguments: [
            ("example.com.", 0), ("www.example.com.", 1), ("a.b.example.com.", 2),
            ("xexample.com.", nil), ("com.", nil), ("www.example.org.", nil),
        ] as [(String, Int?)])
    func labelsBelowApex(name: String, expected: Int?) {
        let below = Zone.withView(name) { parent.labelsBelowApex($0) }
        #expect(below == expected)
    }
}

@Suite("Zone building at scale: owners in any order, many empty non-terminals")
struct ZoneBuildingScaleTests {
    /// 2,000 owners three labels below `d`, listed deepest-first and with one owner's records
    /// split apart, so the builder meets children before parents, makes about 4,000 empty
    /// non-terminals (more than the node table was sized for) and merges a scattered owner.
    static let ownerCount = 2000

    static func text() -> String {
        var lines: [String] = []
        for number in (0..<ownerCount).reversed() {
            lines.append("a\(number).b\(number).c\(number % 100).d IN A 10.0.\(number / 256).\(number % 256)")
        }
        lines.append("c7.d IN TXT \"parent after its children\"")
        lines.append("a5.b5.c5.d IN AAAA 2001:db8::5")  // the same owner as a line far above
        lines.append("a5.b5.c5.d IN A 10.0.0.5")  // identical to that line: merged (RFC 2181 §5)
        return zoneText(lines)
    }

    @Test("every owner answers, every ancestor is an empty non-terminal, and nothing else exists")
    func everyNameAndAncestor() throws {
        let zones = TemporaryZones()
        let loaded = try #require(zones.load("example.com.", Self.text()).success)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        let zone = loaded.zone
        // The header's SOA, NS and A, the owners' A records, one TXT and one AAAA.
        #expect(zone.recordCount == 3 + Self.ownerCount + 2)
        for number in stride(from: 0, to: Self.ownerCount, by: 97) {
            let owner = "a\(number).b\(number).c\(number % 100).d.example.com."
            let address: [UInt8] = [10, 0, UInt8(number / 256), UInt8(number % 256)]
            #expect(zone.records(owner, .a) == [StoredRecord(ttl: 3600, rdata: address)], "\(owner)")
            #expect(
                zone.outcome("b\(number).c\(number % 100).d.example.com.", .a)
                    == "noData b\(number).c\(number % 100).d.example.com.")
        }
        #expect(zone.outcome("c42.d.example.com.", .a) == "noData c42.d.example.com.")
        #expect(zone.outcome("d.example.com.", .a) == "noData d.example.com.")
        #expect(zone.outcome("c7.d.example.com.", .txt) == "answer c7.d.example.com. TXT")
        #expect(zone.outcome("c100.d.example.com.", .a) == "nxDomain")
        #expect(zone.outcome("b1.c2.d.example.com.", .a) == "nxDomain")
        #expect(zone.records("a5.b5.c5.d.example.com.", .a).count == 1)
        #expect(zone.outcome("a5.b5.c5.d.example.com.", .aaaa) == "answer a5.b5.c5.d.example.com. AAAA")
    }
}
