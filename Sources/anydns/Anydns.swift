import ArgumentParser
import Operations

/// `anydns`: an anycast-aware authoritative DNS server.
@main
struct Anydns: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anydns",
        abstract: "An anycast-aware authoritative DNS server.",
        version: BuildInfo.description,
        subcommands: [Serve.self, CheckZone.self, CheckConfig.self, Ctl.self, Members.self]
    )
}
