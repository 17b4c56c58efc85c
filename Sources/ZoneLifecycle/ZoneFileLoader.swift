import CAnydnsSystem
import DNSWire
import DNSZone
import Foundation
import Logging

/// A zone to serve: its origin and zone file.
public struct ZoneSource: Equatable, Sendable {
    public var origin: DomainName
    public var file: String

    public init(origin: DomainName, file: String) {
        self.origin = origin
        self.file = file
    }
}

/// What loading one zone gave.
public struct ZoneLoadReport: Sendable {
    public enum Outcome: Sendable {
        case loaded(Zone, warnings: [ZoneDiagnostic])
        /// The zone was refused; `keptSerial` is the previous version still served, if any.
        case failed(errors: [String], keptSerial: UInt32?)
    }

    public var origin: DomainName
    public var outcome: Outcome

    public init(origin: DomainName, outcome: Outcome) {
        self.origin = origin
        self.outcome = outcome
    }

    public var succeeded: Bool {
        if case .loaded = outcome { return true }
        return false
    }

    /// Whether the zone is served after this load: the version just read, or the previous one kept.
    public var isServed: Bool {
        switch outcome {
        case .loaded: true
        case .failed(_, let keptSerial): keptSerial != nil
        }
    }
}

/// Reads zone files (libldns, then `ZoneBuilder`'s checks), off the serving path, and logs what
/// each load gave: warnings, `file:line: error: …` for a zone refused.
public enum ZoneFileLoader {
    /// Errors logged per zone; the rest are counted (`anydns check-zone` prints them all).
    static let maxLoggedDiagnostics = 50

    /// Every `NAME.zone` file in `directory`, served as zone `NAME.` (`example.com.zone` → `example.com.`).
    public static func sources(inDirectory directory: String) throws -> [ZoneSource] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
            $0.hasSuffix(".zone")
        }
        .sorted()
        return names.compactMap { name in
            DomainName(String(name.dropLast(".zone".count)) + ".").map {
                ZoneSource(origin: $0, file: directory + "/" + name)
            }
        }
    }

    /// Loads one zone. On failure `keptSerial` names the version still served (`previous`):
    /// nothing that was being served is lost (README "Management HTTP").
    static func load(_ source: ZoneSource, previous: Zone?, logger: Logger) -> ZoneLoadReport {
        switch ZoneLoader.load(path: source.file, origin: source.origin) {
        case .success(let loaded):
            for warning in loaded.warnings { logger.warning("\(warning)") }
            var metadata: Logger.Metadata = [
                "zone": "\(loaded.zone.origin)", "serial": "\(loaded.zone.serial)",
                "records": "\(loaded.zone.recordCount)", "file": "\(source.file)",
            ]
            if let signing = loaded.zone.signing {
                metadata["dnssec"] = "\(signing.denial?.description ?? "no-chain")"
                if let expiry = signing.earliestExpiration {
                    metadata["rrsig-expiration"] = "\(utcDate(expiry))"
                }
            }
            logger.info("zone loaded", metadata: metadata)
            return ZoneLoadReport(
                origin: source.origin, outcome: .loaded(loaded.zone, warnings: loaded.warnings))
        case .failure(let error):
            for diagnostic in error.diagnostics.prefix(maxLoggedDiagnostics) {
                logger.error("\(diagnostic)")
            }
            if error.diagnostics.count > maxLoggedDiagnostics {
                logger.error(
                    "\(error.diagnostics.count - maxLoggedDiagnostics) more problems in \(source.file) not shown"
                )
            }
            if let previous {
                logger.error("zone \(source.origin) failed to load; still serving serial \(previous.serial)")
            } else {
                logger.error("zone \(source.origin) failed to load and is not served")
            }
            return ZoneLoadReport(
                origin: source.origin,
                outcome: .failed(
                    errors: error.errors.prefix(maxLoggedDiagnostics).map(\.description),
                    keptSerial: previous?.serial))
        }
    }

    /// Runs `loads` with the allocator's trimming deferred, then hands the memory the loader
    /// freed (parsed records, builder tables: several times the size of the finished snapshot)
    /// back to the kernel, so the resident size is the zones' own. The allocator does not do it
    /// by itself during the load (`anydns_defer_heap_trimming`).
    static func batch<Result>(_ loads: () -> Result) -> Result {
        anydns_defer_heap_trimming()
        defer { anydns_release_free_memory() }
        return loads()
    }
}
