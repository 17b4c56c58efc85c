import DNSResponder
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

    public func stop() {
        for listener in udp { listener.stop() }
        for listener in tcp { listener.stop() }
    }
}
