import DNSAuth

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The outcome of a non-blocking system call: one wrapper retries EINTR and turns EAGAIN into a
/// value, so callers handle "try again later" without reading errno.
enum IOOutcome {
    case done(Int)
    case wouldBlock
    case failed(errno: Int32)
}

@inline(__always)
func systemCall(_ body: () -> Int) -> IOOutcome {
    while true {
        let result = body()
        if result >= 0 { return .done(result) }
        let code = errno
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
        return .failed(errno: code)
    }
}

/// A socket set-up failure naming the address and the call that failed.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public var address: ListenAddress
    public var call: String
    public var errno: Int32

    public var description: String {
        "cannot \(call) \(address): \(String(cString: strerror(errno)))"
    }
}

/// Opens a non-blocking socket bound to `address`.
///
/// IPv6 sockets are IPv6-only (each address is configured on its own); `IP_FREEBIND` lets the
/// socket bind an address not yet on an interface, for anycast addresses added later by the
/// announcer's script (README "Management HTTP"). `reusePort` sets SO_REUSEPORT so several workers can bind the
/// same address and the kernel spreads datagrams over them by source address and port.
func openBoundSocket(_ address: ListenAddress, type: Int32, reusePort: Bool = false) throws(SocketError)
    -> Int32
{
    guard let (storage, length) = address.socketAddress() else {
        throw SocketError(address: address, call: "parse", errno: EINVAL)
    }
    let family = address.isIPv6 ? AF_INET6 : AF_INET
    #if canImport(Glibc)
        let fd = socket(family, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    #else
        let fd = socket(family, type, 0)
    #endif
    guard fd >= 0 else { throw SocketError(address: address, call: "open a socket for", errno: errno) }
    var one: Int32 = 1
    let size = socklen_t(MemoryLayout<Int32>.size)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size)
    if reusePort, setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, size) != 0 {
        let code = errno
        close(fd)
        throw SocketError(address: address, call: "set SO_REUSEPORT on", errno: code)
    }
    if address.isIPv6 {
        setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, size)
    }
    #if canImport(Glibc)
        // IP_FREEBIND (15); IPv6 sockets also take IPV6_FREEBIND (78, Linux 4.15+).
        setsockopt(fd, Int32(IPPROTO_IP), 15, &one, size)
        if address.isIPv6 { setsockopt(fd, Int32(IPPROTO_IPV6), 78, &one, size) }
    #endif
    var bindable = storage
    let result = withUnsafePointer(to: &bindable) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard result == 0 else {
        let code = errno
        close(fd)
        throw SocketError(address: address, call: "bind", errno: code)
    }
    return fd
}
