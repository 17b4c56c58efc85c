import AnydnsConfig
import ArgumentParser
import DNSWire
import DNSZone
import Foundation
import SiteSettings

/// `anydns check-zone`: like `named-checkzone`: errors and warnings as `file:line: ...`, exit 1 on error.
struct CheckZone: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-zone", abstract: "Check a zone file; exit 0 when it would load.")

    @Argument(help: "The zone file.")
    var file: String

    @Option(
        name: .long,
        help: "Zone origin (default: the file's first $ORIGIN, else the file name without .zone).")
    var origin: String?

    func run() throws {
        let name: String
        if let origin {
            name = origin
        } else if let declared = Self.declaredOrigin(file) {
            name = declared
        } else {
            name = String((file as NSString).lastPathComponent.replacingOccurrences(of: ".zone", with: ""))
            // An unreadable file gets its own error from the loader; this note would only add noise.
            if FileManager.default.isReadableFile(atPath: file) {
                printError(
                    "\(file): no $ORIGIN and no --origin: origin \(name.hasSuffix(".") ? name : name + ".") taken from the file name"
                )
            }
        }
        guard let originName = DomainName(name.hasSuffix(".") ? name : name + ".") else {
            throw ValidationError("--origin \(name) is not a domain name")
        }
        switch ZoneLoader.load(path: file, origin: originName) {
        case .success(let loaded):
            for warning in loaded.warnings { printError("\(warning)") }
            print(
                "zone \(loaded.zone.origin): loaded serial \(loaded.zone.serial), \(loaded.zone.recordCount) records"
            )
            if let signing = loaded.zone.signing {
                let denial = signing.denial.map { "\($0)".uppercased() } ?? "no NSEC/NSEC3 chain"
                let expiry =
                    signing.earliestExpiration.map { ", earliest RRSIG expiration \(utcDate($0))" } ?? ""
                print("zone \(loaded.zone.origin): signed, \(denial), \(signing.signatures) RRSIGs\(expiry)")
            }
        case .failure(let error):
            for diagnostic in error.diagnostics { printError("\(diagnostic)") }
            printError("zone \(originName): not loaded, \(error.errors.count) error(s)")
            throw ExitCode.failure
        }
    }
}

extension CheckZone {
    /// The absolute name of a `$ORIGIN` directive (RFC 1035 §5.1) that comes before the file's
    /// first record, as `kzonecheck` and the reader see it; `nil` when there is none.
    static func declaredOrigin(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let first = fields.first else { continue }
            if first.uppercased() == "$ORIGIN" {
                return fields.count > 1 && fields[1].hasSuffix(".") ? String(fields[1]) : nil
            }
            if !first.hasPrefix("$") { return nil }  // a record before any $ORIGIN
        }
        return nil
    }
}

/// `anydns check-config`: like `nsd-checkconf`: the configuration's keys and values, and that each
/// zone file is readable (use `check-zone` for a zone's contents).
struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Check a configuration file; exit 0 when it is valid.")

    @Argument(help: "The YAML configuration file.")
    var file: String

    func run() throws {
        let configuration: Configuration
        do {
            configuration = try Configuration.load(path: file)
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
        var problems = 0
        for (index, zone) in configuration.zones.enumerated()
        where !zone.isSecondary && !FileManager.default.isReadableFile(atPath: zone.file) {
            printError("\(file): zones[\(index)].file: cannot read \(zone.file)")
            problems += 1
        }
        guard problems == 0 else { throw ExitCode.failure }
        let secondaries = configuration.zones.filter(\.isSecondary).count
        if secondaries > 0 && configuration.storage == nil {
            printError(
                "\(file): storage: not set: the \(secondaries) secondary zone(s) will be kept in memory only, and a restarted site serves them only after a transfer"
            )
        }
        // The addresses `serve --config` opens: anycast, `listen` entries and the management
        // address (ANYDNS_MANAGEMENT and command-line options aside).
        let listeners = SiteSettings.listenAddresses(
            configuration, listen: [], management: configuration.management.address)
        print(
            "\(file): ok, \(configuration.zones.count) zone(s) (\(secondaries) secondary), \(configuration.keys.count) key(s), \(listeners.count) listener(s): \(listeners.map(\.description).joined(separator: ", "))"
        )
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
