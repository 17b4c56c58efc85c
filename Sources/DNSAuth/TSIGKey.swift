import DNSWire

/// A TSIG MAC algorithm (RFC 8945 §6): HMAC with SHA-1 or a SHA-2 hash, full-length MAC.
///
/// HMAC-MD5 (NOT RECOMMENDED by RFC 8945 §6) and the truncated variants such as `hmac-sha256-128`
/// are not offered: a key naming them is refused when the configuration is read.
public struct TSIGAlgorithm: Hashable, Sendable, CustomStringConvertible {
    /// The hash behind the HMAC.
    enum Hash: Hashable, Sendable {
        case sha1
        case sha256
        case sha384
        case sha512
    }

    let hash: Hash

    public static let hmacSHA1 = TSIGAlgorithm(hash: .sha1)
    public static let hmacSHA256 = TSIGAlgorithm(hash: .sha256)
    public static let hmacSHA384 = TSIGAlgorithm(hash: .sha384)
    public static let hmacSHA512 = TSIGAlgorithm(hash: .sha512)

    static let all: [TSIGAlgorithm] = [.hmacSHA1, .hmacSHA256, .hmacSHA384, .hmacSHA512]

    /// The algorithm named as in configuration files (`hmac-sha256`), ASCII case-insensitively.
    public init?(configName: String) {
        let lowered = String(configName.utf8.map { Character(UnicodeScalar(asciiLowercase($0))) })
        guard let found = TSIGAlgorithm.all.first(where: { $0.configName == lowered }) else { return nil }
        self = found
    }

    /// The algorithm whose RFC 8945 §6 name is the uncompressed wire name `wireName`, compared
    /// ASCII case-insensitively (RFC 4343).
    public init?(wireName: UnsafeRawBufferPointer) {
        let found = TSIGAlgorithm.all.first { algorithm in
            algorithm.wireName.wire.withUnsafeBytes { sameName($0, wireName) }
        }
        guard let found else { return nil }
        self = found
    }

    private init(hash: Hash) { self.hash = hash }

    /// The name used in configuration files, e.g. `hmac-sha256`.
    public var configName: String {
        switch hash {
        case .sha1: "hmac-sha1"
        case .sha256: "hmac-sha256"
        case .sha384: "hmac-sha384"
        case .sha512: "hmac-sha512"
        }
    }

    /// The algorithm name carried in the TSIG RR, lowercase (RFC 8945 §6), e.g. `hmac-sha256.`.
    public var wireName: DomainName { DomainName(configName)! }

    /// Octets of the untruncated MAC: the hash output length.
    public var macLength: Int {
        switch hash {
        case .sha1: 20
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        }
    }

    /// The shortest MAC accepted at all (RFC 8945 §5.2.2.1 rule 3): the larger of 10 octets and
    /// half the hash output.
    public var minimumMACLength: Int { max(10, macLength / 2) }

    public var description: String { configName }
}

/// A shared secret for TSIG (RFC 8945 §3): a key name, an algorithm and the secret octets.
///
/// Its description names the key and algorithm only, so logging a key never logs the secret.
public struct TSIGKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The key name, lowercased: the name written in the TSIG RR and compared with received ones.
    public var name: DomainName
    public var algorithm: TSIGAlgorithm
    public var secret: [UInt8]

    /// A key; `name` is stored lowercased.
    public init(name: DomainName, algorithm: TSIGAlgorithm, secret: [UInt8]) {
        self.name = name.lowercased()
        self.algorithm = algorithm
        self.secret = secret
    }

    /// A key from configuration text: a domain name, an algorithm name such as `hmac-sha256` and
    /// the secret in base64 (RFC 4648 §4). `nil` if any part is invalid or the secret is empty.
    public init?(name: String, algorithm: String, base64Secret: String) {
        guard let domainName = DomainName(name), let algorithm = TSIGAlgorithm(configName: algorithm),
            let secret = decodeBase64(base64Secret), !secret.isEmpty
        else { return nil }
        self.init(name: domainName, algorithm: algorithm, secret: secret)
    }

    public var description: String { "\(name) (\(algorithm))" }
    public var debugDescription: String { "TSIGKey(\(name), \(algorithm), \(secret.count)-octet secret)" }
}

/// The TSIG keys the server knows, looked up by name (RFC 8945 §5.2.1).
public struct TSIGKeyring: Sendable {
    /// Keys in configuration order; few enough that a scan beats hashing a lowercased copy.
    public let keys: [TSIGKey]

    /// A keyring; when two keys share a name the first one wins.
    public init(_ keys: [TSIGKey]) { self.keys = keys }

    public static let empty = TSIGKeyring([])

    /// The key whose name equals the uncompressed wire name `wire`, ASCII case-insensitively.
    public func key(named wire: UnsafeRawBufferPointer) -> TSIGKey? {
        keys.first { key in key.name.wire.withUnsafeBytes { sameName($0, wire) } }
    }

    /// The key named `name`, compared ASCII case-insensitively.
    public func key(named name: DomainName) -> TSIGKey? {
        name.wire.withUnsafeBytes { key(named: $0) }
    }

    public var isEmpty: Bool { keys.isEmpty }
}

/// Whether two uncompressed wire names are equal, ASCII case-insensitively (RFC 4343 §3).
func sameName(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for index in 0..<lhs.count where asciiLowercase(lhs[index]) != asciiLowercase(rhs[index]) {
        return false
    }
    return true
}

/// ``sameName(_:_:)`` on two names.
func sameName(_ lhs: DomainName, _ rhs: DomainName) -> Bool {
    lhs.wire.withUnsafeBytes { left in rhs.wire.withUnsafeBytes { sameName(left, $0) } }
}
