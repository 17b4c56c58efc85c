import AnydnsConfig
import ArgumentParser
import DNSWire
import DNSZone
import Foundation

/// `anydns check-zone`: like `named-checkzone`: errors and warnings as `file:line: ...`, exit 1 on error.
struct CheckZone: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-zone", abstract: "Check a zone file; exit 0 when it would load.")

    @Argument(help: "The zone file.")
    var file: String

    @Option(name: .long, help: "Zone origin (default: the file name without .zone).")
    var origin: String?

    func run() throws {
        let name =
            origin ?? String((file as NSString).lastPathComponent.replacingOccurrences(of: ".zone", with: ""))
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
        print(
            "\(file): ok, \(configuration.zones.count) zone(s) (\(secondaries) secondary), \(configuration.keys.count) key(s), \(configuration.listen.count) listener(s)"
        )
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
