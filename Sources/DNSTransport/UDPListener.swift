import CAnydnsSystem
import DNSAuth
import DNSResponder
import DNSZone
import Dispatch
import Logging
import ServingTypes

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One UDP worker on one bound address (RFC 1035 §4.2.1): a socket, a Dispatch read source on its
/// own serial queue, a datagram batch and a ``ResponderScratch``.
///
/// Each wake-up receives up to ``batch`` datagrams with one recvmmsg(2), answers them in place and
/// sends every reply with one sendmmsg(2); nothing is allocated or locked per packet. Several
/// workers on the same address share it through SO_REUSEPORT, and the kernel spreads clients
/// over them. Binding one socket per address makes the reply leave from the address the query
/// was sent to (README "Management HTTP").
final class UDPListener: @unchecked Sendable {
    /// Datagrams received per system call.
    static let batch: UInt32 = 64
    /// Batches answered per wake-up before the queue is handed back to Dispatch.
    static let batchesPerWakeUp = 16
    /// Room per datagram: the largest UDP payload, so no query is cut short.
    static let datagramCapacity = 65_536

    let address: ListenAddress
    private let fd: Int32
    let queue: DispatchQueue
    private let source: DispatchSourceRead
    private let context: ServingContext
    /// The bound address: the local address of every query this worker answers.
    private let local: IPAddress?
    private let scratch = ResponderScratch()
    private let datagrams: OpaquePointer

    init(address: ListenAddress, worker: Int, sharedPort: Bool, context: ServingContext) throws(SocketError) {
        self.address = address
        self.context = context
        local = IPAddress(address.host)
        fd = try openBoundSocket(address, type: Int32(SOCK_DGRAM.rawValue), reusePort: sharedPort)
        guard let datagrams = anydns_batch_create(Self.batch, Self.datagramCapacity) else {
            close(fd)
            throw SocketError(address: address, call: "allocate datagram buffers for", errno: ENOMEM)
        }
        self.datagrams = datagrams
        queue = DispatchQueue(label: "anydns.udp.\(address).\(worker)")
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        let fd = self.fd
        source.setEventHandler { [unowned self] in self.drain() }
        source.setCancelHandler {
            close(fd)
            anydns_batch_destroy(datagrams)
        }
    }

    func start() { source.resume() }

    func stop() { source.cancel() }

    /// Releases a listener that was never started (a later address failed to bind): a suspended
    /// Dispatch source must be resumed before it can finish cancelling.
    func discard() {
        source.cancel()
        source.resume()
    }

    /// Answers batches until the socket is empty (or ``batchesPerWakeUp`` were answered); the
    /// zones are read once per batch, so a reload is seen even under a flood.
    private func drain() {
        for _ in 0..<Self.batchesPerWakeUp {
            let received = anydns_batch_receive(datagrams, fd)
            guard received > 0 else {
                if received < 0 {
                    context.logger.debug(
                        "recvmmsg failed", metadata: ["listener": "\(address)", "errno": "\(errno)"])
                }
                return
            }
            let zones = context.store.snapshot
            let settings = context.settings.current
            let now = UInt64(time(nil))
            let underLoad = settings.loadMeter.add(Int(received), now: now)
            for index in 0..<UInt32(received) {
                answer(index, responder: settings.responder, zones: zones, now: now, underLoad: underLoad)
            }
            anydns_batch_send(datagrams, fd)
            // No early return on a short batch: queries that arrived while this one was answered
            // are read now, which is cheaper than the next Dispatch wake-up.
        }
    }

    /// Answers datagram `index` and queues the reply in the same slot.
    @inline(__always)
    private func answer(_ index: UInt32, responder: Responder, zones: ZoneSet, now: UInt64, underLoad: Bool) {
        var length = 0
        guard let bytes = anydns_batch_datagram(datagrams, index, &length) else {
            context.observer?.answered(transport: .udp, response: nil)  // longer than any query
            return
        }
        let query = UnsafeRawBufferPointer(start: bytes, count: length)
        let peer = anydns_batch_peer(datagrams, index)!
        let client = IPAddress(socketAddress: peer) ?? .v4(0)
        let response = responder.respond(
            to: query,
            context: QueryContext(
                transport: .udp, client: client, local: local, now: now, underLoad: underLoad),
            zones: zones, scratch: scratch)
        if context.selfProbe.isProbe(peer, client: client, local: local) {
            context.observer?.selfProbeAnswered()
        } else {
            context.observer?.answered(transport: .udp, response: response)
        }
        if let followUp = response?.followUp { context.observer?.followUp(followUp) }
        // A DNS message is at most 65,535 octets, so the reply always fits the slot. A response
        // dropped by rate limiting is empty.
        guard let response, response.bytes.count > 0 else { return }
        UnsafeMutableRawPointer(bytes).copyMemory(
            from: response.bytes.baseAddress!, byteCount: response.bytes.count)
        anydns_batch_queue_reply(datagrams, index, response.bytes.count)
    }
}
