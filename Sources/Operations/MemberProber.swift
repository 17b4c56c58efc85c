import DNSAuth
import DNSTransport
import DNSWire
import Dispatch
import Foundation
import Logging
import Members
import ServingTypes
import Synchronization
import ZoneLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps the member table honest, off the query path (README "Anycast services"): once a
/// second it drops members whose lease ran out, and probes each member when its service's probe
/// interval has passed (a TCP connect to the service's port, or an ICMP echo), marking it
/// reachable or not; a member that answers again is brought back.
public final class MemberProber: @unchecked Sendable {
    private let table: MemberTable
    private let logger: Logger
    private let queue = DispatchQueue(label: "anydns.member-probe")
    private let probes = DispatchQueue(label: "anydns.member-probe.connect", attributes: .concurrent)
    private let timer: DispatchSourceTimer
    /// When each member (service index, name) was last probed; touched on ``queue`` only.
    private var lastProbe: [String: Double] = [:]
    private var inFlight: Set<String> = []

    public init(table: MemberTable, logger: Logger) {
        self.table = table
        self.logger = logger
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now(), repeating: 1)
        timer.setEventHandler { [unowned self] in self.tick() }
    }

    public func start() { timer.resume() }

    public func stop() { timer.cancel() }

    /// A member joined: probe it now rather than at the next interval.
    public func probeNew() { queue.async { self.tick() } }

    /// `join www a1 192.0.2.10`-style text of a change, for the log.
    public static func describe(_ change: MemberChange) -> String {
        switch change.operation {
        case .addAddress(let address): "\(change.member) add \(address)"
        case .deleteAddress(let address): "\(change.member) delete \(address)"
        case .deleteAddresses(let ipv6): "\(change.member) delete \(ipv6 ? "AAAA" : "A")"
        case .setSessions(let count): "\(change.member) sessions=\(count)"
        case .clearSessions: "\(change.member) delete TXT"
        case .deleteMember: "\(change.member) leave"
        }
    }

    private func tick() {
        for dropped in table.expire() {
            logger.notice("member dropped: no report within the lease", metadata: ["member": "\(dropped)"])
        }
        let now = ProcessInfo.processInfo.systemUptime
        let snapshot = table.snapshot
        var current: Set<String> = []
        for (index, service) in snapshot.services.enumerated() {
            for member in snapshot.members[index] {
                let key = "\(index) \(member.name)"
                current.insert(key)
                guard !inFlight.contains(key), now - (lastProbe[key] ?? -.infinity) >= service.probeInterval
                else { continue }
                let addresses = member.ipv4 + member.ipv6
                guard !addresses.isEmpty else { continue }
                lastProbe[key] = now
                inFlight.insert(key)
                probes.async {
                    let reachable = Self.probe(
                        service.probe, addresses: addresses, timeout: min(1, service.probeInterval))
                    self.queue.async {
                        self.inFlight.remove(key)
                        if self.table.setReachable(service: index, member: member.name, reachable) {
                            let text = reachable ? "member reachable again" : "member unreachable"
                            self.logger.notice(
                                "\(text)",
                                metadata: [
                                    "service": "\(service.name)", "member": "\(member.name)",
                                    "probe": "\(MemberReport.describe(service.probe))",
                                ])
                        }
                    }
                }
            }
        }
        lastProbe = lastProbe.filter { current.contains($0.key) }
    }

    /// Whether any of `addresses` answers the probe.
    static func probe(_ probe: MemberService.Probe, addresses: [IPAddress], timeout: Double) -> Bool {
        switch probe {
        case .none: return true
        case .tcp(let port):
            return addresses.contains {
                DNSClient.acceptsTCP(ListenAddress(host: $0.description, port: port), timeout: timeout)
            }
        case .icmp: return addresses.contains { ICMPEcho.answers($0, timeout: timeout) }
        }
    }
}

/// ICMP echo (RFC 792, RFC 4443) through a ping socket (SOCK_DGRAM, allowed by the
/// net.ipv4.ping_group_range sysctl) or, failing that, a raw socket (CAP_NET_RAW).
enum ICMPEcho {
    static func answers(_ address: IPAddress, timeout: Double) -> Bool {
        let v6 = address.isIPv6
        let family = v6 ? AF_INET6 : AF_INET
        let proto = Int32(v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)
        var fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
        var raw = false
        if fd < 0 {
            fd = socket(family, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
            raw = true
        }
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let identifier = UInt16.random(in: 1...UInt16.max)
        // Type 8 (echo request) or 128 (ICMPv6), code 0, checksum, identifier, sequence 1.
        var packet: [UInt8] = [v6 ? 128 : 8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xFF), 0, 1]
        packet += Array("anydns".utf8)
        if !v6 {
            let sum = checksum(packet)
            packet[2] = UInt8(sum >> 8)
            packet[3] = UInt8(sum & 0xFF)
        }
        guard var (storage, length) = ListenAddress(host: address.description, port: 0).socketAddress() else {
            return false
        }
        let sent = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, target, length) }
            }
        }
        guard sent == packet.count else { return false }
        let deadline = ProcessInfo.processInfo.systemUptime + timeout
        var buffer = [UInt8](repeating: 0, count: 1500)
        while true {
            let left = deadline - ProcessInfo.processInfo.systemUptime
            guard left > 0 else { return false }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(left * 1000) + 1) == 1 else { return false }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            // A raw IPv4 socket hands over the IP header too.
            let start = raw && !v6 ? Int(buffer[0] & 0x0F) * 4 : 0
            guard count >= start + 8 else { continue }
            let reply = v6 ? UInt8(129) : UInt8(0)
            // A ping socket rewrites the identifier to its own port: accept any echo reply there.
            if buffer[start] == reply
                && (!raw || (UInt16(buffer[start + 4]) << 8 | UInt16(buffer[start + 5])) == identifier)
            {
                return true
            }
        }
    }

    /// The Internet checksum (RFC 1071).
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
