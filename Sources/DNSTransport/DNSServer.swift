import DNSResponder
import Dispatch
import Logging

/// All DNS listeners of one process: UDP and TCP on every configured address.
public final class DNSServer: Sendable {
    private let udp: [UDPListener]
    private let tcp: [TCPListener]

    /// Binds every address (UDP and TCP); throws, naming the address, if any bind fails.
    public init(
        addresses: [ListenAddress], responder: Responder, store: ZoneStore, limits: TransportLimits = .init(),
        logger: Logger, observer: (any QueryObserver)? = nil
    ) throws(SocketError) {
        let context = ServingContext(
            responder: responder, store: store, limits: limits, logger: logger, observer: observer)
        var udp: [UDPListener] = []
        var tcp: [TCPListener] = []
        do throws(SocketError) {
            for address in addresses {
                udp.append(try UDPListener(address: address, context: context))
                tcp.append(try TCPListener(address: address, context: context))
            }
        } catch {
            for listener in udp { listener.stop() }
            for listener in tcp { listener.stop() }
            throw error
        }
        self.udp = udp
        self.tcp = tcp
    }

    public func start() {
        for listener in udp { listener.start() }
        for listener in tcp { listener.start() }
    }

    /// Liveness: true when every listener's serving queue runs a no-op within `timeout`, i.e.
    /// the serving loops are turning (SPEC.md §4, `/livez`).
    public func loopsResponsive(within timeout: Double) -> Bool {
        let group = DispatchGroup()
        for queue in udp.map(\.queue) + tcp.map(\.queue) {
            group.enter()
            queue.async { group.leave() }
        }
        return group.wait(timeout: .now() + timeout) == .success
    }

    public func stop() {
        for listener in udp { listener.stop() }
        for listener in tcp { listener.stop() }
    }
}
