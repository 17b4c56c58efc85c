import DNSAuth
import DNSResponder
import DNSXfr
import Dispatch
import Logging
import ServingTypes

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Serves DNS over TCP on one bound address (RFC 1035 §4.2.2, RFC 7766).
///
/// Every connection of a listener runs on the listener's serial queue, so connections share one
/// ``ResponderScratch`` without locks. Sockets are non-blocking: a client that sends slowly or
/// reads slowly only ever costs a buffer, never a thread, and never delays the UDP listeners,
/// which have queues of their own.
final class TCPListener: @unchecked Sendable {
    let address: ListenAddress
    private let fd: Int32
    let queue: DispatchQueue
    private let acceptSource: DispatchSourceRead
    private let sweepTimer: DispatchSourceTimer
    fileprivate let context: ServingContext
    fileprivate let scratch = ResponderScratch()
    /// Where connections read into; they all run on ``queue``, so one buffer serves them all.
    fileprivate let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)
    private var connections: [Int32: TCPConnection] = [:]
    /// Open connections per client address, for the per-client cap.
    private var connectionsPerClient: [IPAddress: Int] = [:]
    /// The bound address: the local address of every query on this listener.
    fileprivate let local: IPAddress?

    init(address: ListenAddress, context: ServingContext) throws(SocketError) {
        self.address = address
        self.context = context
        local = IPAddress(address.host)
        fd = try openBoundSocket(address, type: Int32(SOCK_STREAM.rawValue))
        guard listen(fd, 256) == 0 else {
            let code = errno
            close(fd)
            throw SocketError(address: address, call: "listen on", errno: code)
        }
        queue = DispatchQueue(label: "anydns.tcp.\(address)")
        acceptSource = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        sweepTimer = DispatchSource.makeTimerSource(queue: queue)
        let fd = self.fd
        acceptSource.setEventHandler { [unowned self] in self.acceptPending() }
        let readBuffer = self.readBuffer
        acceptSource.setCancelHandler {
            close(fd)
            readBuffer.deallocate()
        }
        // The check interval follows the idle timeout at start; a reload that changes the
        // timeout is applied at the next check.
        let interval = max(0.25, min(1.0, context.settings.current.limits.tcpIdleTimeout / 4))
        sweepTimer.schedule(deadline: .now() + interval, repeating: interval)
        sweepTimer.setEventHandler { [unowned self] in self.closeIdle() }
    }

    func start() {
        acceptSource.resume()
        sweepTimer.resume()
    }

    /// Releases a listener that was never started (a later address failed to bind): a suspended
    /// Dispatch source must be resumed before it can finish cancelling.
    func discard() {
        acceptSource.cancel()
        sweepTimer.cancel()
        acceptSource.resume()
        sweepTimer.resume()
    }

    func stop() {
        queue.sync {
            acceptSource.cancel()
            sweepTimer.cancel()
            for connection in connections.values { connection.close() }
            connections.removeAll()
            connectionsPerClient.removeAll()
        }
    }

    private func acceptPending() {
        while true {
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let accepted = withUnsafeMutablePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    systemCall { Int(accept(fd, address, &peerLength)) }
                }
            }
            guard case .done(let client) = accepted else { return }
            let peerAddress =
                withUnsafeBytes(of: &peer) { IPAddress(socketAddress: $0.baseAddress!) } ?? .v4(0)
            let clientFD = Int32(client)
            _ = fcntl(clientFD, F_SETFL, fcntl(clientFD, F_GETFL) | O_NONBLOCK)
            _ = fcntl(clientFD, F_SETFD, FD_CLOEXEC)
            let limits = context.settings.current.limits
            guard connections.count < limits.maxTCPConnections else {
                context.logger.debug("TCP connection limit reached", metadata: ["listener": "\(address)"])
                close(clientFD)
                context.observer?.tcpConnectionRefused(client: peerAddress, perClient: false)
                continue
            }
            // One client never holds more than its share (RFC 7766 §6.2.2).
            let clientKey = Self.clientKey(peerAddress)
            let open = connectionsPerClient[clientKey, default: 0]
            guard open < limits.maxTCPConnectionsPerClient else {
                close(clientFD)
                context.observer?.tcpConnectionRefused(client: peerAddress, perClient: true)
                continue
            }
            connectionsPerClient[clientKey] = open + 1
            let connection = TCPConnection(fd: clientFD, peer: peerAddress, listener: self, queue: queue)
            connections[clientFD] = connection
            connection.start()
        }
    }

    fileprivate func forget(_ fd: Int32, peer: IPAddress) {
        guard connections.removeValue(forKey: fd) != nil else { return }
        let client = Self.clientKey(peer)
        let open = connectionsPerClient[client, default: 1] - 1
        connectionsPerClient[client] = open > 0 ? open : nil
    }

    /// Who counts as one client for the per-client cap: an IPv4 address, or an IPv6 /64 (one
    /// host usually has a whole /64 to pick addresses from, RFC 4291 §2.5.1).
    private static func clientKey(_ peer: IPAddress) -> IPAddress {
        guard case .v6 = peer else { return peer }
        return AddressPrefix(address: peer, length: 64)!.address
    }

    private func closeIdle() {
        let now = DispatchTime.now().uptimeNanoseconds
        let limit = UInt64(context.settings.current.limits.tcpIdleTimeout * 1e9)
        for connection in connections.values where now &- connection.lastActivity > limit {
            connection.close()
        }
    }
}

/// One TCP client: reads length-prefixed queries (RFC 1035 §4.2.2), answers each as soon as it is
/// complete — several per connection, pipelined (RFC 7766 §6.2.1.1) — and queues what the socket
/// cannot take yet. All methods run on the listener's queue.
private final class TCPConnection: @unchecked Sendable {
    let fd: Int32
    let peer: IPAddress
    unowned let listener: TCPListener
    private let readSource: DispatchSourceRead
    private let writeSource: DispatchSourceWrite
    private var writeSourceRunning = false
    private var readSourceRunning = false
    private var input: [UInt8] = []
    private var output: [UInt8] = []
    private var closed = false
    private var peerFinished = false
    /// An outgoing zone transfer being streamed; queries read meanwhile wait for it to end.
    private var transfer: TransferProducer? = nil
    /// A chunk of the transfer is being made on ``transferQueue``.
    private var producing = false
    /// Where transfer messages are made, off the listener's queue, so a large transfer never
    /// holds up the other TCP clients of the listener (each connection has one chunk in flight).
    static let transferQueue = DispatchQueue(
        label: "anydns.transfers.out", qos: .utility, attributes: .concurrent)
    var lastActivity = DispatchTime.now().uptimeNanoseconds
    /// Output kept queued while a transfer streams: enough to keep the socket busy, small
    /// enough that a transfer of any size costs a connection little memory.
    static let transferLowWater = 256 * 1024

    init(fd: Int32, peer: IPAddress, listener: TCPListener, queue: DispatchQueue) {
        self.fd = fd
        self.peer = peer
        self.listener = listener
        readSource = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        writeSource = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        input.reserveCapacity(4096)
    }

    func start() {
        readSource.setEventHandler { [self] in readAvailable() }
        writeSource.setEventHandler { [self] in flush() }
        let fd = self.fd
        readSource.setCancelHandler { closeDescriptor(fd) }
        readSource.resume()
        readSourceRunning = true
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let transfer {
            self.transfer = nil
            listener.context.observer?.transferFinished(transfer, completed: false)
        }
        if !writeSourceRunning { writeSource.resume() }  // a suspended source cannot finish cancelling
        writeSource.cancel()
        if !readSourceRunning { readSource.resume() }
        readSource.cancel()  // its cancel handler closes the descriptor
        listener.forget(fd, peer: peer)
    }

    /// Reads what the client sent (up to 64 KiB per call into the listener's shared buffer) and
    /// answers every complete query in it.
    private func readAvailable() {
        let buffer = listener.readBuffer
        while !closed {
            switch systemCall({ read(fd, buffer.baseAddress, buffer.count) }) {
            case .done(0):
                peerFinished = true
                if output.isEmpty { close() }
                return
            case .done(let count):
                input.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                answerCompleteQueries()
                if output.count > listener.context.settings.current.limits.maxPendingOutput {
                    readSource.suspend()  // backpressure: resumed when the client has read its answers
                    readSourceRunning = false
                    return
                }
                if count < buffer.count { return }  // drained: the next read would block
            case .wouldBlock:
                return
            case .failed:
                close()
                return
            }
        }
    }

    /// Answers every complete query in the input, frames the responses one after another in the
    /// output, and sends them together: one write(2) for all the queries a read brought.
    private func answerCompleteQueries() {
        var consumed = 0
        let zones = listener.context.store.snapshot
        let responder = listener.context.settings.current.responder
        let context = QueryContext(
            transport: .tcp, client: peer, local: listener.local, now: UInt64(time(nil)))
        while transfer == nil && input.count - consumed >= 2 {
            let length = Int(input[consumed]) << 8 | Int(input[consumed + 1])
            guard input.count - consumed - 2 >= length else { break }
            let response = input.withUnsafeBytes { bytes in
                responder.respond(
                    to: UnsafeRawBufferPointer(rebasing: bytes[(consumed + 2)..<(consumed + 2 + length)]),
                    context: context, zones: zones, scratch: listener.scratch)
            }
            listener.context.observer?.answered(transport: .tcp, response: response)
            if let followUp = response?.followUp {
                if case .transfer(let request) = followUp {
                    consumed += 2 + length
                    transfer = TransferProducer(request)
                    break
                }
                listener.context.observer?.followUp(followUp)
            }
            consumed += 2 + length
            guard let response else {
                // A message that must not be answered (QR=1): close like NSD does.
                input.removeAll()
                close()
                return
            }
            output.append(UInt8(truncatingIfNeeded: response.bytes.count >> 8))
            output.append(UInt8(truncatingIfNeeded: response.bytes.count))
            output.append(contentsOf: response.bytes)
        }
        guard consumed > 0 else { return }
        lastActivity = DispatchTime.now().uptimeNanoseconds
        input.removeFirst(consumed)
        if !writeSourceRunning { flush() }  // else the write source sends it when there is room
        produceTransferChunk()
    }

    /// Lets the write source call ``flush()`` when the socket has room again.
    private func waitForRoom() {
        if !writeSourceRunning {
            writeSource.resume()
            writeSourceRunning = true
        }
    }

    /// Asks ``transferQueue`` for the next ``transferLowWater`` octets of the transfer when the
    /// output has drained below that; the chunk is appended and sent back on the listener's
    /// queue. Reading (and answering queued queries) resumes when the transfer is complete.
    private func produceTransferChunk() {
        guard let producer = transfer, !producing, !closed, output.count < Self.transferLowWater else {
            return
        }
        producing = true
        let queue = listener.queue
        Self.transferQueue.async { [self] in
            var chunk: [UInt8] = []
            chunk.reserveCapacity(Self.transferLowWater + 65_537)
            while chunk.count < Self.transferLowWater, let message = producer.nextMessage() {
                chunk.append(UInt8(truncatingIfNeeded: message.count >> 8))
                chunk.append(UInt8(truncatingIfNeeded: message.count))
                chunk.append(contentsOf: message)
            }
            let finished = producer.finished
            queue.async { [self, chunk] in
                producing = false
                guard !closed, transfer === producer else { return }
                output.append(contentsOf: chunk)
                lastActivity = DispatchTime.now().uptimeNanoseconds
                if finished {
                    transfer = nil
                    listener.context.observer?.transferFinished(producer, completed: true)
                }
                if !writeSourceRunning { flush() }
            }
        }
    }

    /// Writes as much of the output as the socket takes; the write source waits for room for the
    /// rest.
    private func flush() {
        guard !output.isEmpty else { return pauseWriting() }
        let outcome = output.withUnsafeBytes { bytes in
            systemCall { write(fd, bytes.baseAddress, bytes.count) }
        }
        switch outcome {
        case .done(let count):
            lastActivity = DispatchTime.now().uptimeNanoseconds
            output.removeFirst(count)
            if output.isEmpty { pauseWriting() } else { waitForRoom() }
        case .wouldBlock:
            waitForRoom()
        case .failed:
            close()
        }
    }

    private func pauseWriting() {
        if transfer != nil {
            // The socket took everything: the next chunk of the transfer is sent when it is made.
            if writeSourceRunning {
                writeSource.suspend()
                writeSourceRunning = false
            }
            return produceTransferChunk()
        }
        if transfer == nil && input.count >= 2 && !closed {
            answerCompleteQueries()  // queries that arrived during a transfer
            if !output.isEmpty { return }
        }
        if writeSourceRunning {
            writeSource.suspend()
            writeSourceRunning = false
        }
        if peerFinished {
            close()
        } else if !readSourceRunning && !closed {
            readSource.resume()
            readSourceRunning = true
        }
    }
}

/// `close(2)`, named apart from the connection's own `close()`.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
