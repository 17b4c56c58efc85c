import CAnydnsCrypto
import CAnydnsSystem
import DNSAuth

/// The kinds of response that are accounted apart, as NSD (`rrl-*`) and Knot DNS (`mod-rrl`) do,
/// each keyed on the name that makes it up: a flood of random names under one zone shares one
/// NXDOMAIN bucket, while a popular name never exhausts the rate of another.
public enum ResponseClass: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// An answer from data: keyed on the query name.
    case positive = 1
    /// The name exists without the type: keyed on the zone apex.
    case noData
    /// The name does not exist: keyed on the zone apex.
    case nxDomain
    /// A referral: keyed on the delegation point.
    case referral
    /// An answer synthesized from a wildcard (RFC 4592): keyed on the wildcard owner.
    case wildcard
    /// REFUSED, SERVFAIL, FORMERR, NOTIMP and the like: one bucket per client prefix.
    case error

    /// How many classes there are (without building ``allCases``, which allocates).
    public static let count = 6

    public var description: String {
        switch self {
        case .positive: "positive"
        case .noData: "nodata"
        case .nxDomain: "nxdomain"
        case .referral: "referral"
        case .wildcard: "wildcard"
        case .error: "error"
        }
    }
}

/// Response rate limiting settings (README "Rate limiting"); `responsesPerSecond == 0` is off.
public struct RateLimitSettings: Sendable, Equatable {
    /// Responses per second per client prefix and response class; 0 turns rate limiting off.
    public var responsesPerSecond: Int
    /// Every `slip`-th limited response is sent truncated (TC=1) so a real client retries over
    /// TCP; the others are dropped. 0 drops them all, 1 truncates them all.
    public var slip: Int
    public var ipv4PrefixLength: Int
    public var ipv6PrefixLength: Int
    /// Clients never limited.
    public var exempt: [AddressPrefix]
    /// Count and log what would be limited, but answer everything.
    public var logOnly: Bool
    /// Buckets in the table (rounded up to a power of two): the memory is fixed at 8 octets
    /// each, whatever the number of clients.
    public var tableSize: Int

    public init(
        responsesPerSecond: Int = 0, slip: Int = 2, ipv4PrefixLength: Int = 24, ipv6PrefixLength: Int = 56,
        exempt: [AddressPrefix] = [], logOnly: Bool = false, tableSize: Int = 262_144
    ) {
        self.responsesPerSecond = responsesPerSecond
        self.slip = slip
        self.ipv4PrefixLength = ipv4PrefixLength
        self.ipv6PrefixLength = ipv6PrefixLength
        self.exempt = exempt
        self.logOnly = logOnly
        self.tableSize = tableSize
    }

    public var isEnabled: Bool { responsesPerSecond > 0 }
}

/// How one response was accounted.
public enum RateLimitCount: Sendable, Equatable {
    /// Within the rate.
    case within
    /// Over the rate: the `excess`-th response over it in this second for its bucket. The
    /// first (excess 1) is when a client starts being limited, worth one log line.
    case over(excess: UInt64)
}

/// The response rate limiting table: a fixed array of buckets shared by every UDP worker,
/// updated with atomic compare-and-swap (no lock), indexed by SipHash-2-4 (OpenSSL) with a
/// key drawn at start, so that a client cannot aim at another client's buckets.
///
/// A bucket is one 64-bit word: a 32-bit fingerprint of its key (client prefix, response class,
/// name), the second it last counted (16 bits) and the responses counted in that second. A key
/// looks at the four buckets of its group; when none holds it, it takes the one counted longest
/// ago. Under more clients than buckets, the least recent lose their counts: memory stays fixed.
public final class RateLimiter: @unchecked Sendable {
    public let settings: RateLimitSettings
    /// Buckets looked at per key: 32 octets, half a cache line.
    static let groupSize = 4
    /// Room a caller provides for ``count(client:responseClass:name:now:scratch:)``: the key
    /// (a 16-octet prefix, the class, a name of at most 255 octets).
    public static let keyCapacity = 16 + 1 + 255
    private let buckets: UnsafeMutablePointer<UInt64>
    private let groupMask: Int
    /// What the per-response path reads, kept out of ``settings`` (and its array) so that
    /// counting a response touches no reference count.
    private let key: UnsafeMutablePointer<UInt8>
    private let exempt: UnsafeMutableBufferPointer<AddressPrefix>
    private let rate: UInt64
    private let ipv4PrefixLength: Int
    private let ipv6PrefixLength: Int
    /// Count and log, but answer everything.
    public let logOnly: Bool
    private let slip: UInt64

    public init(settings: RateLimitSettings) {
        self.settings = settings
        var size = Self.groupSize
        while size < settings.tableSize { size <<= 1 }
        buckets = UnsafeMutablePointer<UInt64>.allocate(capacity: size)
        buckets.initialize(repeating: 0, count: size)
        groupMask = (size - 1) & ~(Self.groupSize - 1)
        key = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
        key.initialize(from: randomBytes(16), count: 16)
        exempt = UnsafeMutableBufferPointer<AddressPrefix>.allocate(capacity: settings.exempt.count)
        _ = exempt.initialize(from: settings.exempt)
        rate = UInt64(settings.responsesPerSecond)
        ipv4PrefixLength = settings.ipv4PrefixLength
        ipv6PrefixLength = settings.ipv6PrefixLength
        logOnly = settings.logOnly
        slip = UInt64(settings.slip)
    }

    deinit {
        buckets.deallocate()
        key.deallocate()
        exempt.deinitialize()
        exempt.deallocate()
    }

    /// Whether the `excess`-th limited response of a bucket in a second is sent truncated: every
    /// ``RateLimitSettings/slip``-th is, the others are dropped. Counted per bucket, so every
    /// limited client gets its share of truncated answers, whoever else is limited meanwhile.
    public func slips(_ excess: UInt64) -> Bool {
        slip > 0 && excess % slip == 0
    }

    /// Buckets in the table.
    public var bucketCount: Int { groupMask + Self.groupSize }

    /// The client's prefix, as buckets count it (`ipv4-prefix`, `ipv6-prefix`).
    public func prefix(of client: IPAddress) -> IPAddress {
        switch client {
        case .v4: AddressPrefix(address: client, length: ipv4PrefixLength)!.address
        case .v6: AddressPrefix(address: client, length: ipv6PrefixLength)!.address
        }
    }

    /// Whether `client` is on the exempt list.
    public func isExempt(_ client: IPAddress) -> Bool {
        for prefix in exempt where prefix.contains(client) { return true }
        return false
    }

    /// Counts one response to `client` of `responseClass` for `name` (lowercase wire format)
    /// at second `now`. `scratch` holds at least ``keyCapacity`` octets; nothing is allocated.
    public func count(
        client: IPAddress, responseClass: ResponseClass, name: UnsafeRawBufferPointer, now: UInt64,
        scratch: UnsafeMutableRawBufferPointer
    ) -> RateLimitCount {
        let hash = keyHash(client: client, responseClass: responseClass, name: name, scratch: scratch)
        let fingerprint = UInt64(truncatingIfNeeded: hash >> 32) | 1  // never 0, the empty bucket
        let second = UInt64(truncatingIfNeeded: now) & 0xFFFF
        let group = buckets + (Int(truncatingIfNeeded: hash) & groupMask)
        var oldest = 0
        var oldestAge: UInt64 = 0
        for index in 0..<Self.groupSize {
            let bucket = group + index
            var word = anydns_atomic_load(bucket)
            while word >> 32 == fingerprint {
                let counted = word >> 16 & 0xFFFF == second ? min(word & 0xFFFF, 0xFFFE) + 1 : 1
                if anydns_atomic_compare_exchange(bucket, word, fingerprint << 32 | second << 16 | counted) {
                    return verdict(counted)
                }
                word = anydns_atomic_load(bucket)  // another worker counted meanwhile: again
            }
            let age = word == 0 ? 0x1_0000 : (second &- (word >> 16)) & 0xFFFF
            if age > oldestAge || index == 0 {
                oldest = index
                oldestAge = age
            }
        }
        // A key not in the table takes the bucket counted longest ago; if another worker took
        // it first, this response is simply not counted.
        let victim = group + oldest
        let word = anydns_atomic_load(victim)
        _ = anydns_atomic_compare_exchange(victim, word, fingerprint << 32 | second << 16 | 1)
        return verdict(1)
    }

    private func verdict(_ counted: UInt64) -> RateLimitCount {
        counted > rate ? .over(excess: counted - rate) : .within
    }

    /// SipHash-2-4 of prefix (16 octets, IPv4 in the first 4) | class | name.
    private func keyHash(
        client: IPAddress, responseClass: ResponseClass, name: UnsafeRawBufferPointer,
        scratch: UnsafeMutableRawBufferPointer
    ) -> UInt64 {
        scratch.storeBytes(of: 0, toByteOffset: 0, as: UInt64.self)
        scratch.storeBytes(of: 0, toByteOffset: 8, as: UInt64.self)
        let addressLength = prefix(of: client).writeNetworkOrder(into: scratch)
        // The family goes with the class, so an IPv4 prefix never shares an IPv6 one's buckets.
        scratch[16] = responseClass.rawValue | (addressLength == 16 ? 0x80 : 0)
        let nameLength = min(name.count, 255)
        UnsafeMutableRawBufferPointer(rebasing: scratch[17..<(17 + nameLength)]).copyMemory(
            from: UnsafeRawBufferPointer(rebasing: name[0..<nameLength]))
        var hash: UInt64 = 0
        withUnsafeMutableBytes(of: &hash) { output in
            _ = anydns_siphash24(
                output.baseAddress!.assumingMemoryBound(to: UInt8.self), scratch.baseAddress!,
                17 + nameLength, key)
        }
        return hash
    }
}
