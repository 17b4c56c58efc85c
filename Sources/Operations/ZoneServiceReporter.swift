import DNSWire
import ZoneLifecycle

/// Passes the zone lifecycle's news to the health monitor and the metrics.
public struct ZoneServiceReporter: ZoneServiceObserver {
    let monitor: HealthMonitor
    let metrics: DNSMetrics

    public init(monitor: HealthMonitor, metrics: DNSMetrics) {
        self.monitor = monitor
        self.metrics = metrics
    }

    public func secondaryChanged(
        _ origin: DomainName, primaries: [String], schedule: RefreshSchedule, expired: Bool
    ) {
        monitor.recordSecondary(
            origin, primaries: primaries, serial: schedule.serial, attempt: schedule.lastAttempt,
            success: schedule.lastSuccess, result: schedule.lastResult, nextRefresh: schedule.nextRefresh,
            expiresAt: schedule.expiresAt, expired: expired)
    }

    public func transferIn(type: String, succeeded: Bool) {
        metrics.recordTransfer(direction: "in", type: type, succeeded: succeeded)
    }

    public func notifySent(acknowledged: Bool) { metrics.recordNotify(sent: true, ok: acknowledged) }

    public func notifyReceived() { metrics.recordNotify(sent: false, ok: true) }
}
