import DNSWire
import DNSZone
import Foundation
import Logging
import Operations
import Synchronization
import TestSupport
import Testing
import ZoneLifecycle

/// Readiness as events (README "Management HTTP"): a subscriber hears the state at once, then each
/// change once, in order, when the input that causes it arrives; nothing when nothing changed.
@Suite("Readiness published as events")
struct ReadinessEventsTests {
    let files = TemporaryZones()
    let source: ZoneSource
    let zone: Zone
    let now = TestClock(Date(timeIntervalSince1970: 1_000_000))

    init() throws {
        (source, zone) = try exampleZone(in: files)
    }

    /// A monitor on the test's clock, and a function returning everything published to one
    /// subscriber so far.
    func subscribed() -> (HealthMonitor, () -> [Readiness]) {
        let clock = now
        let health = HealthMonitor(
            configuredZones: [source], listeners: ["10.53.0.1:53"], maintenanceFile: nil, probeMaxAge: 5,
            logger: Logger(label: "test"), clock: { clock.date })
        let heard = Heard()
        health.subscribe { heard.append($0) }
        // Events are delivered in order on the monitor's queue: when a second subscriber hears its
        // first event, every earlier one has reached the first subscriber.
        let drain = {
            let done = DispatchSemaphore(value: 0)
            let id = health.subscribe { _ in done.signal() }
            done.wait()
            health.unsubscribe(id)
            return heard.all
        }
        return (health, drain)
    }

    /// The zone loaded, the server ready and a good self-probe at `start`.
    func makeReady(_ health: HealthMonitor, at start: Date) {
        health.record(
            [ZoneLoadReport(origin: source.origin, outcome: .loaded(zone, warnings: []))], at: start)
        health.transition(to: .ready)
        health.record(ProbeRound(finishedAt: start, succeeded: true, detail: "ok"))
    }

    @Test func eachChangeIsPublishedOnceInOrder() {
        let (health, heard) = subscribed()
        let start = now.date
        health.transition(to: .loading)
        makeReady(health, at: start)
        health.record(ProbeRound(finishedAt: start, succeeded: true, detail: "ok"))  // no change
        health.transition(to: .draining(since: start))
        #expect(
            heard() == [
                Readiness(state: "starting", ready: false, reason: "state is starting"),
                Readiness(state: "loading", ready: false, reason: "state is loading"),
                Readiness(state: "not-ready", ready: false, reason: "no self-probe yet"),
                Readiness(state: "ready", ready: true, reason: "ready"),
                Readiness(state: "draining", ready: false, reason: "draining"),
            ])
    }

    @Test func aProbeGrowingOldIsPublishedWhenReEvaluated() {
        let (health, heard) = subscribed()
        let start = now.date
        makeReady(health, at: start)
        now.date = start.addingTimeInterval(6)
        health.evaluate(now: now.date)  // what the watch timer does
        #expect(
            heard().last
                == Readiness(
                    state: "not-ready", ready: false, reason: "last self-probe 6.0 s ago (limit 5.0 s)"))
    }

    @Test func aSecondaryThatExpiresIsPublished() {
        let (health, heard) = subscribed()
        let start = now.date
        makeReady(health, at: start)
        health.recordSecondary(
            source.origin, primaries: ["192.0.2.53:53"], serial: 7, attempt: 10, success: 1, result: "failed",
            nextRefresh: 20, expiresAt: 5, expired: true)
        #expect(
            heard().last
                == Readiness(
                    state: "not-ready", ready: false,
                    reason: "zone example.test. expired (no successful refresh from its primaries)"))
    }
}

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let value: Mutex<Date>
    init(_ date: Date) { value = Mutex(date) }
    var date: Date {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// What one subscriber heard.
final class Heard: Sendable {
    private let events = Mutex<[Readiness]>([])
    func append(_ readiness: Readiness) { events.withLock { $0.append(readiness) } }
    var all: [Readiness] { events.withLock { $0 } }
}
