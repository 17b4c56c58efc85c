import Testing
import ZoneLifecycle

@Suite("A zone's event schedule: due times, order, earliest wins, reschedule and cancel")
struct ZoneEventsTests {
    @Test func dueEventsComeInTheirOrderAndLeaveTheSchedule() {
        var events = ZoneEvents()
        events.schedule(.flush, at: 10)
        events.schedule(.refresh, at: 10)
        events.schedule(.expire, at: 5)
        events.schedule(.notify, at: 20)
        #expect(events.takeDue(now: 4) == [])
        #expect(events.takeDue(now: 10) == [.expire, .refresh, .flush])
        #expect(events.takeDue(now: 10) == [])
        #expect(events.time(of: .notify) == 20)
    }

    @Test func scheduleKeepsTheEarlierTimeRescheduleReplacesIt() {
        var events = ZoneEvents()
        events.schedule(.refresh, at: 100)
        events.schedule(.refresh, at: 200)
        #expect(events.time(of: .refresh) == 100)
        events.reschedule(.refresh, at: 300)
        #expect(events.time(of: .refresh) == 300)
        events.reschedule(.expire, at: nil)
        #expect(events.time(of: .expire) == nil)
        events.cancel(.refresh)
        #expect(events.takeDue(now: 1000) == [])
    }
}
