import AnydnsConfig
import DNSWire
import DNSZone
import Foundation
import Logging

/// Which zones to serve, from the configuration, `--zone` options or a directory of `*.zone` files.
struct ZoneSource: Equatable {
    var origin: DomainName
    var file: String
}

enum ZoneCatalog {
    /// Every `NAME.zone` file in `directory`, served as zone `NAME.` (`example.com.zone` → `example.com.`).
    static func sources(inDirectory directory: String) throws -> [ZoneSource] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
            $0.hasSuffix(".zone")
        }.sorted()
        return names.compactMap { name in
            DomainName(String(name.dropLast(".zone".count)) + ".").map {
                ZoneSource(origin: $0, file: directory + "/" + name)
            }
        }
    }

    /// Loads every zone; a zone that fails keeps its version from `previous` (if any) and its
    /// errors are logged with file:line. Returns the new set and the number of zones that failed.
    static func load(_ sources: [ZoneSource], previous: ZoneSet?, logger: Logger) -> (ZoneSet, failed: Int) {
        var zones: [Zone] = []
        var failed = 0
        for source in sources {
            switch ZoneLoader.load(path: source.file, origin: source.origin) {
            case .success(let loaded):
                for warning in loaded.warnings { logger.warning("\(warning)") }
                logger.info(
                    "zone loaded",
                    metadata: [
                        "zone": "\(loaded.zone.origin)", "serial": "\(loaded.zone.serial)",
                        "records": "\(loaded.zone.recordCount)", "file": "\(source.file)",
                    ])
                zones.append(loaded.zone)
            case .failure(let error):
                failed += 1
                for diagnostic in error.diagnostics { logger.error("\(diagnostic)") }
                if let old = previous?.zone(named: source.origin) {
                    logger.error("zone \(source.origin) failed to load; still serving serial \(old.serial)")
                    zones.append(old)
                } else {
                    logger.error("zone \(source.origin) failed to load and is not served")
                }
            }
        }
        return (ZoneSet(zones), failed)
    }
}
