import AnydnsConfig
import ArgumentParser
import DNSResponder
import DNSTransport
import DNSWire
import DNSZone
import Dispatch
import Foundation
import Logging

/// `anydns serve`: answer DNS on the configured addresses until SIGTERM or SIGINT.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve zones over UDP and TCP.",
        discussion: """
            Without --config, serves every NAME.zone file in --zones-dir (default: Zones) on \
            127.0.0.1:5300 and [::1]:5300. SIGHUP reloads the configuration and zones; a zone that \
            fails to load keeps serving its previous version.
            """)

    @Option(name: .long, help: "YAML configuration file.")
    var config: String?

    @Option(
        name: .long, help: "Listen on ADDR:PORT or [ADDR6]:PORT (repeatable; replaces configured listeners).")
    var listen: [String] = []

    @Option(name: .long, help: "Serve ORIGIN=FILE (repeatable; replaces configured zones).")
    var zone: [String] = []

    @Option(name: .long, help: "Directory of NAME.zone files, used when no zones are configured.")
    var zonesDir: String = "Zones"

    @Option(name: .long, help: "Site identity for id.server, hostname.bind and NSID (default: host name).")
    var identity: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError(
                "--log-level \(logLevel): expected trace, debug, info, notice, warning, error or critical")
        }
        for item in listen where ListenAddress(item) == nil {
            throw ValidationError(
                "--listen \(item): expected ADDR:PORT or [ADDR6]:PORT with a numeric address")
        }
        for item in zone where ZoneOption(item) == nil {
            throw ValidationError(
                "--zone \(item): expected ORIGIN=FILE, e.g. example.com.=Zones/example.com.zone")
        }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .trace
            return handler
        }
        var logger = Logger(label: "anydns")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        let settings = try resolveSettings()
        let (zones, _) = ZoneCatalog.load(settings.zones, previous: nil, logger: logger)
        let store = ZoneStore(zones)
        let responder = Responder(identity: settings.identity)
        let server: DNSServer
        do {
            server = try DNSServer(
                addresses: settings.listen, responder: responder, store: store, limits: settings.limits,
                logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        server.start()
        logger.info(
            "serving",
            metadata: ["listen": "\(settings.listen.map(\.description))", "zones": "\(zones.zones.count)"])

        let signals = DispatchQueue(label: "anydns.signals")
        var sources: [DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: signals)
            source.setEventHandler {
                if number == SIGHUP {
                    reload(store: store, logger: logger)
                } else {
                    logger.info(
                        "stopping", metadata: ["signal": "\(number == SIGTERM ? "SIGTERM" : "SIGINT")"])
                    server.stop()
                    Foundation.exit(0)
                }
            }
            source.resume()
            sources.append(source)
        }
        withExtendedLifetime(sources) { dispatchMain() }
    }

    /// SIGHUP: re-read zones off the serving path, then swap the new set in atomically.
    private func reload(store: ZoneStore, logger: Logger) {
        guard let settings = try? resolveSettings() else {
            logger.error("reload: configuration invalid; keeping the current zones")
            return
        }
        let (zones, failed) = ZoneCatalog.load(settings.zones, previous: store.snapshot, logger: logger)
        store.replace(with: zones)
        logger.info("reloaded", metadata: ["zones": "\(zones.zones.count)", "failed": "\(failed)"])
    }

    struct Settings {
        var listen: [ListenAddress]
        var zones: [ZoneSource]
        var identity: ServerIdentity
        var limits: TransportLimits
    }

    /// Configuration file, then command-line options on top of it.
    func resolveSettings() throws -> Settings {
        var configuration = Configuration(listen: [], zones: [])
        if let config {
            do {
                configuration = try Configuration.load(path: config)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        let listenTexts =
            !listen.isEmpty
            ? listen : (configuration.listen.isEmpty ? Configuration.defaultListen : configuration.listen)
        var zones: [ZoneSource]
        if !zone.isEmpty {
            zones = zone.compactMap(ZoneOption.init).map { ZoneSource(origin: $0.origin, file: $0.file) }
        } else if !configuration.zones.isEmpty {
            zones = configuration.zones.compactMap { entry in
                DomainName(entry.origin.hasSuffix(".") ? entry.origin : entry.origin + ".").map {
                    ZoneSource(origin: $0, file: entry.file)
                }
            }
        } else {
            do {
                zones = try ZoneCatalog.sources(inDirectory: zonesDir)
            } catch {
                throw ValidationError(
                    "cannot read the zones directory \(zonesDir): \(error.localizedDescription)")
            }
        }
        let name = identity ?? configuration.identity.name ?? ProcessInfo.processInfo.hostName
        return Settings(
            listen: listenTexts.compactMap(ListenAddress.init),
            zones: zones,
            identity: ServerIdentity(
                identity: name, version: configuration.identity.version,
                nsidEnabled: configuration.identity.nsid),
            limits: TransportLimits(
                maxTCPConnections: configuration.limits.tcpConnections,
                tcpIdleTimeout: configuration.limits.tcpIdleTimeout))
    }
}

/// `--zone ORIGIN=FILE`.
struct ZoneOption {
    var origin: DomainName
    var file: String

    init?(_ text: String) {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let name = String(text[..<equals])
        guard let origin = DomainName(name.hasSuffix(".") ? name : name + "."),
            !text[text.index(after: equals)...].isEmpty
        else { return nil }
        self.origin = origin
        self.file = String(text[text.index(after: equals)...])
    }
}
