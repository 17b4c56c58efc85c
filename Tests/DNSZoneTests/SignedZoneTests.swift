import DNSWire
import Foundation
import TestSupport
import Testing

@testable import DNSZone

private let source = """
    $ORIGIN example.test.
    $TTL 3600
    @        IN SOA ns1 hostmaster 1 3600 900 604800 300
    @        NS    ns1
    ns1      A     192.0.2.53
    www      A     192.0.2.80
    a.b.c    A     192.0.2.3
    *.wild   A     192.0.2.100
    sub      NS    ns.sub
    ns.sub   A     192.0.2.201

    """

private let day: UInt32 = 86400

/// Signs `source` valid from `from` to `until` (seconds relative to `now`), applies `edit` to the
/// signed text's lines, and loads it as of `now`.
private func load(
    _ denial: TestSigner.Denial, from: Int64 = -Int64(day), until: Int64 = 30 * Int64(day),
    now: UInt64 = UInt64(Date().timeIntervalSince1970), edit: ([String]) -> [String] = { $0 }
) throws -> (LoadedZone, [String]) {
    let signed = try TestSigner.sign(
        source, origin: "example.test.", denial: denial, inception: UInt32(Int64(now) + from),
        expiration: UInt32(Int64(now) + until))
    let files = TemporaryZones()
    let path = files.write(
        "example.test.zone", edit(signed.components(separatedBy: "\n")).joined(separator: "\n"))
    let loaded = try ZoneLoader.load(path: path, origin: DomainName("example.test.")!, now: now).get()
    return (loaded, loaded.warnings.map { "\($0.location.line.map(String.init) ?? "-"): \($0.message)" })
}

/// Drops the lines of `type` records owned by `owner` (a prefix of the owner field).
private func dropping(_ type: String, at owner: String) -> ([String]) -> [String] {
    { lines in
        lines.filter { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return !(fields.count > 3 && fields[3] == type && fields[0].hasPrefix(owner))
        }
    }
}

@Suite("NSEC3 hashing and canonical order (RFC 5155 §5, RFC 4034 §6.1)")
struct DNSSECPrimitiveTests {
    /// RFC 5155 Appendix A: salt aabbccdd, 12 iterations.
    @Test(arguments: [
        ("example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"), ("a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
        ("ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"),
        ("ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
        ("w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"),
        ("x.w.example.", "b4um86eghhds6nea196smvmlo4ors995"),
        ("*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
    ])
    func appendixAHashes(name: String, label: String) {
        let parameters = NSEC3Parameters(iterations: 12, salt: [0xAA, 0xBB, 0xCC, 0xDD])
        let hash = DomainName(name)!.wire.withUnsafeBytes { parameters.hash(of: $0) }
        #expect(hash.label == label)
        // The label reads back as the same hash, in either case.
        #expect(Array(label.utf8).withUnsafeBytes { NSEC3Hash(label: $0) } == hash)
        #expect(Array(label.uppercased().utf8).withUnsafeBytes { NSEC3Hash(label: $0) } == hash)
    }

    @Test func zeroIterationsAgreeWithLibldns() {
        let parameters = NSEC3Parameters(iterations: 0, salt: [])
        for name in ["example.test.", "www.example.test.", "*.wild.example.test."] {
            let label = DomainName(name)!.wire.withUnsafeBytes { parameters.hash(of: $0).label }
            #expect(label == TestSigner.nsec3Label(of: name, iterations: 0, salt: []))
        }
    }

    /// The example of RFC 4034 §6.1, lowercased.
    @Test func canonicalOrder() {
        let ordered = [
            "example.", "a.example.", "yljkjljk.a.example.", "z.a.example.", "zabc.a.example.", "z.example.",
            "\\001.z.example.", "*.z.example.", "\\200.z.example.",
        ].map { DomainName($0)!.wire }
        for (position, name) in ordered.enumerated() {
            for (other, otherName) in ordered.enumerated() {
                let order = name.withUnsafeBytes { a in
                    otherName.withUnsafeBytes { CanonicalOrder.compare(a, $0) }
                }
                #expect(
                    order.signum() == (position < other ? -1 : position == other ? 0 : 1),
                    "\(position) \(other)")
            }
        }
    }
}

@Suite("Signed zone checks at load (RFC 4034, RFC 4035 §2, RFC 5155 §7.1)")
struct SignedZoneCheckTests {
    @Test(arguments: [
        TestSigner.Denial.nsec, .nsec3(iterations: 0, salt: [], optOut: false),
        .nsec3(iterations: 0, salt: [], optOut: true),
    ])
    func wellSignedZoneLoadsWithoutWarnings(denial: TestSigner.Denial) throws {
        let now: UInt64 = 1_800_000_000
        let (loaded, warnings) = try load(denial, until: 10 * Int64(day), now: now)
        #expect(warnings == [])
        let signing = try #require(loaded.zone.signing)
        #expect(signing.earliestExpiration == now + 10 * UInt64(day))
        #expect(signing.signatures > 5)
        if case .nsec = denial {
            #expect(signing.denial == .nsec)
        } else {
            #expect(signing.denial == .nsec3(NSEC3Parameters(iterations: 0, salt: [])))
        }
    }

    /// RFC 6672 §2.3: a DNAME may sit at the apex; the hashed NSEC3 owners are not below it.
    @Test func dnameAtTheApexOfAnNSEC3Zone() throws {
        let apexDNAME = """
            $ORIGIN example.test.
            $TTL 3600
            @ IN SOA ns1.outside.example. hostmaster 1 3600 900 604800 300
            @ NS ns1.outside.example.
            @ DNAME example.net.

            """
        let now = UInt32(Date().timeIntervalSince1970)
        let signed = try TestSigner.sign(
            apexDNAME, origin: "example.test.", denial: .nsec3(iterations: 0, salt: [], optOut: false),
            inception: now - day, expiration: now + day)
        let loaded = try TemporaryZones().load("example.test.", signed).get()
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(loaded.zone.denialMethod == .nsec3(NSEC3Parameters(iterations: 0, salt: [])))
    }

    @Test func unsignedZoneIsUnaffected() throws {
        let files = TemporaryZones()
        let loaded = try files.load("example.test.", source).get()
        #expect(loaded.zone.signing == nil)
        #expect(loaded.warnings.isEmpty)
    }

    @Test func expiredAndNotYetValidSignaturesAreWarnedWithTheirDate() throws {
        let now: UInt64 = 1_800_000_000  // 2027-01-15 08:00:00 UTC
        let (expired, warnings) = try load(.nsec, from: -10 * Int64(day), until: -Int64(day), now: now)
        #expect(
            warnings.first == "4: RRSIG of the NS RRset of example.test. expired on 2027-01-14 08:00:00 UTC")
        #expect(warnings.count == 6)
        #expect(
            warnings.last?.hasPrefix("-: ") == true
                && warnings.last!.hasSuffix("more warnings like the above (expired)"))
        #expect(expired.zone.signing?.earliestExpiration == now - UInt64(day))
        let (_, early) = try load(.nsec, from: Int64(day), until: 10 * Int64(day), now: now)
        #expect(
            early.first
                == "4: RRSIG of the NS RRset of example.test. is not valid before 2027-01-16 08:00:00 UTC")
    }

    @Test func unsignedRRsetInASignedZone() throws {
        let (_, warnings) = try load(.nsec) { $0 + ["extra.example.test. 3600 IN TXT \"late\""] }
        #expect(warnings.contains { $0.hasSuffix(": the TXT RRset of extra.example.test. has no RRSIG") })
        #expect(warnings.contains { $0.hasSuffix(": no NSEC record at extra.example.test.") })
    }

    @Test func brokenNSECChain() throws {
        let (_, warnings) = try load(.nsec, edit: dropping("NSEC", at: "www."))
        #expect(warnings.contains { $0.hasSuffix(": no NSEC record at www.example.test.") })
        #expect(
            warnings.contains {
                $0.hasSuffix(
                    ": broken NSEC chain: the NSEC of *.wild.example.test. does not name example.test., the next name of the chain"
                )
            })
    }

    @Test func brokenNSEC3Chain() throws {
        let www = TestSigner.nsec3Label(of: "www.example.test.", iterations: 0, salt: [])
        let (loaded, warnings) = try load(
            .nsec3(iterations: 0, salt: [], optOut: false), edit: dropping("NSEC3", at: www))
        #expect(warnings.contains { $0.hasSuffix(": no NSEC3 record matches www.example.test.") })
        #expect(warnings.contains { $0.contains("broken NSEC3 chain: the NSEC3 at ") })
        #expect(loaded.zone.denialMethod != nil, "the rest of the chain still serves")
    }

    @Test func nsec3ParamWithoutMatchingChain() throws {
        let (loaded, warnings) = try load(.nsec3(iterations: 0, salt: [], optOut: false)) { lines in
            lines.map {
                $0.contains("\tNSEC3PARAM\t") ? $0.replacingOccurrences(of: "1 0 0 -", with: "1 0 5 -") : $0
            }
        }
        #expect(
            warnings.contains {
                $0.hasSuffix(
                    "NSEC3PARAM (algorithm 1, 5 iterations, salt -) at example.test. but no NSEC3 record with these parameters: negative answers cannot be proven"
                )
            })
        #expect(loaded.zone.denialMethod == nil)
    }
}
