import DNSAuth
import DNSGuard
import DNSResponder
import Dispatch
import Logging
import ServingTypes

/// All DNS listeners of one process: UDP and TCP on every configured address, with `udpWorkers`
/// UDP sockets per address (SO_REUSEPORT), each answered on its own queue.
public final class DNSServer: Sendable {
    private let udp: [UDPListener]
    private let tcp: [TCPListener]
    private let settings: ServingSettingsStore

    /// Binds every address (UDP and TCP); throws, naming the address, if any bind fails.
    public init(
        addresses: [ListenAddress], responder: Responder, store: any ZoneSnapshots,
        limits: TransportLimits = .init(),
        udpWorkers: Int = 1, logger: Logger, observer: (any QueryObserver)? = nil,
        loadMeter: LoadMeter = LoadMeter(threshold: 0), selfProbe: SelfProbeSource = SelfProbeSource()
    ) throws(SocketError) {
        precondition(udpWorkers >= 1, "at least one UDP worker")
        settings = ServingSettingsStore(
            ServingSettings(responder: responder, limits: limits, loadMeter: loadMeter))
        let context = ServingContext(
            settings: settings, store: store, logger: logger, observer: observer, selfProbe: selfProbe)
        var udp: [UDPListener] = []
        var tcp: [TCPListener] = []
        do throws(SocketError) {
            for address in addresses {
                for worker in 0..<udpWorkers {
                    udp.append(
                        try UDPListener(
                            address: address, worker: worker, sharedPort: udpWorkers > 1, context: context))
                }
                tcp.append(try TCPListener(address: address, context: context))
            }
        } catch {
            for listener in udp { listener.discard() }
            for listener in tcp { listener.discard() }
            throw error
        }
        self.udp = udp
        self.tcp = tcp
    }

    /// The settings being served with.
    public var servingSettings: ServingSettings { settings.current }

    /// Serves with `settings` from the next batch of datagrams or TCP read on (a reload).
    public func apply(_ settings: ServingSettings) { self.settings.replace(with: settings) }

    public func start() {
        for listener in udp { listener.start() }
        for listener in tcp { listener.start() }
    }

    /// Liveness: true when every listener's serving queue runs a no-op within `timeout`, i.e.
    /// the serving loops are turning (`/livez`, README "Management HTTP").
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
