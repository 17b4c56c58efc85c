import DNSWire
import DNSZone
import TestSupport
import Testing

@Suite("Zone files: directives, multi-line entries, $INCLUDE and RFC 3597 data")
struct ZoneLoadingTests {
    @Test("$ORIGIN changes how relative owners and RDATA names are completed; $TTL sets the default TTL")
    func originAndTTLDirectives() throws {
        let zones = TemporaryZones()
        let text = zoneText([
            "$TTL 300",  // 5
            "$ORIGIN sub.example.com.",  // 6
            "www IN A 192.0.2.5",  // 7
            "mail 60 IN A 192.0.2.6",  // 8: an explicit TTL wins
            "$TTL 1h",  // 9: units are allowed
            "late IN A 192.0.2.7",  // 10
            "$ORIGIN example.com.",  // 11
            "back IN A 192.0.2.8",  // 12
            "rel IN CNAME www.sub",  // 13: relative RDATA name
            "$ORIGIN deeper",  // 14: a relative $ORIGIN is completed by the current one
            "x IN A 192.0.2.9",  // 15
        ])
        let loaded = try #require(zones.load("example.com.", text).success)
        let zone = loaded.zone
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(zone.records("www.sub.example.com.", .a) == [StoredRecord(ttl: 300, rdata: [192, 0, 2, 5])])
        #expect(zone.records("mail.sub.example.com.", .a) == [StoredRecord(ttl: 60, rdata: [192, 0, 2, 6])])
        #expect(
            zone.records("late.sub.example.com.", .a) == [StoredRecord(ttl: 3600, rdata: [192, 0, 2, 7])])
        #expect(zone.records("back.example.com.", .a) == [StoredRecord(ttl: 3600, rdata: [192, 0, 2, 8])])
        #expect(
            zone.records("rel.example.com.", .cname).map(\.rdata) == [
                DomainName("www.sub.example.com.")!.wire
            ])
        #expect(zone.records("x.deeper.example.com.", .a).map(\.rdata) == [[192, 0, 2, 9]])
        // The header's records used the first $TTL.
        #expect(zone.records("ns1.example.com.", .a) == [StoredRecord(ttl: 3600, rdata: [192, 0, 2, 1])])
    }

    @Test("a record without a TTL before any $TTL gets the default of 3600")
    func defaultTTLWithoutDirective() throws {
        let zones = TemporaryZones()
        let text = """
            @ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
            @ IN NS ns1
            ns1 IN A 192.0.2.1

            """
        let zone = try #require(zones.load("example.com.", text).success).zone
        #expect(zone.records("ns1.example.com.", .a).map(\.ttl) == [ZoneFileReader.defaultTTL])
        #expect(ZoneFileReader.defaultTTL == 3600)
    }

    @Test("a blank owner repeats the previous owner (RFC 1035 §5.1)")
    func blankOwnerRepeatsPrevious() throws {
        let zones = TemporaryZones()
        let text = zoneText(["www IN A 192.0.2.10", "    IN AAAA 2001:db8::10", "\tIN TXT \"same\""])
        let zone = try #require(zones.load("example.com.", text).success).zone
        #expect(zone.records("www.example.com.", .aaaa).count == 1)
        #expect(zone.records("www.example.com.", .txt).map(\.rdata) == [[4] + Array("same".utf8)])
    }

    @Test("a multi-line SOA in parentheses parses, comments and all")
    func multiLineSOA() throws {
        let zones = TemporaryZones()
        let text = """
            $TTL 3600
            @ IN SOA ns1.example.com. hostmaster.example.com. (
                    2024010101 ; serial
                    7200       ; refresh
                    3600       ; retry
                    1209600    ; expire
                    300 )      ; minimum
            @ IN NS ns1
            ns1 IN A 192.0.2.1

            """
        let zone = try #require(zones.load("example.com.", text).success).zone
        #expect(zone.serial == 2_024_010_101)
        #expect(zone.negativeTTL == 300)
        let soa = try #require(zone.records("example.com.", .soa).first)
        let counters: [UInt8] = [
            0x78, 0xA3, 0xF1, 0x75, 0, 0, 0x1C, 0x20, 0, 0, 0x0E, 0x10, 0, 0x12, 0x75, 0, 0, 0, 0x01, 0x2C,
        ]
        #expect(
            soa.rdata == DomainName("ns1.example.com.")!.wire + DomainName("hostmaster.example.com.")!.wire
                + counters)
    }

    @Test("a record spread over lines keeps the line it starts on, and later lines keep counting")
    func multiLineRecordKeepsItsStartLine() throws {
        let zones = TemporaryZones()
        let text = zoneText([
            "txt IN TXT ( \"one\"",  // 5
            "             \"two\" )",  // 6
            "txt 60 IN TXT \"three\"",  // 7: TTL differs from the record on line 5
        ])
        let loaded = try #require(zones.load("example.com.", text).success)
        let path = zones.directory + "/example.com.zone"
        #expect(
            loaded.zone.records("txt.example.com.", .txt).first?.rdata
                == [3] + Array("one".utf8) + [3] + Array("two".utf8))
        #expect(loaded.warnings.map(Finding.init).map(\.line) == [7])
        #expect(loaded.warnings.first?.message.contains("differs from 3600 at \(path):5") == true)
    }

    @Test("errors inside and after multi-line records are reported at each record's first line")
    func multiLineErrorsReportTheStartLine() throws {
        let zones = TemporaryZones()
        let text = """
            $TTL 3600
            @ IN SOA ns1 hostmaster (
                1 7200 3600
                1209600 300 )
            @ IN NS ns1
            ns1 IN A 192.0.2.1
            bad IN MX (
                ten mail )
            ; a comment line
            www IN A not-an-address

            """
        let error = try #require(zones.load("example.com.", text).failure)
        let path = zones.directory + "/example.com.zone"
        #expect(error.errors.map(Finding.init).map(\.file) == [path, path])
        #expect(error.errors.map(\.location.line) == [7, 10])
        #expect(error.errors.allSatisfy { $0.message.hasPrefix("cannot parse record") })
    }

    @Test("a zone file with CRLF line endings loads, multi-line records included")
    func crlfLineEndingsAreAccepted() throws {
        let zones = TemporaryZones()
        let lines = [
            "$TTL 3600",
            "@ IN SOA ns1 hostmaster (",
            "    2024010101 7200 3600",
            "    1209600 300 )",
            "@ IN NS ns1",
            "ns1 IN A 192.0.2.1 ; glue",
            "txt IN TXT ( \"one\"",
            "    \"two\" )",
        ]
        let result = zones.load("example.com.", lines.joined(separator: "\r\n") + "\r\n")
        #expect(result.failure == nil, "\(result.failure.map(String.init(describing:)) ?? "")")
        let zone = try #require(result.success).zone
        #expect(zone.serial == 2_024_010_101)
        #expect(zone.negativeTTL == 300)
        #expect(
            zone.records("txt.example.com.", .txt).map(\.rdata) == [
                [3] + Array("one".utf8) + [3] + Array("two".utf8)
            ])
    }

    @Test("semicolons and parentheses inside quotes are text, not syntax")
    func quotedSpecialCharacters() throws {
        let zones = TemporaryZones()
        let text = zoneText(["txt IN TXT \"a;b (c)\" ; a real comment"])
        let zone = try #require(zones.load("example.com.", text).success).zone
        #expect(zone.records("txt.example.com.", .txt).map(\.rdata) == [[7] + Array("a;b (c)".utf8)])
    }

    @Test("$INCLUDE with a relative path reads the file next to the including file")
    func includeRelativePath() throws {
        let zones = TemporaryZones()
        zones.write("hosts.inc", "ns1 IN A 192.0.2.1\nwww IN A 192.0.2.2\n")
        let text = """
            $TTL 3600
            @ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
            @ IN NS ns1
            $INCLUDE hosts.inc
            after IN A 192.0.2.9

            """
        let loaded = try #require(zones.load("example.com.", text).success)
        #expect(loaded.warnings.isEmpty, "the glue for ns1 comes from the included file")
        #expect(loaded.zone.records("www.example.com.", .a).map(\.rdata) == [[192, 0, 2, 2]])
        #expect(loaded.zone.records("after.example.com.", .a).map(\.rdata) == [[192, 0, 2, 9]])
    }

    @Test("$INCLUDE with an origin applies it inside the file only; the including file's origin is restored")
    func includeOriginDoesNotLeak() throws {
        let zones = TemporaryZones()
        zones.write("sub.inc", "www IN A 192.0.2.20\n$ORIGIN other.example.com.\nx IN A 192.0.2.21\n")
        let text = zoneText(["$INCLUDE sub.inc sub", "back IN A 192.0.2.22"])
        let zone = try #require(zones.load("example.com.", text).success).zone
        #expect(zone.records("www.sub.example.com.", .a).map(\.rdata) == [[192, 0, 2, 20]])
        #expect(zone.records("x.other.example.com.", .a).map(\.rdata) == [[192, 0, 2, 21]])
        #expect(zone.records("back.example.com.", .a).map(\.rdata) == [[192, 0, 2, 22]])
        #expect(zone.records("back.other.example.com.", .a).isEmpty)
    }

    @Test("an error in an included file names that file and its own line; the including file keeps counting")
    func includeErrorsReportTheIncludedFile() throws {
        let zones = TemporaryZones()
        let included = zones.write("hosts.inc", "; hosts\nwww IN A 999.0.2.2\n")
        let text = zoneText(["$INCLUDE hosts.inc", "bad IN AAAA not-an-address"])
        let error = try #require(zones.load("example.com.", text).failure)
        let path = zones.directory + "/example.com.zone"
        #expect(error.errors.map { "\($0.location)" } == ["\(included):2", "\(path):6"])
        #expect(error.errors.allSatisfy { $0.message.hasPrefix("cannot parse record") })
        #expect(error.origin == DomainName("example.com."))
    }

    @Test("a missing $INCLUDE file is reported at the $INCLUDE line with the path tried")
    func missingIncludeReportsTheDirectiveLine() throws {
        let zones = TemporaryZones()
        let text = zoneText(["www IN A 192.0.2.2", "$INCLUDE missing.inc"])
        let error = try #require(zones.load("example.com.", text).failure)
        let path = zones.directory + "/example.com.zone"
        let only = try #require(error.errors.first)
        #expect(error.errors.count == 1)
        #expect(only.location == SourceLocation(file: path, line: 6))
        #expect(only.message.contains("cannot open"))
        #expect(only.message.contains(zones.directory + "/missing.inc"))
        #expect(only.description.hasPrefix("\(path):6: error: cannot open"))
    }

    @Test("a zone file that does not exist is an error about the file as a whole")
    func missingZoneFile() throws {
        let path = "/nonexistent-anydns-test/example.com.zone"
        let error = try #require(ZoneLoader.load(path: path, origin: DomainName("example.com.")!).failure)
        let first = try #require(error.errors.first)
        #expect(first.location == SourceLocation(file: path, line: nil))
        #expect(first.message.hasPrefix("cannot open zone file \(path)"))
    }

    @Test("$INCLUDE that includes itself is an error at the $INCLUDE that closes the loop")
    func includeLoopIsStopped() throws {
        let zones = TemporaryZones()
        zones.write("loop.inc", "$INCLUDE loop.inc\n")
        let text = zoneText(["$INCLUDE loop.inc"])
        let error = try #require(zones.load("example.com.", text).failure)
        let found = try #require(error.errors.first { $0.message.hasPrefix("$INCLUDE loop") })
        #expect(found.location == SourceLocation(file: zones.directory + "/loop.inc", line: 1))
        #expect(error.errors.count == 1)
    }

    @Test("A file that includes itself twice is read once, not 2^16 times (Fuzz/regressions/zonefile)")
    func doubleSelfIncludeIsReadOnce() throws {
        let zones = TemporaryZones()
        zones.write("loop.inc", "$INCLUDE loop.inc\n$INCLUDE ./loop.inc\n")
        let text = zoneText(["$INCLUDE loop.inc"])
        let error = try #require(zones.load("example.com.", text).failure)
        #expect(error.errors.count == 2)
        #expect(error.errors.allSatisfy { $0.message.hasPrefix("$INCLUDE loop") })
    }

    @Test("$INCLUDE nested deeper than the limit is an error")
    func includeDepthIsLimited() throws {
        let zones = TemporaryZones()
        let depth = ZoneFileReader.maxIncludeDepth + 1
        for level in 0..<depth {
            zones.write("level\(level).inc", "$INCLUDE level\(level + 1).inc\n")
        }
        zones.write("level\(depth).inc", "")
        let error = try #require(zones.load("example.com.", zoneText(["$INCLUDE level0.inc"])).failure)
        #expect(error.errors.contains { $0.message.contains("nested more than") })
    }

    @Test("a record of type 0, or a line that names no type, is an error at its line (RFC 6895 §3.1)")
    func typeZeroIsReserved() throws {
        let zones = TemporaryZones()
        for record in ["zero TYPE0 \\# 0", "_\"x=spf1 -all\""] {
            let error = try #require(zones.load("example.com.", zoneText([record])).failure)
            #expect(error.errors.map(\.message) == ["record type 0 is reserved"])
            #expect(error.errors.first?.location.line == zoneHeader.count + 1)
        }
    }

    @Test(
        "a stored copy loads back with the same records: owners with quotes and parentheses, and data the type's text form cannot carry"
    )
    func storedCopyLoadsBack() throws {
        let zones = TemporaryZones()
        let text = zoneText([
            "q\\\"uote A 192.0.2.7", "p\\(ar\\) TXT \"x\"", "semi\\;colon A 192.0.2.8",
            // An HTTPS record (RFC 9460) with a stray octet after its target: kept byte for byte.
            "odd TYPE65 \\# 4 0A000001", "www A 192.0.2.80", "www HTTPS 1 . alpn=h2",
        ])
        let zone = try #require(zones.load("example.com.", text).success).zone
        let path = zones.directory + "/copy.zone"
        try ZoneFileWriter.write(zone, to: path, comment: "test copy")
        let copy = try #require(ZoneLoader.load(path: path, origin: DomainName("example.com.")!).success).zone
        #expect(Set(copy.allRecords()) == Set(zone.allRecords()))
        #expect(zone.allRecords().contains { $0.owner.description == "q\\\"uote.example.com." })
    }

    @Test(
        "TYPE and CLASS numbers above 65535 are errors at their line, not a trap (Fuzz/regressions/zonefile)",
        arguments: ["big TYPE70000 \\# 1 00", "big CLASS70000 A 192.0.2.1", "big TYPE65404010101 \\# 0"])
    func typeAndClassNumbersAreSixteenBits(record: String) throws {
        let zones = TemporaryZones()
        let error = try #require(zones.load("example.com.", zoneText([record])).failure)
        let found = try #require(error.errors.first)
        #expect(found.message == "type or class number is larger than 65535")
        #expect(found.location.line == zoneHeader.count + 1)
    }

    @Test("RFC 3597 generic RDATA is stored byte for byte, for unknown and known types")
    func genericRDataIsStoredVerbatim_RFC3597() throws {
        let zones = TemporaryZones()
        let text = zoneText([
            "unknown IN TYPE65400 \\# 4 0A000001",
            "generic IN A \\# 4 C0000201",
            "spaced IN TYPE65401 \\# 6 0102 0304 0506",
        ])
        let loaded = try #require(zones.load("example.com.", text).success)
        let zone = loaded.zone
        #expect(
            zone.records("unknown.example.com.", RecordType(rawValue: 65400)).map(\.rdata) == [
                [0x0A, 0, 0, 1]
            ])
        #expect(zone.records("generic.example.com.", .a).map(\.rdata) == [[192, 0, 2, 1]])
        #expect(
            zone.records("spaced.example.com.", RecordType(rawValue: 65401)).map(\.rdata) == [
                [1, 2, 3, 4, 5, 6]
            ])
        #expect(
            zone.outcome("unknown.example.com.", RecordType(rawValue: 65400))
                == "answer unknown.example.com. TYPE65400")
    }

    @Test("owner names are stored lowercase and the origin is lowercased")
    func namesAreStoredLowercase() throws {
        let zones = TemporaryZones()
        let text = zoneText(["WWW.Sub IN A 192.0.2.2"])
        let zone = try #require(zones.load("Example.COM.", text).success).zone
        #expect(zone.origin == DomainName("example.com."))
        #expect(zone.outcome("www.sub.example.com.", .a) == "answer www.sub.example.com. A")
        #expect(zone.records("WWW.SUB.EXAMPLE.COM.", .a).count == 1)
    }
}

/// libldns says only "could not parse the RR's rdata"; the reader names the field and the value,
/// as NSD does.
@Suite("Parse errors name the bad field")
struct ParseErrorTextTests {
    @Test(arguments: [
        ("www IN A 192.0.2.300", "cannot parse record: invalid IPv4 address '192.0.2.300'"),
        ("www 300 AAAA 2001:db8::zz", "cannot parse record: invalid IPv6 address '2001:db8::zz'"),
        ("@ MX ten mail", "cannot parse record: invalid number 'ten' (expected 0 to 65535)"),
        ("  IN 60 A 1.2.3", "cannot parse record: invalid IPv4 address '1.2.3'"),
        (
            "sig RRSIG A 13 2 3600 2026XX 20200101000000 1 example.com. AAAA",
            "cannot parse record: invalid date '2026XX' (expected YYYYMMDDHHmmSS)"
        ),
    ])
    func namesTheFieldAndTheValue(line: String, message: String) throws {
        let error = try #require(TemporaryZones().load("example.com.", zoneText([line])).failure)
        #expect(error.errors.map(\.message) == [message])
        #expect(error.errors.map(\.location.line) == [5])
    }
}
