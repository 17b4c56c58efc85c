import DNSAuth
import DNSTransport
import DNSWire
import DNSZone
import Dispatch
import Foundation
import Logging
import ServingTypes
import ZoneLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Sends real DNS queries to our own anycast listeners (README "Management HTTP"): for every target and every
/// configured zone, an SOA query over UDP that must come back NOERROR, AA=1, with the SOA of
/// exactly the serial being served. One round's outcome goes to the ``HealthMonitor``.
///
/// The queries leave from one socket per address family kept for the probe's life; its ports
/// are registered with ``SelfProbeSource`` so the DNS workers count them apart from clients'.
public final class SelfProbe: @unchecked Sendable {
    private let targets: [ListenAddress]
    private let store: ZoneStore
    private let monitor: HealthMonitor
    private let client = FixedPortUDPClient()
    private let timer: DispatchSourceTimer
    private let queue = DispatchQueue(label: "anydns.self-probe")
    /// What a reload may change; read and written on ``queue`` only.
    private var zones: [DomainName]
    private var timeout: TimeInterval

    public init(
        targets: [ListenAddress], zones: [DomainName], store: ZoneStore, monitor: HealthMonitor,
        interval: TimeInterval, timeout: TimeInterval, source: SelfProbeSource = SelfProbeSource()
    ) {
        self.targets = targets
        self.zones = zones
        self.store = store
        self.monitor = monitor
        self.timeout = timeout
        source.register(ipv4Port: client.ports.v4, ipv6Port: client.ports.v6)
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now(), repeating: interval)
        timer.setEventHandler { [unowned self] in monitor.record(self.runRound()) }
    }

    public func start() { timer.resume() }

    public func stop() { timer.cancel() }

    /// A reload: the zones to probe, the interval and the per-query timeout, from the next round on.
    public func reconfigure(zones: [DomainName], interval: TimeInterval, timeout: TimeInterval) {
        queue.async {
            self.zones = zones
            self.timeout = timeout
            self.timer.schedule(deadline: .now() + interval, repeating: interval)
        }
    }

    /// Probes every target for every zone; the round fails at the first wrong answer.
    public func runRound() -> ProbeRound {
        let (zones, timeout) = (self.zones, self.timeout)
        let snapshot = store.snapshot
        guard !targets.isEmpty else {
            return ProbeRound(finishedAt: Date(), succeeded: false, detail: "no listener to probe")
        }
        for target in targets {
            for origin in zones {
                guard let zone = snapshot.zone(named: origin) else {
                    return ProbeRound(
                        finishedAt: Date(), succeeded: false, detail: "zone \(origin) not loaded")
                }
                if let problem = probe(target, origin: origin, expectedSerial: zone.serial, timeout: timeout)
                {
                    return ProbeRound(
                        finishedAt: Date(), succeeded: false, detail: "SOA \(origin) at \(target): \(problem)"
                    )
                }
            }
        }
        return ProbeRound(
            finishedAt: Date(), succeeded: true,
            detail: "\(zones.count) zone(s) at \(targets.count) listener(s)")
    }

    /// One SOA query; `nil` when the answer is right, otherwise what was wrong.
    func probe(_ target: ListenAddress, origin: DomainName, expectedSerial: UInt32, timeout: TimeInterval)
        -> String?
    {
        let id = UInt16.random(in: 0...UInt16.max)
        var query: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        query += origin.wire + [0, 6, 0, 1]
        guard case .success(let reply) = client.exchange(query, with: target, timeout: timeout) else {
            return "no answer within \(timeout) s"
        }
        return reply.withUnsafeBytes { bytes -> String? in
            guard let header = DNSHeader(bytes), header.id == id, header.isResponse else {
                return "malformed answer"
            }
            guard header.rcodeBits == 0 else { return "rcode \(RCode(rawValue: UInt16(header.rcodeBits)))" }
            guard header.has(DNSHeader.Flag.aa) else { return "not authoritative" }
            guard header.answerCount >= 1 else { return "no SOA in the answer" }
            var reader = WireReader(bytes, offset: DNSHeader.length)
            do {
                try reader.readName(into: nil)
                try reader.skip(4)
                try reader.readName(into: nil)
                guard RecordType(rawValue: try reader.readUInt16()) == .soa else {
                    return "first answer is not an SOA"
                }
                try reader.skip(8)  // class, TTL, RDLENGTH
                try reader.readName(into: nil)
                try reader.readName(into: nil)
                let serial = try reader.readUInt32()
                return serial == expectedSerial ? nil : "serial \(serial), serving \(expectedSerial)"
            } catch {
                return "malformed answer: \(error)"
            }
        }
    }
}
