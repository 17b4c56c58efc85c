import DNSResponder
import Dispatch
import Logging

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
    private var connections: [Int32: TCPConnection] = [:]

    init(address: ListenAddress, context: ServingContext) throws(SocketError) {
        self.address = address
        self.context = context
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
        acceptSource.setCancelHandler { close(fd) }
        let interval = max(0.25, min(1.0, context.limits.tcpIdleTimeout / 4))
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
        }
    }

    private func acceptPending() {
        while true {
            let accepted = systemCall { Int(accept(fd, nil, nil)) }
            guard case .done(let client) = accepted else { return }
            let clientFD = Int32(client)
            _ = fcntl(clientFD, F_SETFL, fcntl(clientFD, F_GETFL) | O_NONBLOCK)
            _ = fcntl(clientFD, F_SETFD, FD_CLOEXEC)
            guard connections.count < context.limits.maxTCPConnections else {
                context.logger.debug("TCP connection limit reached", metadata: ["listener": "\(address)"])
                close(clientFD)
                continue
            }
            let connection = TCPConnection(fd: clientFD, listener: self, queue: queue)
            connections[clientFD] = connection
            connection.start()
        }
    }

    fileprivate func forget(_ fd: Int32) {
        connections[fd] = nil
    }

    private func closeIdle() {
        let now = DispatchTime.now().uptimeNanoseconds
        let limit = UInt64(context.limits.tcpIdleTimeout * 1e9)
        for connection in connections.values where now &- connection.lastActivity > limit {
            connection.close()
        }
    }
}

/// One TCP client: reads length-prefixed queries (RFC 1035 §4.2.2), answers each as soon as it is
/// complete — several per connection, pipelined (RFC 7766 §6.2.1.1) — and queues what the socket
/// cannot take yet. All methods run on the listener's queue.
private final class TCPConnection {
    let fd: Int32
    unowned let listener: TCPListener
    private let readSource: DispatchSourceRead
    private let writeSource: DispatchSourceWrite
    private var writeSourceRunning = false
    private var readSourceRunning = false
    private var input: [UInt8] = []
    private var output: [UInt8] = []
    private var closed = false
    private var peerFinished = false
    var lastActivity = DispatchTime.now().uptimeNanoseconds

    init(fd: Int32, listener: TCPListener, queue: DispatchQueue) {
        self.fd = fd
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
        if !writeSourceRunning { writeSource.resume() }  // a suspended source cannot finish cancelling
        writeSource.cancel()
        if !readSourceRunning { readSource.resume() }
        readSource.cancel()  // its cancel handler closes the descriptor
        listener.forget(fd)
    }

    private func readAvailable() {
        var chunk = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while !closed {
            let outcome = withUnsafeMutableBytes(of: &chunk) { buffer in
                systemCall { read(fd, buffer.baseAddress, buffer.count) }
            }
            switch outcome {
            case .done(0):
                peerFinished = true
                if output.isEmpty { close() }
                return
            case .done(let count):
                withUnsafeBytes(of: &chunk) { input.append(contentsOf: $0[0..<count]) }
                answerCompleteQueries()
                if output.count > listener.context.limits.maxPendingOutput {
                    readSource.suspend()  // backpressure: resumed when the client has read its answers
                    readSourceRunning = false
                    return
                }
            case .wouldBlock:
                return
            case .failed:
                close()
                return
            }
        }
    }

    private func answerCompleteQueries() {
        var consumed = 0
        let zones = listener.context.store.snapshot
        while input.count - consumed >= 2 {
            let length = Int(input[consumed]) << 8 | Int(input[consumed + 1])
            guard input.count - consumed - 2 >= length else { break }
            lastActivity = DispatchTime.now().uptimeNanoseconds
            let response = input.withUnsafeBytes { bytes in
                listener.context.responder.respond(
                    to: UnsafeRawBufferPointer(rebasing: bytes[(consumed + 2)..<(consumed + 2 + length)]),
                    transport: .tcp, zones: zones, scratch: listener.scratch)
            }
            listener.context.observer?.answered(transport: .tcp, response: response)
            consumed += 2 + length
            if let response {
                send(response.bytes)
            } else {
                // A message that must not be answered (QR=1): close like NSD does.
                input.removeAll()
                close()
                return
            }
        }
        if consumed > 0 { input.removeFirst(consumed) }
    }

    /// Sends one framed response, queueing what the socket does not take now.
    private func send(_ message: UnsafeRawBufferPointer) {
        var prefix = UInt16(message.count).bigEndian
        if output.isEmpty {
            let sent = withUnsafeMutableBytes(of: &prefix) { prefixBytes -> IOOutcome in
                var vectors = [
                    iovec(iov_base: prefixBytes.baseAddress, iov_len: 2),
                    iovec(
                        iov_base: UnsafeMutableRawPointer(mutating: message.baseAddress),
                        iov_len: message.count),
                ]
                return systemCall { writev(fd, &vectors, 2) }
            }
            switch sent {
            case .done(let count) where count == message.count + 2:
                return
            case .done(let count):
                withUnsafeBytes(of: &prefix) { output.append(contentsOf: $0) }
                output.append(contentsOf: message)
                output.removeFirst(count)
            case .wouldBlock:
                withUnsafeBytes(of: &prefix) { output.append(contentsOf: $0) }
                output.append(contentsOf: message)
            case .failed:
                close()
                return
            }
            if !writeSourceRunning {
                writeSource.resume()
                writeSourceRunning = true
            }
        } else {
            withUnsafeBytes(of: &prefix) { output.append(contentsOf: $0) }
            output.append(contentsOf: message)
        }
    }

    private func flush() {
        guard !output.isEmpty else { return pauseWriting() }
        let outcome = output.withUnsafeBytes { bytes in
            systemCall { write(fd, bytes.baseAddress, bytes.count) }
        }
        switch outcome {
        case .done(let count):
            lastActivity = DispatchTime.now().uptimeNanoseconds
            output.removeFirst(count)
            if output.isEmpty { pauseWriting() }
        case .wouldBlock:
            return
        case .failed:
            close()
        }
    }

    private func pauseWriting() {
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
