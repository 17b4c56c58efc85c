import DNSResponder
import Dispatch
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Serves DNS over UDP on one bound address (RFC 1035 §4.2.1) from a Dispatch read source.
///
/// Each listener owns a serial queue, a receive buffer and a ``ResponderScratch``, so a packet is
/// read, answered and sent without locks or allocation. Binding one socket per address makes the
/// reply leave from the address the query was sent to (SPEC.md §4).
final class UDPListener: @unchecked Sendable {
    /// Datagrams handled per wake-up before yielding the queue to other work.
    static let batch = 64

    let address: ListenAddress
    private let fd: Int32
    let queue: DispatchQueue
    private let source: DispatchSourceRead
    private let context: ServingContext
    private let scratch = ResponderScratch()
    private let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)

    init(address: ListenAddress, context: ServingContext) throws(SocketError) {
        self.address = address
        self.context = context
        fd = try openBoundSocket(address, type: Int32(SOCK_DGRAM.rawValue))
        queue = DispatchQueue(label: "anydns.udp.\(address)")
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        let fd = self.fd
        let buffer = receiveBuffer
        source.setEventHandler { [unowned self] in self.drain() }
        source.setCancelHandler {
            close(fd)
            buffer.deallocate()
        }
    }

    func start() { source.resume() }

    func stop() { source.cancel() }

    private func drain() {
        let zones = context.store.snapshot
        var peer = sockaddr_storage()
        for _ in 0..<Self.batch {
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let received = withUnsafeMutablePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { peerAddress in
                    systemCall {
                        recvfrom(
                            fd, receiveBuffer.baseAddress, receiveBuffer.count, 0, peerAddress, &peerLength)
                    }
                }
            }
            guard case .done(let count) = received else {
                if case .failed(let code) = received {
                    context.logger.debug(
                        "recvfrom failed", metadata: ["listener": "\(address)", "errno": "\(code)"])
                }
                return
            }
            let query = UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count])
            let response = context.responder.respond(
                to: query, transport: .udp, zones: zones, scratch: scratch)
            context.observer?.answered(transport: .udp, response: response)
            guard let response else { continue }
            _ = withUnsafePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { peerAddress in
                    systemCall {
                        sendto(
                            fd, response.bytes.baseAddress, response.bytes.count, 0, peerAddress, peerLength)
                    }
                }
            }
        }
    }
}
