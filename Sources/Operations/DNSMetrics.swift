import CoreMetrics
import DNSGuard
import DNSResponder
import DNSTransport
import DNSWire
import DNSZone
import Members
import Prometheus
import ServingTypes
import Synchronization
import ZoneLifecycle

/// Prometheus metrics through swift-metrics (README "Management HTTP"). Every per-query counter is created
/// once, at start-up, over bounded label sets (swift-metrics README), so counting a query is an
/// array index and an atomic increment.
public final class DNSMetrics: QueryObserver, Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    /// The QTYPE label values; everything else is `other`.
    static let queryTypes: [(RecordType?, String)] = [
        (.a, "A"), (.aaaa, "AAAA"), (.ns, "NS"), (.soa, "SOA"), (.cname, "CNAME"), (.mx, "MX"), (.txt, "TXT"),
        (.srv, "SRV"), (.ptr, "PTR"), (.ds, "DS"), (.dnskey, "DNSKEY"), (RecordType(rawValue: 257), "CAA"),
        (RecordType(rawValue: 65), "HTTPS"), (.any, "ANY"), (.axfr, "AXFR"), (.ixfr, "IXFR"), (nil, "other"),
    ]
    /// The RCODE label values; everything else is `other`.
    static let rcodes: [(RCode?, String)] = [
        (.noError, "NOERROR"), (.formErr, "FORMERR"), (.servFail, "SERVFAIL"), (.nxDomain, "NXDOMAIN"),
        (.notImp, "NOTIMP"), (.refused, "REFUSED"), (.yxDomain, "YXDOMAIN"), (.badVers, "BADVERS"),
        (.badCookie, "BADCOOKIE"), (nil, "other"),
    ]
    static let transports: [(Transport, String)] = [(.udp, "udp"), (.tcp, "tcp")]

    /// Label index of every QTYPE value and of every (extended) RCODE value, so counting a query
    /// is two array reads rather than a search of the label lists.
    private let queryTypeSlot: [UInt8]
    private let rcodeSlot: [UInt8]
    private let queries: [CoreMetrics.Counter]
    private let truncated: [CoreMetrics.Counter]
    private let dropped: [CoreMetrics.Counter]
    /// Responses rate limiting acted on, by action (dropped, slipped, logged) and class.
    private let rateLimited: [CoreMetrics.Counter]
    static let rateLimitActions: [(RateLimitAction, String)] = [
        (.dropped, "dropped"), (.slipped, "slipped"), (.logged, "logged"),
    ]
    /// Queries with a client cookie only, and with a valid server cookie (RFC 7873).
    private let cookies: (clientOnly: CoreMetrics.Counter, valid: CoreMetrics.Counter)
    /// TCP connections closed at once because a cap was reached: global, per client.
    private let tcpRefused: (global: CoreMetrics.Counter, perClient: CoreMetrics.Counter)
    private let reloadsSucceeded: CoreMetrics.Counter
    private let reloadsFailed: CoreMetrics.Counter
    /// Queries of the server's own self-probe, kept out of `anydns_queries_total`.
    private let selfProbeQueries: CoreMetrics.Counter
    private let buildInfo: CoreMetrics.Gauge
    private let states: [CoreMetrics.Gauge]
    private let degraded: CoreMetrics.Gauge
    private let serials: Mutex<[String: CoreMetrics.Gauge]> = Mutex([:])
    /// Gauges made when first asked for, by label and value of their one dimension: signing
    /// (`anydns_zone_signed`, `anydns_zone_rrsig_expiry_seconds`) and members (`anydns_service_*`).
    private let oneDimensionGauges: Mutex<[String: CoreMetrics.Gauge]> = Mutex([:])
    /// Per-zone refresh gauges of secondary zones, made when a zone is first seen.
    private let zoneGauges: Mutex<[String: (sinceRefresh: CoreMetrics.Gauge, toExpiry: CoreMetrics.Gauge)]> =
        Mutex([:])
    /// Zone transfers by direction (in, out), type (AXFR, IXFR) and result (ok, failed).
    private let transfers: [String: CoreMetrics.Counter]
    /// NOTIFY by direction (sent, received) and, for sent, whether it was acknowledged.
    private let notifies: [String: CoreMetrics.Counter]

    public init() {
        let factory = PrometheusMetricsFactory(registry: registry)
        self.factory = factory
        var queries: [CoreMetrics.Counter] = []
        for (_, transport) in Self.transports {
            for (_, qtype) in Self.queryTypes {
                for (_, rcode) in Self.rcodes {
                    queries.append(
                        CoreMetrics.Counter(
                            label: "anydns_queries_total",
                            dimensions: [("transport", transport), ("qtype", qtype), ("rcode", rcode)],
                            factory: factory))
                }
            }
        }
        self.queries = queries
        var queryTypeSlot = [UInt8](repeating: UInt8(Self.queryTypes.count - 1), count: 65_536)
        for (index, (type, _)) in Self.queryTypes.enumerated() {
            if let type { queryTypeSlot[Int(type.rawValue)] = UInt8(index) }
        }
        var rcodeSlot = [UInt8](repeating: UInt8(Self.rcodes.count - 1), count: 4_096)
        for (index, (rcode, _)) in Self.rcodes.enumerated() {
            if let rcode { rcodeSlot[Int(rcode.rawValue)] = UInt8(index) }
        }
        self.queryTypeSlot = queryTypeSlot
        self.rcodeSlot = rcodeSlot
        truncated = Self.transports.map {
            CoreMetrics.Counter(
                label: "anydns_responses_truncated_total", dimensions: [("transport", $0.1)], factory: factory
            )
        }
        dropped = Self.transports.map {
            CoreMetrics.Counter(
                label: "anydns_queries_dropped_total", dimensions: [("transport", $0.1)], factory: factory)
        }
        rateLimited = Self.rateLimitActions.flatMap { _, action in
            ResponseClass.allCases.map { responseClass in
                CoreMetrics.Counter(
                    label: "anydns_rate_limited_total",
                    dimensions: [("action", action), ("class", responseClass.description)], factory: factory)
            }
        }
        cookies = (
            CoreMetrics.Counter(
                label: "anydns_cookies_total", dimensions: [("state", "client-only")], factory: factory),
            CoreMetrics.Counter(
                label: "anydns_cookies_total", dimensions: [("state", "valid")], factory: factory)
        )
        tcpRefused = (
            CoreMetrics.Counter(
                label: "anydns_tcp_connections_refused_total", dimensions: [("cap", "global")],
                factory: factory),
            CoreMetrics.Counter(
                label: "anydns_tcp_connections_refused_total", dimensions: [("cap", "per-client")],
                factory: factory)
        )
        reloadsSucceeded = CoreMetrics.Counter(
            label: "anydns_reloads_total", dimensions: [("result", "ok")], factory: factory)
        reloadsFailed = CoreMetrics.Counter(
            label: "anydns_reloads_total", dimensions: [("result", "failed")], factory: factory)
        selfProbeQueries = CoreMetrics.Counter(label: "anydns_self_probe_queries_total", factory: factory)
        // The Prometheus "info" idiom: always 1, the facts are in the labels.
        buildInfo = CoreMetrics.Gauge(
            label: "anydns_build_info",
            dimensions: [("version", BuildInfo.version), ("commit", BuildInfo.commit)],
            factory: factory)
        buildInfo.record(1)
        states = Lifecycle.allNames.map {
            CoreMetrics.Gauge(label: "anydns_state", dimensions: [("state", $0)], factory: factory)
        }
        degraded = CoreMetrics.Gauge(label: "anydns_degraded", factory: factory)
        var transfers: [String: CoreMetrics.Counter] = [:]
        for direction in ["in", "out"] {
            for type in ["AXFR", "IXFR"] {
                for result in ["ok", "failed"] {
                    transfers["\(direction)/\(type)/\(result)"] = CoreMetrics.Counter(
                        label: "anydns_transfers_total",
                        dimensions: [("direction", direction), ("type", type), ("result", result)],
                        factory: factory)
                }
            }
        }
        self.transfers = transfers
        var notifies: [String: CoreMetrics.Counter] = [:]
        for (direction, result) in [("sent", "acknowledged"), ("sent", "failed"), ("received", "accepted")] {
            notifies["\(direction)/\(result)"] = CoreMetrics.Counter(
                label: "anydns_notify_total", dimensions: [("direction", direction), ("result", result)],
                factory: factory)
        }
        self.notifies = notifies
    }

    /// Counts one zone transfer; `type` is AXFR or IXFR.
    public func recordTransfer(direction: String, type: String, succeeded: Bool) {
        transfers["\(direction)/\(type)/\(succeeded ? "ok" : "failed")"]?.increment()
    }

    public func recordNotify(sent: Bool, ok: Bool) {
        notifies[sent ? (ok ? "sent/acknowledged" : "sent/failed") : "received/accepted"]?.increment()
    }

    /// Sets the secondary zones' refresh gauges (`anydns_zone_seconds_since_refresh`,
    /// `anydns_zone_seconds_to_expiry`) from their status at `now`.
    public func recordFreshness(_ zones: [ZoneStatus], now: UInt64) {
        for zone in zones where zone.role == "secondary" {
            let gauges = zoneGauges.withLock { gauges in
                if let found = gauges[zone.origin] { return found }
                let made = (
                    CoreMetrics.Gauge(
                        label: "anydns_zone_seconds_since_refresh", dimensions: [("zone", zone.origin)],
                        factory: factory),
                    CoreMetrics.Gauge(
                        label: "anydns_zone_seconds_to_expiry", dimensions: [("zone", zone.origin)],
                        factory: factory)
                )
                gauges[zone.origin] = made
                return made
            }
            gauges.sinceRefresh.record(zone.lastRefreshSuccess.map { Double(Int64(now) - Int64($0)) } ?? -1)
            gauges.toExpiry.record(zone.expiresAt.map { Double(Int64($0) - Int64(now)) } ?? 0)
        }
    }

    /// Sets `anydns_zone_signed` (1 for a signed zone) and `anydns_zone_rrsig_expiry_seconds`
    /// (seconds until the earliest RRSIG expiration, negative once expired) per zone.
    public func recordSigning(_ zones: [ZoneStatus], now: UInt64) {
        for zone in zones {
            gauge("anydns_zone_signed", value: zone.origin).record(zone.signing == nil ? 0 : 1)
            // Only a signed zone has an expiry: a gauge at 0 for an unsigned one would read "expiring now".
            if let expiry = zone.signing?.earliestExpiration {
                gauge("anydns_zone_rrsig_expiry_seconds", value: zone.origin)
                    .record(Double(Int64(expiry) - Int64(now)))
            }
        }
    }

    /// A gauge with one dimension, made the first time it is asked for.
    private func gauge(_ label: String, label dimension: String = "zone", value: String)
        -> CoreMetrics.Gauge
    {
        oneDimensionGauges.withLock { gauges in
            if let found = gauges[label + " " + value] { return found }
            let made = CoreMetrics.Gauge(label: label, dimensions: [(dimension, value)], factory: factory)
            gauges[label + " " + value] = made
            return made
        }
    }

    /// Counts one query (``QueryObserver``): by transport, QTYPE and RCODE; truncations; drops.
    public func answered(transport: Transport, response: Response?) {
        let transportIndex = transport == .udp ? 0 : 1
        guard let response else {
            dropped[transportIndex].increment()
            return
        }
        let qtype = Int(queryTypeSlot[Int(response.queryType.rawValue)])
        let rcode = Int(rcodeSlot[Int(response.rcode.rawValue & 0xFFF)])
        queries[(transportIndex * Self.queryTypes.count + qtype) * Self.rcodes.count + rcode].increment()
        if response.truncated { truncated[transportIndex].increment() }
        if let action = response.rateLimit { rateLimited(action, responseClass: response.responseClass) }
        switch response.cookie {
        case .none: break
        case .clientOnly: cookies.clientOnly.increment()
        case .valid: cookies.valid.increment()
        }
    }

    /// `anydns_service_members`, `anydns_service_members_reachable` and `anydns_service_sessions`
    /// (the sum of the members' reported sessions) per anycast service.
    public func recordMembers(_ snapshot: MemberSnapshot) {
        for (index, service) in snapshot.services.enumerated() {
            let name = service.name.description
            gauge("anydns_service_members", label: "service", value: name)
                .record(Double(snapshot.members[index].count))
            gauge("anydns_service_members_reachable", label: "service", value: name)
                .record(Double(snapshot.reachableCount(service: index)))
            gauge("anydns_service_sessions", label: "service", value: name)
                .record(Double(snapshot.members[index].reduce(0) { $0 + $1.sessions }))
        }
    }

    /// `anydns_degraded`: 1 while the last reload failed or a zone serves old data.
    public func recordDegraded(_ isDegraded: Bool) { degraded.record(isDegraded ? 1 : 0) }

    /// Counts a self-probe query (``QueryObserver``), apart from clients' queries.
    public func selfProbeAnswered() { selfProbeQueries.increment() }

    /// Counts a reload whose configuration could not be used: nothing changed, the site is degraded.
    public func recordReloadFailure() {
        reloadsFailed.increment()
        degraded.record(1)
    }

    /// Counts a response rate limiting acted on.
    public func rateLimited(_ action: RateLimitAction, responseClass: ResponseClass) {
        let actionIndex = Self.rateLimitActions.firstIndex { $0.0 == action }!
        rateLimited[actionIndex * ResponseClass.count + Int(responseClass.rawValue) - 1].increment()
    }

    /// Counts a TCP connection closed at once because a cap was reached.
    public func tcpConnectionRefused(perClient: Bool) {
        (perClient ? tcpRefused.perClient : tcpRefused.global).increment()
    }

    /// Records a load or reload: per-zone SOA serial gauges, the reload counter, the degraded flag.
    public func recordLoad(_ reports: [ZoneLoadReport], isReload: Bool) {
        for report in reports {
            let serial: UInt32?
            switch report.outcome {
            case .loaded(let zone, _): serial = zone.serial
            case .failed(_, let kept): serial = kept
            }
            guard let serial else { continue }
            let origin = report.origin.lowercased().description
            let gauge = serials.withLock { gauges in
                if let gauge = gauges[origin] { return gauge }
                let gauge = CoreMetrics.Gauge(
                    label: "anydns_zone_serial", dimensions: [("zone", origin)], factory: factory)
                gauges[origin] = gauge
                return gauge
            }
            gauge.record(Double(serial))
        }
        let failed = reports.contains { !$0.succeeded }
        if isReload { (failed ? reloadsFailed : reloadsSucceeded).increment() }
        degraded.record(failed ? 1 : 0)
    }

    /// One-hot `anydns_state{state=…}` gauges.
    public func record(_ lifecycle: Lifecycle) {
        for (index, name) in Lifecycle.allNames.enumerated() {
            states[index].record(name == lifecycle.name ? 1 : 0)
        }
    }

    /// The Prometheus text exposition.
    public func render() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
