import AnydnsConfig
import ArgumentParser
import DNSAuth
import DNSTransport
import Foundation
import ServingTypes

/// `anydns ctl`: the operator's control command, in the style of `knotc` and `nsd-control`,
/// talking to a running server's management HTTP (README "Control").
struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Control a running anydns through its management HTTP.",
        discussion: """
            Commands:
              status                 version, state, readiness, degraded, zones, last reload and self-probe
              reload                 re-read the configuration and every zone (as SIGHUP)
              zone-status [ZONE]     one line per zone: role, serial, refresh and expiry timers
              zone-reload ZONE       re-read one zone's file
              zone-refresh ZONE      a secondary zone checks its primaries now
              zone-retransfer ZONE   a secondary zone takes a full AXFR now, whatever the serials say
              zone-notify ZONE       send NOTIFY for the zone to its configured secondaries now
            Exit status 0 on success; 1 when the command failed (a reload error, an unknown zone, \
            status of a site that is not ready) or the server cannot be reached.
            """)

    @OptionGroup var target: ManagementTarget

    @Argument(help: "status, reload, zone-status, zone-reload, zone-refresh, zone-retransfer or zone-notify.")
    var command: String

    @Argument(help: "The zone, for the zone-… commands.")
    var zone: String?

    func validate() throws {
        let zoneCommands = ["zone-reload", "zone-refresh", "zone-retransfer", "zone-notify"]
        guard (["status", "reload", "zone-status"] + zoneCommands).contains(command) else {
            throw ValidationError(
                "unknown command \(command); expected status, reload, zone-status, zone-reload, zone-refresh, zone-retransfer or zone-notify"
            )
        }
        if zoneCommands.contains(command) && zone == nil {
            throw ValidationError("\(command) needs a ZONE")
        }
    }

    func run() throws {
        let address = try target.address()
        let request: (method: String, path: String)
        switch command {
        case "status": request = ("GET", "/status")
        case "reload": request = ("POST", "/reload")
        case "zone-status": request = ("GET", zone.map { "/zones/\(Self.absolute($0))" } ?? "/zones")
        default:
            let action = command.dropFirst("zone-".count)
            request = ("POST", "/zones/\(Self.absolute(zone!))/\(action)")
        }
        try Self.show(
            // A reload takes as long as its zones: wait for it (systemctl reload does too).
            HTTPClient.exchange(
                method: request.method, path: request.path, with: address,
                timeout: command.hasSuffix("reload") ? 3600 : 10),
            from: address, failOn503: command != "status")
    }

    /// Prints a reply's body; exits 1 on an error status (after printing the body of a 503 when
    /// `failOn503` is false: not ready is an answer) or when the server cannot be reached.
    static func show(
        _ result: Result<HTTPClient.Reply, HTTPClient.Problem>, from address: ListenAddress, failOn503: Bool
    )
        throws
    {
        switch result {
        case .success(let reply):
            if (200..<300).contains(reply.status) {
                print(reply.body, terminator: reply.body.hasSuffix("\n") ? "" : "\n")
            } else if !failOn503 && reply.status == 503 {
                // Not ready is an answer, not an error: show it, and say so in the exit status.
                print(reply.body, terminator: reply.body.hasSuffix("\n") ? "" : "\n")
                throw ExitCode.failure
            } else {
                printError("error: \(reply.body.trimmingCharacters(in: .whitespacesAndNewlines))")
                throw ExitCode.failure
            }
        case .failure(let problem):
            printError("error: cannot reach the management HTTP at \(address): \(problem.message)")
            throw ExitCode.failure
        }
    }

    /// `name` with its trailing dot, as the management HTTP paths take zone and service names.
    static func absolute(_ name: String) -> String { name.hasSuffix(".") ? name : name + "." }
}

/// A one-request HTTP/1.1 client over a plain socket, enough for the loopback management API.
enum HTTPClient {
    struct Reply {
        var status: Int
        var body: String
    }

    struct Problem: Error {
        var message: String
    }

    static func exchange(method: String, path: String, with address: ListenAddress, timeout: Double)
        -> Result<
            Reply, Problem
        >
    {
        guard var (storage, length) = address.socketAddress() else {
            return .failure(Problem(message: "bad address"))
        }
        let fd = socket(Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(Problem(message: String(cString: strerror(errno)))) }
        defer { close(fd) }
        var wait = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        guard connected == 0 else { return .failure(Problem(message: String(cString: strerror(errno)))) }
        let text =
            "\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        let bytes = Array(text.utf8)
        guard
            bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count
        else {
            return .failure(Problem(message: String(cString: strerror(errno))))
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else { return .failure(Problem(message: String(cString: strerror(errno)))) }
            response += chunk[0..<count]
        }
        let whole = String(decoding: response, as: UTF8.self)
        guard let headerEnd = whole.range(of: "\r\n\r\n"),
            let statusText = whole.split(separator: " ", maxSplits: 2).dropFirst().first,
            let status = Int(statusText)
        else { return .failure(Problem(message: "not an HTTP reply")) }
        var body = String(whole[headerEnd.upperBound...])
        if whole[..<headerEnd.lowerBound].lowercased().contains("transfer-encoding: chunked") {
            body = dechunk(body)
        }
        return .success(Reply(status: status, body: body))
    }

    /// Joins the chunks of a chunked body (RFC 9112 §7.1).
    private static func dechunk(_ body: String) -> String {
        var rest = Substring(body)
        var out = ""
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16),
            size > 0
        {
            let start = lineEnd.upperBound
            let end = rest.utf8.index(start, offsetBy: size, limitedBy: rest.endIndex) ?? rest.endIndex
            out += rest[start..<end]
            rest = rest[end...].dropFirst(2)
        }
        return out
    }
}

/// Where the management HTTP of a running server is: `--management`, else where the
/// configuration puts it (as `serve` finds it), else 127.0.0.1:8053.
struct ManagementTarget: ParsableArguments {
    @Option(name: .long, help: "Management HTTP as ADDR:PORT or [ADDR6]:PORT (default 127.0.0.1:8053).")
    var management: String?

    @Option(
        name: .long,
        help:
            "Find the management HTTP in this configuration (management.address, or ANYDNS_MANAGEMENT, and management.http-port)."
    )
    var config: String?

    func validate() throws {
        if let management, ListenAddress(management) == nil {
            throw ValidationError("--management \(management): expected ADDR:PORT or [ADDR6]:PORT")
        }
    }

    func address() throws -> ListenAddress {
        if let management { return ListenAddress(management)! }
        guard let config else { return ListenAddress(host: "127.0.0.1", port: 8053) }
        let configuration: Configuration
        do {
            configuration = try Configuration.load(path: config)
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let host =
            ProcessInfo.processInfo.environment["ANYDNS_MANAGEMENT"] ?? configuration.management.address
            ?? "127.0.0.1"
        return ListenAddress(host: host, port: UInt16(configuration.management.httpPort))
    }
}

/// `anydns members [SERVICE]`: the member table of a running server (README "Anycast services").
struct Members: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "Print the member table of each anycast service (or of one) of a running anydns.",
        discussion: "Exit status 0 on success, 1 for an unknown service or when the server cannot be reached."
    )

    @OptionGroup var target: ManagementTarget

    @Argument(help: "The service name (default: every service).")
    var service: String?

    func run() throws {
        let address = try target.address()
        let path = service.map { "/members/\(Ctl.absolute($0))" } ?? "/members"
        try Ctl.show(
            HTTPClient.exchange(method: "GET", path: path, with: address, timeout: 10), from: address,
            failOn503: true)
    }
}
