import DNSAuth
import DNSWire
import DNSXfr
import DNSZone
import Dispatch
import Logging

/// Sends NOTIFY (RFC 1996 §3.5-3.7) for a new serial to each configured secondary over UDP,
/// retrying with doubling intervals until the secondary acknowledges or the tries run out
/// (RFC 1996 §3.6: retransmit until acknowledged, with a limit).
final class NotifySender: @unchecked Sendable {
    /// Seconds before the first retry; doubled after each.
    static let firstRetry = 1.0
    static let maxTries = 6

    private let logger: Logger
    private let observer: (any ZoneServiceObserver)?
    private let clock: @Sendable () -> UInt64
    private let queue = DispatchQueue(label: "anydns.notify", attributes: .concurrent)

    init(logger: Logger, observer: (any ZoneServiceObserver)?, clock: @escaping @Sendable () -> UInt64) {
        self.logger = logger
        self.observer = observer
        self.clock = clock
    }

    func notify(zone: Zone, targets: [RemoteServer]) {
        let soa = zone.soaRecord
        for target in targets {
            send(origin: zone.origin, soa: soa, to: target, attempt: 1)
        }
    }

    private func send(origin: DomainName, soa: ResourceRecord, to target: RemoteServer, attempt: Int) {
        queue.async { [self] in
            let id = UInt16.random(in: 0...UInt16.max)
            var signer = target.key.map { TSIGSigner(key: $0) }
            let request = RequestBuilder.make(
                id: id, zone: origin, type: .soa, opcode: .notify, notifySOA: soa, signer: &signer,
                now: clock())
            var problem: String? = nil
            switch DNSClient.exchangeUDP(request, with: target.address, timeout: 2) {
            case .success(let answer):
                if let message = try? ReceivedMessage(answer), message.header.opcode == .notify {
                    if message.rcode != .noError { problem = "answered \(message.rcode)" }
                } else {
                    problem = "malformed answer"
                }
            case .failure(let failure):
                problem = "\(failure)"
            }
            guard let problem else {
                logger.info(
                    "NOTIFY acknowledged",
                    metadata: [
                        "zone": "\(origin)", "serial": "\(soa.soaSerial ?? 0)", "to": "\(target.address)",
                    ])
                observer?.notifySent(acknowledged: true)
                return
            }
            guard attempt < Self.maxTries else {
                logger.warning(
                    "NOTIFY for \(origin) to \(target.address) given up after \(attempt) tries: \(problem)")
                observer?.notifySent(acknowledged: false)
                return
            }
            let delay = Self.firstRetry * Double(1 << (attempt - 1))
            queue.asyncAfter(deadline: .now() + delay) { [self] in
                send(origin: origin, soa: soa, to: target, attempt: attempt + 1)
            }
        }
    }
}
