import DNSAuth
import DNSGuard
import Yams

/// The server's configuration, as read from YAML (README "Configuration").
///
/// Values are checked when read: an unknown key or a bad value is an error naming the key path
/// (`zones[1].origin`), never silently ignored (README "Configuration").
public struct Configuration: Equatable, Sendable {
    /// Extra DNS listen addresses, `ADDR:PORT` or `[ADDR6]:PORT`.
    public var listen: [String]
    public var zones: [ZoneEntry]
    public var identity: Identity
    public var limits: Limits
    /// The shared anycast addresses and the DNS port, served on every site.
    public var dns = DNS()
    public var management = Management()
    public var health = Health()
    /// Seconds DNS keeps answering after SIGTERM while `/readyz` says 503 (the drain, README "Signals").
    public var lameDuck: Double = 5
    /// While this file exists, `/readyz` is 503 (planned maintenance).
    public var maintenanceFile: String? = nil
    /// TSIG keys (RFC 8945), by name.
    public var keys: [Key] = []
    /// Other servers (primaries, secondaries to notify), by name.
    public var remotes: [Remote] = []
    /// Access control lists, by name, used by zones' `allow-transfer` and `allow-notify`.
    public var acls: [ACL] = []
    /// Directory for transferred zones, journals and timers; `nil` keeps them in memory only.
    public var storage: String? = nil
    /// How much IXFR history (RFC 1995) each zone keeps.
    public var journal = Journal()
    /// Response rate limiting (README "Rate limiting").
    /// `rate-limit:` — responses per second per client prefix and response class, as NSD's
    /// `rrl-*` and Knot DNS's `mod-rrl`; 0 (the default) is off. Read straight into the rate
    /// limiter's own settings type: the table, the configuration and `/health` share it.
    public var rateLimit = RateLimitSettings()
    /// DNS cookies, RFC 7873 and RFC 9018 (README "DNS cookies").
    public var cookies = Cookies()
    /// Anycast services of the `.any` member table (README "Anycast services").
    public var services: [Service] = []

    /// `cookies:` — the server cookie secret shared by every site (32 hex digits), the previous
    /// one during a rotation, and the UDP query rate above which a valid server cookie is required.
    public struct Cookies: Equatable, Sendable {
        public var secret: String? = nil
        public var previousSecret: String? = nil
        public var requireUnderLoad: Int = 0

        public init() {}
    }

    /// A TSIG key: `name`, `algorithm` (hmac-sha1/256/384/512) and a base64 secret, given inline
    /// or read from `secret-file` (so the YAML can be shared without the secret).
    public struct Key: Equatable, Sendable {
        public var name: String
        public var algorithm: String
        public var secret: String

        public init(name: String, algorithm: String, secret: String) {
            self.name = name
            self.algorithm = algorithm
            self.secret = secret
        }
    }

    /// Another server: one or more `ADDR:PORT` / `[ADDR6]:PORT`, and the key to sign with.
    public struct Remote: Equatable, Sendable {
        public var name: String
        public var addresses: [String]
        public var key: String?

        public init(name: String, addresses: [String], key: String? = nil) {
            self.name = name
            self.addresses = addresses
            self.key = key
        }
    }

    /// Address prefixes and, optionally, a key: with both, both must match.
    public struct ACL: Equatable, Sendable {
        public var name: String
        public var prefixes: [String]
        public var key: String?

        public init(name: String, prefixes: [String], key: String? = nil) {
            self.name = name
            self.prefixes = prefixes
            self.key = key
        }
    }

    public struct Journal: Equatable, Sendable {
        /// Versions kept per zone.
        public var maxEntries: Int = 100
        /// Bytes of differences kept per zone.
        public var maxBytes: Int = 16 << 20

        public init(maxEntries: Int = 100, maxBytes: Int = 16 << 20) {
            self.maxEntries = maxEntries
            self.maxBytes = maxBytes
        }
    }

    public struct DNS: Equatable, Sendable {
        /// DNS port on the anycast and management addresses.
        public var port: Int = 53
        /// Numeric IPv4/IPv6 anycast addresses (the address on `lo` at every site).
        public var anycast: [String] = []
        /// UDP sockets (SO_REUSEPORT) per listening address, each answered by its own worker;
        /// `nil` means one per available CPU core.
        public var workers: Int? = nil

        public init(port: Int = 53, anycast: [String] = [], workers: Int? = nil) {
            self.port = port
            self.anycast = anycast
            self.workers = workers
        }
    }

    public struct Management: Equatable, Sendable {
        /// The site's unique address: DNS at `dns.port` and HTTP at `httpPort`. Usually given
        /// per site with `--management` or `ANYDNS_MANAGEMENT` instead.
        public var address: String? = nil
        public var httpPort: Int = 8053

        public init(address: String? = nil, httpPort: Int = 8053) {
            self.address = address
            self.httpPort = httpPort
        }
    }

    public struct Health: Equatable, Sendable {
        /// Seconds between self-probe rounds.
        public var probeInterval: Double = 1
        /// A self-probe round older than this many seconds makes `/readyz` 503.
        public var probeMaxAge: Double = 5
        /// Seconds one self-probe query may take.
        public var probeTimeout: Double = 1

        public init(probeInterval: Double = 1, probeMaxAge: Double = 5, probeTimeout: Double = 1) {
            self.probeInterval = probeInterval
            self.probeMaxAge = probeMaxAge
            self.probeTimeout = probeTimeout
        }
    }

    public struct ZoneEntry: Equatable, Sendable {
        /// Absolute domain name with trailing dot, as written.
        public var origin: String
        /// Path of the zone file; relative paths are resolved against the configuration file's
        /// directory. Empty for a secondary zone, which lives in `storage`.
        public var file: String
        /// Remotes to transfer the zone from: set for a secondary zone.
        public var primaries: [String] = []
        /// ACL names allowed to transfer the zone (default: nobody).
        public var allowTransfer: [String] = []
        /// ACL names allowed to send NOTIFY for the zone (default: nobody).
        public var allowNotify: [String] = []
        /// Remotes to send NOTIFY to on every new serial (RFC 1996).
        public var notify: [String] = []

        public init(
            origin: String, file: String, primaries: [String] = [], allowTransfer: [String] = [],
            allowNotify: [String] = [], notify: [String] = []
        ) {
            self.origin = origin
            self.file = file
            self.primaries = primaries
            self.allowTransfer = allowTransfer
            self.allowNotify = allowNotify
            self.notify = notify
        }

        public var isSecondary: Bool { !primaries.isEmpty }
    }

    public struct Identity: Equatable, Sendable {
        /// Site identity for `id.server` / `hostname.bind` and NSID; `nil` means the host name.
        public var name: String?
        /// Version for `version.bind` / `version.server`; `nil` hides it.
        public var version: String?
        public var nsid: Bool

        public init(name: String? = nil, version: String? = nil, nsid: Bool = true) {
            self.name = name
            self.version = version
            self.nsid = nsid
        }
    }

    public struct Limits: Equatable, Sendable {
        public var tcpConnections: Int
        /// Open TCP connections one client address may hold per listener.
        public var tcpConnectionsPerClient: Int
        public var tcpIdleTimeout: Double

        public init(
            tcpConnections: Int = 1000, tcpConnectionsPerClient: Int = 50, tcpIdleTimeout: Double = 10
        ) {
            self.tcpConnections = tcpConnections
            self.tcpConnectionsPerClient = tcpConnectionsPerClient
            self.tcpIdleTimeout = tcpIdleTimeout
        }
    }

    public init(listen: [String], zones: [ZoneEntry], identity: Identity = .init(), limits: Limits = .init())
    {
        self.listen = listen
        self.zones = zones
        self.identity = identity
        self.limits = limits
    }

    /// Listeners used when neither a configuration nor `--listen` names any: the quick start's.
    public static let defaultListen = ["127.0.0.1:5300", "[::1]:5300"]
}

/// A configuration problem, naming the key.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    /// Dotted key path such as `zones[0].file`; empty for the document itself.
    public var key: String
    public var message: String

    public var description: String {
        key.isEmpty ? "\(file): \(message)" : "\(file): \(key): \(message)"
    }
}
