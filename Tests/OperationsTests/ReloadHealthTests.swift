import DNSWire
import DNSZone
import Foundation
import Logging
import Operations
import Synchronization
import TestSupport
import Testing
import ZoneLifecycle

/// Collects log lines (level and message) so a test can count what was logged.
final class LogRecorder: Sendable {
    let lines = Mutex<[(Logger.Level, String)]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    func messages(_ level: Logger.Level? = nil) -> [String] {
        lines.withLock { $0.filter { level == nil || $0.0 == level }.map(\.1) }
    }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { recorder.lines.withLock { $0.append((event.level, "\(event.message)")) } }
    }
}

/// What a configuration reload changes in the health state, and what is logged once
/// (README "Signals", "Management HTTP").
@Suite("Reloads and state changes in /health")
struct ReloadHealthTests {
    let files = TemporaryZones()
    let start = Date(timeIntervalSince1970: 1_000_000)
    let recorder = LogRecorder()

    func zone(_ name: String, serial: Int) throws -> (ZoneSource, Zone) {
        let path = files.write(
            "\(name)zone",
            "$ORIGIN \(name)\n@ 300 SOA ns1 hostmaster \(serial) 3600 900 604800 60\n@ NS ns1\nns1 A 192.0.2.1\n"
        )
        let source = ZoneSource(origin: DomainName(name)!, file: path)
        return (source, try ZoneLoader.load(path: path, origin: source.origin).get().zone)
    }

    func ready(_ zones: [(ZoneSource, Zone)], maintenanceFile: String? = nil) -> HealthMonitor {
        let health = HealthMonitor(
            configuredZones: zones.map(\.0), listeners: ["10.53.0.1:53"], maintenanceFile: maintenanceFile,
            probeMaxAge: 5, logger: recorder.logger)
        health.record(
            zones.map { ZoneLoadReport(origin: $0.0.origin, outcome: .loaded($0.1, warnings: [])) }, at: start
        )
        health.transition(to: .ready)
        health.record(ProbeRound(finishedAt: start, succeeded: true, detail: "ok"))
        return health
    }

    @Test func aReloadAddsRemovesAndKeepsZones() throws {
        let kept = try zone("kept.test.", serial: 3)
        let removed = try zone("removed.test.", serial: 4)
        let added = try zone("added.test.", serial: 5)
        let health = ready([kept, removed])
        let settings = HealthMonitor.Settings(maintenanceFile: nil, probeMaxAge: 5, defences: nil)
        health.reconfigure(zones: [kept.0, added.0], settings: settings, at: start)
        let document = health.document(now: start)
        #expect(document.zones.map(\.origin) == ["kept.test.", "added.test."])
        #expect(document.zones.map(\.serial) == [3, nil])
        #expect(health.readiness(now: start) == (false, "zone added.test. not loaded"))
        #expect(document.state == "not-ready")
        health.record(
            [ZoneLoadReport(origin: added.0.origin, outcome: .loaded(added.1, warnings: []))], at: start)
        #expect(health.readiness(now: start) == (true, "ready"))
    }

    @Test func aReloadChangesTheMaintenanceFileAndProbeAge() throws {
        let example = try zone("example.test.", serial: 7)
        let health = ready([example])
        let flag = files.write("maintenance", "")
        #expect(health.readiness(now: start.addingTimeInterval(6)).ready == false)
        health.reconfigure(
            zones: [example.0], settings: .init(maintenanceFile: nil, probeMaxAge: 30, defences: nil),
            at: start)
        #expect(health.readiness(now: start.addingTimeInterval(6)) == (true, "ready"))
        health.reconfigure(
            zones: [example.0], settings: .init(maintenanceFile: flag, probeMaxAge: 30, defences: nil),
            at: start)
        #expect(health.readiness(now: start) == (false, "maintenance file \(flag) present"))
        #expect(health.document(now: start).maintenanceFile == flag)
    }

    @Test func aFailedReloadIsDegradedWithItsErrorUntilAGoodOne() throws {
        let example = try zone("example.test.", serial: 7)
        let health = ready([example])
        #expect(health.document(now: start).lastReload == nil)
        health.recordReloadFailure("a.yaml: bogus: unknown key", at: start)
        let failed = health.document(now: start)
        #expect(failed.degraded)
        #expect(failed.lastReload?.at == "1970-01-12T13:46:40Z")
        #expect(failed.lastReload?.ok == false)
        #expect(failed.lastReload?.error == "a.yaml: bogus: unknown key")
        #expect(failed.ready, "the running configuration keeps serving")
        health.reconfigure(
            zones: [example.0], settings: .init(maintenanceFile: nil, probeMaxAge: 5, defences: nil),
            at: start)
        let good = health.document(now: start)
        #expect(!good.degraded)
        #expect(good.lastReload?.ok == true && good.lastReload?.error == nil)
    }

    @Test func theDocumentNamesTheBuild() throws {
        let json = try #require(
            try JSONSerialization.jsonObject(
                with: JSONEncoder().encode(ready([try zone("example.test.", serial: 7)]).document(now: start))
            )
                as? [String: Any])
        #expect(json["version"] as? String == BuildInfo.version)
        #expect(json["commit"] as? String == BuildInfo.commit)
        #expect(!BuildInfo.version.isEmpty && !BuildInfo.commit.isEmpty)
    }

    @Test func maintenanceAndReadinessChangesAreLoggedOnce() throws {
        let example = try zone("example.test.", serial: 7)
        let flag = files.directory + "/maintenance"
        let health = ready([example], maintenanceFile: flag)
        for _ in 0..<3 { _ = health.readiness(now: start) }
        files.write("maintenance", "")
        for _ in 0..<3 { _ = health.readiness(now: start) }
        try FileManager.default.removeItem(atPath: flag)
        for _ in 0..<3 { _ = health.readiness(now: start) }
        let notices = recorder.messages(.notice).filter { !$0.hasPrefix("state ") }
        // Readiness is evaluated when its inputs change, so becoming ready at start is logged too.
        #expect(
            notices == [
                "ready", "entering maintenance: \(flag) present", "leaving maintenance: \(flag) gone",
                "ready",
            ])
        #expect(recorder.messages(.warning) == ["not ready: maintenance file \(flag) present"])
    }

    @Test func aFailedProbeRoundIsLoggedWhenItHappensNotWhenPolled() throws {
        let health = ready([try zone("example.test.", serial: 7)])
        health.record(
            ProbeRound(finishedAt: start, succeeded: false, detail: "SOA example.test. at x: timeout"))
        health.record(
            ProbeRound(finishedAt: start, succeeded: false, detail: "SOA example.test. at x: timeout"))
        #expect(
            recorder.messages(.warning) == [
                "self-probe failed: SOA example.test. at x: timeout",
                "not ready: self-probe failed: SOA example.test. at x: timeout",
            ])
    }
}

@Suite("Metrics an operator reads")
struct OperatorMetricsTests {
    @Test func selfProbeQueriesAreNotClientQueries() {
        let metrics = DNSMetrics()
        metrics.selfProbeAnswered()
        metrics.selfProbeAnswered()
        let text = metrics.render()
        #expect(text.contains("anydns_self_probe_queries_total 2"))
        #expect(
            !text.split(separator: "\n").contains {
                $0.hasPrefix("anydns_queries_total{") && !$0.hasSuffix(" 0")
            })
    }

    @Test func buildInfoAndFailedReloads() {
        let metrics = DNSMetrics()
        metrics.recordReloadFailure()
        let text = metrics.render()
        #expect(
            text.contains(
                "anydns_build_info{version=\"\(BuildInfo.version)\",commit=\"\(BuildInfo.commit)\"} 1.0"))
        #expect(text.contains("anydns_reloads_total{result=\"failed\"} 1"))
        #expect(text.contains("anydns_degraded 1.0"))
    }
}

@Suite("Log formats (README \"Logs\")")
struct LogOutputTests {
    let time = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func journalLinesCarryThePriorityAndNoTime() {
        let line = LogOutput.line(
            format: .journal, label: "anydns", level: .warning, message: "reload failed",
            metadata: ["b": "2", "a": "1"],
            time: time)
        #expect(line == "<4>reload failed a=1 b=2")
        #expect(
            LogOutput.priority(.critical) == 2 && LogOutput.priority(.notice) == 5
                && LogOutput.priority(.debug) == 7)
    }

    @Test func textLinesCarryTheTime() {
        let line = LogOutput.line(
            format: .text, label: "anydns", level: .notice, message: "ready", metadata: [:], time: time)
        #expect(line == "2027-01-15T08:00:00Z notice anydns: ready")
    }

    @Test func jsonLinesAreOneObjectEach() throws {
        let line = LogOutput.line(
            format: .json, label: "anydns", level: .error, message: "say \"hi\"", metadata: ["zone": "any."],
            time: time)
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == "say \"hi\"")
        #expect(object["level"] as? String == "error")
        #expect(object["priority"] as? Int == 3)
        #expect(object["time"] as? String == "2027-01-15T08:00:00Z")
        #expect((object["metadata"] as? [String: String]) == ["zone": "any."])
    }

    @Test func autoIsTheJournalOnlyWhenStandardErrorIsTheJournalStream() {
        var status = stat()
        #expect(fstat(2, &status) == 0)
        #expect(LogFormat.auto.resolved(environment: [:]) == .text)
        #expect(LogFormat.auto.resolved(environment: ["JOURNAL_STREAM": "1:2"]) == .text)
        #expect(
            LogFormat.auto.resolved(environment: ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino)"])
                == .journal)
        #expect(
            LogFormat.json.resolved(environment: ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino)"])
                == .json)
    }
}
