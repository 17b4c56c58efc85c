import DNSAuth

#if canImport(Glibc)
    import Glibc
#endif

/// Sends requests to other servers (primaries, secondaries) and reads their answers, over UDP
/// or TCP (RFC 1035 §4.2), with non-blocking sockets and a deadline for the whole exchange.
/// Runs on the zone service's transfer queue, never on a DNS worker.
public enum DNSClient {
    public struct Failure: Error, CustomStringConvertible {
        public var remote: ListenAddress
        public var message: String
        public var description: String { "\(remote): \(message)" }
    }

    /// One datagram out, the first datagram back whose ID matches.
    public static func exchangeUDP(_ request: [UInt8], with remote: ListenAddress, timeout: Double) -> Result<
        [UInt8], Failure
    > {
        let deadline = monotonicNow() + timeout
        let fd: Int32
        do {
            fd = try connectedSocket(remote, type: Int32(SOCK_DGRAM.rawValue), deadline: deadline).get()
        } catch { return .failure(error) }
        defer { close(fd) }
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
            return .failure(Failure(remote: remote, message: "send: \(String(cString: strerror(errno)))"))
        }
        var buffer = [UInt8](repeating: 0, count: 65_535)
        while true {
            guard waitFor(fd, events: Int16(POLLIN), until: deadline) else {
                return .failure(Failure(remote: remote, message: "no answer within \(timeout) s"))
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return .failure(
                    Failure(remote: remote, message: "receive: \(String(cString: strerror(errno)))"))
            }
            if count >= 2 && buffer[0] == request[0] && buffer[1] == request[1] {
                return .success(Array(buffer[0..<count]))
            }
        }
    }

    /// Sends one request over TCP and hands each answer message to `onMessage` until it returns
    /// false (the answer is complete) or the deadline passes.
    static func exchangeTCP(
        _ request: [UInt8], with remote: ListenAddress, timeout: Double, onMessage: ([UInt8]) -> Bool
    ) -> Result<Void, Failure> {
        let deadline = monotonicNow() + timeout
        let fd: Int32
        do {
            fd = try connectedSocket(remote, type: Int32(SOCK_STREAM.rawValue), deadline: deadline).get()
        } catch { return .failure(error) }
        defer { close(fd) }
        var framed = [UInt8(request.count >> 8), UInt8(request.count & 0xFF)] + request
        while !framed.isEmpty {
            guard waitFor(fd, events: Int16(POLLOUT), until: deadline) else {
                return .failure(Failure(remote: remote, message: "cannot send within \(timeout) s"))
            }
            let sent = framed.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return .failure(Failure(remote: remote, message: "send: \(String(cString: strerror(errno)))"))
            }
            framed.removeFirst(sent)
        }
        var input: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            while input.count >= 2 {
                let length = Int(input[0]) << 8 | Int(input[1])
                guard input.count >= 2 + length else { break }
                let message = Array(input[2..<(2 + length)])
                input.removeFirst(2 + length)
                if !onMessage(message) { return .success(()) }
            }
            guard waitFor(fd, events: Int16(POLLIN), until: deadline) else {
                return .failure(Failure(remote: remote, message: "answer incomplete after \(timeout) s"))
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 {
                return .failure(
                    Failure(remote: remote, message: "connection closed before the answer was complete"))
            }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return .failure(
                    Failure(remote: remote, message: "receive: \(String(cString: strerror(errno)))"))
            }
            input += chunk[0..<count]
        }
    }

    /// Whether a TCP connection to `remote` is accepted within `timeout` seconds (the member
    /// table's `tcp:PORT` probe, README "Anycast services").
    public static func acceptsTCP(_ remote: ListenAddress, timeout: Double) -> Bool {
        guard
            case .success(let fd) = connectedSocket(
                remote, type: Int32(SOCK_STREAM.rawValue), deadline: monotonicNow() + timeout)
        else { return false }
        close(fd)
        return true
    }

    private static func connectedSocket(_ remote: ListenAddress, type: Int32, deadline: Double) -> Result<
        Int32, Failure
    > {
        guard var (storage, length) = remote.socketAddress() else {
            return .failure(Failure(remote: remote, message: "not a numeric address"))
        }
        let fd = socket(
            Int32(storage.ss_family), type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            return .failure(Failure(remote: remote, message: "socket: \(String(cString: strerror(errno)))"))
        }
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        if result != 0 && errno != EINPROGRESS {
            let reason = String(cString: strerror(errno))
            close(fd)
            return .failure(Failure(remote: remote, message: "connect: \(reason)"))
        }
        if result != 0 {
            guard waitFor(fd, events: Int16(POLLOUT), until: deadline) else {
                close(fd)
                return .failure(Failure(remote: remote, message: "connect: timed out"))
            }
            var error: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size)
            if error != 0 {
                close(fd)
                return .failure(
                    Failure(remote: remote, message: "connect: \(String(cString: strerror(error)))"))
            }
        }
        return .success(fd)
    }

    /// Waits until `fd` is ready for `events` or the deadline passes.
    static func waitFor(_ fd: Int32, events: Int16, until deadline: Double) -> Bool {
        while true {
            let left = deadline - monotonicNow()
            guard left > 0 else { return false }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(min(left * 1000, 60_000)) + 1)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return false }
        }
    }
}

/// Seconds on a clock that never jumps (deadlines).
func monotonicNow() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// A UDP client that keeps one socket per address family for its whole life, so its source
/// ports are known: the self-probe uses it, and the DNS workers count its queries apart from
/// clients' (README "Management HTTP", `GET /metrics`).
public final class FixedPortUDPClient: @unchecked Sendable {
    /// Bound to port 0 on the wildcard address; -1 when the family is unavailable.
    private let sockets: (v4: Int32, v6: Int32)
    /// The ports the kernel chose, 0 for an unavailable family.
    public let ports: (v4: UInt16, v6: UInt16)

    public init() {
        let v4 = Self.boundSocket(family: AF_INET)
        let v6 = Self.boundSocket(family: AF_INET6)
        sockets = (v4.fd, v6.fd)
        ports = (v4.port, v6.port)
    }

    deinit {
        if sockets.v4 >= 0 { close(sockets.v4) }
        if sockets.v6 >= 0 { close(sockets.v6) }
    }

    /// One datagram to `remote`; the first datagram back from it whose ID matches.
    public func exchange(_ request: [UInt8], with remote: ListenAddress, timeout: Double) -> Result<
        [UInt8], DNSClient.Failure
    > {
        let deadline = monotonicNow() + timeout
        guard var (storage, length) = remote.socketAddress() else {
            return .failure(.init(remote: remote, message: "not a numeric address"))
        }
        let fd = Int32(storage.ss_family) == AF_INET6 ? sockets.v6 : sockets.v4
        guard fd >= 0 else { return .failure(.init(remote: remote, message: "no socket for this family")) }
        let sent = withUnsafePointer(to: &storage) { address in
            address.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                request.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
            }
        }
        guard sent == request.count else {
            return .failure(.init(remote: remote, message: "send: \(String(cString: strerror(errno)))"))
        }
        var buffer = [UInt8](repeating: 0, count: 65_535)
        let expected = IPAddress(remote.host)
        while true {
            guard DNSClient.waitFor(fd, events: Int16(POLLIN), until: deadline) else {
                return .failure(.init(remote: remote, message: "no answer within \(timeout) s"))
            }
            var from = sockaddr_storage()
            var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = withUnsafeMutablePointer(to: &from) { address in
                address.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    buffer.withUnsafeMutableBytes {
                        recvfrom(fd, $0.baseAddress, $0.count, 0, address, &fromLength)
                    }
                }
            }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return .failure(
                    .init(remote: remote, message: "receive: \(String(cString: strerror(errno)))"))
            }
            // A late answer to an earlier query, or a stray datagram: not this one.
            let sender = withUnsafeBytes(of: &from) { IPAddress(socketAddress: $0.baseAddress!) }
            if count >= 2 && buffer[0] == request[0] && buffer[1] == request[1] && sender == expected {
                return .success(Array(buffer[0..<count]))
            }
        }
    }

    private static func boundSocket(family: Int32) -> (fd: Int32, port: UInt16) {
        let fd = socket(
            family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            0)
        guard fd >= 0 else { return (-1, 0) }
        var storage = sockaddr_storage()
        storage.ss_family = sa_family_t(family)
        var length = socklen_t(
            family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &storage) { address in
            address.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            return (-1, 0)
        }
        // sin_port and sin6_port are both at offset 2, in network byte order.
        let port = withUnsafeBytes(of: &storage) {
            UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        }
        return (fd, port)
    }
}
