import DNSWire
import DNSZone
import Foundation
import Logging
import Operations
import TestSupport
import Testing
import ZoneLifecycle

/// The readiness rule the BGP announcer relies on (README "Management HTTP"), checked without a network.
@Suite("Health state machine and /readyz")
struct HealthMonitorTests {
    let files = TemporaryZones()
    let source: ZoneSource
    let zone: Zone
    let start = Date(timeIntervalSince1970: 1_000_000)

    init() throws {
        (source, zone) = try exampleZone(in: files)
    }

    func monitor(maintenanceFile: String? = nil) -> HealthMonitor {
        HealthMonitor(
            configuredZones: [source], listeners: ["10.53.0.1:53"], maintenanceFile: maintenanceFile,
            probeMaxAge: 5, logger: Logger(label: "test"))
    }

    func readyMonitor(maintenanceFile: String? = nil) -> HealthMonitor {
        let health = monitor(maintenanceFile: maintenanceFile)
        health.transition(to: .loading)
        health.record(
            [ZoneLoadReport(origin: source.origin, outcome: .loaded(zone, warnings: []))], at: start)
        health.transition(to: .ready)
        health.record(ProbeRound(finishedAt: start, succeeded: true, detail: "ok"))
        return health
    }

    @Test func readyOnlyWithZonesLoadedAndARecentGoodProbe() {
        let health = readyMonitor()
        #expect(health.readiness(now: start.addingTimeInterval(1)) == (true, "ready"))
    }

    @Test func notReadyBeforeTheFirstProbe() {
        let health = monitor()
        health.transition(to: .ready)
        health.record(
            [ZoneLoadReport(origin: source.origin, outcome: .loaded(zone, warnings: []))], at: start)
        #expect(health.readiness(now: start) == (false, "no self-probe yet"))
    }

    @Test func notReadyWhileAZoneIsMissing() {
        let health = monitor()
        health.transition(to: .ready)
        health.record(ProbeRound(finishedAt: start, succeeded: true, detail: "ok"))
        #expect(health.readiness(now: start) == (false, "zone example.test. not loaded"))
    }

    /// The document's state never says "ready" beside ready = false, and maintenanceFile is
    /// always a key (null when not configured).
    @Test func documentStateAgreesWithReadiness() throws {
        let health = monitor()
        health.transition(to: .ready)
        health.record(ProbeRound(finishedAt: start, succeeded: true, detail: "ok"))
        let missing = health.document(now: start)
        #expect(
            missing.state == "not-ready" && !missing.ready
                && missing.reason == "zone example.test. not loaded")
        let json = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(missing)) as? [String: Any])
        #expect(json.keys.contains("maintenanceFile") && json["maintenanceFile"] is NSNull)
        let ready = readyMonitor().document(now: start)
        #expect(ready.state == "ready" && ready.ready)
    }

    @Test func staleProbeMakesItUnready() {
        let health = readyMonitor()
        let (ready, reason) = health.readiness(now: start.addingTimeInterval(6))
        #expect(!ready)
        #expect(reason == "last self-probe 6.0 s ago (limit 5.0 s)")
    }

    @Test func failedProbeMakesItUnreadyWithTheDetail() {
        let health = readyMonitor()
        health.record(ProbeRound(finishedAt: start, succeeded: false, detail: "SOA x at y: timeout"))
        #expect(health.readiness(now: start) == (false, "self-probe failed: SOA x at y: timeout"))
    }

    @Test func drainingIsNeverReadyAgain() {
        let health = readyMonitor()
        health.transition(to: .draining(since: start))
        health.transition(to: .ready)
        #expect(health.lifecycle.name == "draining")
        #expect(health.readiness(now: start) == (false, "draining"))
        health.transition(to: .stopped)
        #expect(health.lifecycle == .stopped)
    }

    @Test func maintenanceFileForcesUnreadyWhilePresent() throws {
        let flag = files.directory + "/maintenance"
        let health = readyMonitor(maintenanceFile: flag)
        #expect(health.readiness(now: start).ready)
        files.write("maintenance", "")
        #expect(health.readiness(now: start) == (false, "maintenance file \(flag) present"))
        try FileManager.default.removeItem(atPath: flag)
        #expect(health.readiness(now: start).ready)
    }

    @Test func failedReloadKeepsTheServedSerialAndSetsDegraded() {
        let health = readyMonitor()
        health.record(
            [
                ZoneLoadReport(
                    origin: source.origin, outcome: .failed(errors: ["f:3: error: x"], keptSerial: 7))
            ],
            at: start)
        #expect(health.isDegraded)
        #expect(health.readiness(now: start).ready, "old data still served: stays ready")
        let document = health.document(now: start)
        #expect(document.degraded)
        #expect(document.zones.map(\.serial) == [7])
        #expect(document.zones.map(\.errors) == [["f:3: error: x"]])
    }

    @Test func metricsCountQueriesByTransportTypeAndRcode() {
        let metrics = DNSMetrics()
        metrics.record(.ready)
        metrics.recordLoad(
            [ZoneLoadReport(origin: source.origin, outcome: .loaded(zone, warnings: []))], isReload: true)
        let text = metrics.render()
        #expect(text.contains("anydns_zone_serial{zone=\"example.test.\"} 7.0"))
        #expect(text.contains("anydns_reloads_total{result=\"ok\"} 1"))
        #expect(text.contains("anydns_state{state=\"ready\"} 1.0"))
    }
}

@Suite("Health of signed zones (RFC 4035 §5.3.1)")
struct SignedZoneHealthTests {
    @Test func expiredSignaturesMakeTheSiteUnready() throws {
        let files = TemporaryZones()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let now = UInt32(start.timeIntervalSince1970)
        let signed = try TestSigner.sign(
            "$ORIGIN example.test.\n@ 300 SOA ns1 hostmaster 7 3600 900 604800 60\n@ NS ns1\nns1 A 192.0.2.1\n",
            origin: "example.test.", denial: .nsec3(iterations: 0, salt: [], optOut: false),
            inception: now - 86400, expiration: now + 60)
        let path = files.write("example.test.zone", signed)
        let origin = DomainName("example.test.")!
        let zone = try ZoneLoader.load(path: path, origin: origin, now: UInt64(now)).get().zone
        let health = HealthMonitor(
            configuredZones: [ZoneSource(origin: origin, file: path)], listeners: ["10.53.0.1:53"],
            maintenanceFile: nil, probeMaxAge: 500, servedZones: { ZoneSet([zone]) },
            logger: Logger(label: "test"))
        health.transition(to: .ready)
        health.record([ZoneLoadReport(origin: origin, outcome: .loaded(zone, warnings: []))], at: start)
        health.record(ProbeRound(finishedAt: start, succeeded: true, detail: "ok"))
        #expect(health.readiness(now: start.addingTimeInterval(59)) == (true, "ready"))
        let document = health.document(now: start.addingTimeInterval(59))
        #expect(document.zones.first?.signed == true)
        #expect(document.zones.first?.dnssec?.denial == "nsec3")
        #expect(document.zones.first?.dnssec?.secondsToExpiration == 1)
        #expect(document.zones.first?.dnssec?.earliestExpiration == "2027-01-15T08:01:00Z")
        // RFC 4035 §5.3.1: valid through the expiration second itself.
        #expect(health.readiness(now: start.addingTimeInterval(60)) == (true, "ready"))
        #expect(
            health.readiness(now: start.addingTimeInterval(61))
                == (false, "zone example.test. has expired signatures (RRSIG expired 2027-01-15T08:01:00Z)"))
        #expect(health.zoneStatuses.first?.signing?.earliestExpiration == UInt64(now) + 60)
    }
}
