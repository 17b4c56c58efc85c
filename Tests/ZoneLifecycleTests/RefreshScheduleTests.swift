import DNSWire
import Testing
import ZoneLifecycle

@Suite("Secondary timers: refresh, retry, expire on an injected clock (RFC 1034 §4.3.5, RFC 1996, RFC 7314)")
struct RefreshScheduleTests {
    let timers = SOATimers(serial: 7, refresh: 3600, retry: 600, expire: 86_400, minimum: 60)

    @Test("a new secondary zone is due at once and counts as expired until its first transfer")
    func newZoneIsDueAndExpired() {
        let schedule = RefreshSchedule(now: 1000)
        #expect(schedule.isDue(now: 1000))
        #expect(schedule.isExpired(now: 1000))
    }

    @Test("success schedules the next refresh after REFRESH and expiry after EXPIRE")
    func successUsesRefreshAndExpire() {
        var schedule = RefreshSchedule(now: 1000)
        schedule.succeeded(now: 1000, timers: timers, primaryExpire: nil, result: "ok")
        #expect(schedule.serial == 7)
        #expect(schedule.nextRefresh == 4600)
        #expect(schedule.expiresAt == 87_400)
        #expect(!schedule.isDue(now: 4599) && schedule.isDue(now: 4600))
        #expect(!schedule.isExpired(now: 87_399) && schedule.isExpired(now: 87_400))
    }

    @Test("a primary's lower EDNS EXPIRE shortens ours, so a chain cannot outlive the primary (RFC 7314 §4)")
    func primaryExpireCapsOurs() {
        var schedule = RefreshSchedule(now: 1000)
        schedule.succeeded(now: 1000, timers: timers, primaryExpire: 100, result: "ok")
        #expect(schedule.expiresAt == 1100)
    }

    @Test("failure retries after RETRY and keeps the expiry; then the zone expires")
    func failureRetriesThenExpires() {
        var schedule = RefreshSchedule(now: 0)
        schedule.succeeded(now: 0, timers: timers, primaryExpire: nil, result: "ok")
        schedule.failed(now: 3600, retry: timers.retry, result: "timeout")
        #expect(schedule.nextRefresh == 4200)
        #expect(schedule.expiresAt == 86_400)
        #expect(schedule.lastSuccess == 0 && schedule.lastAttempt == 3600 && schedule.lastResult == "timeout")
        #expect(schedule.isExpired(now: 86_400))
        schedule.expire()
        #expect(schedule.serial == nil && schedule.isExpired(now: 86_400))
    }

    @Test("a NOTIFY makes the zone due at once, however far the next refresh was")
    func notifyRefreshesNow() {
        var schedule = RefreshSchedule(now: 0)
        schedule.succeeded(now: 0, timers: timers, primaryExpire: nil, result: "ok")
        schedule.refreshNow(now: 10)
        #expect(schedule.isDue(now: 10))
    }

    @Test("timers restored after downtime longer than REFRESH are due at once; past EXPIRE, expired")
    func restoredTimersAreCheckedAgainstTheClock() {
        var stored = RefreshSchedule(now: 0)
        stored.succeeded(now: 0, timers: timers, primaryExpire: nil, result: "ok")
        let restarted = RefreshSchedule.restored(stored, now: 10_000)
        #expect(restarted.isDue(now: 10_000))
        #expect(!restarted.isExpired(now: 10_000))
        #expect(RefreshSchedule.restored(stored, now: 100_000).isExpired(now: 100_000))
        let early = RefreshSchedule.restored(stored, now: 100)
        #expect(!early.isDue(now: 100), "restarted within REFRESH: keep the stored schedule")
    }
}
