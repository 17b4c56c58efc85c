import CLDNS
import DNSWire

/// The parameters of an NSEC3 chain (RFC 5155 §3.1, §4.1): hash algorithm (1, SHA-1), flags,
/// extra iterations and salt, read from the apex NSEC3PARAM record.
public struct NSEC3Parameters: Sendable, Equatable, CustomStringConvertible {
    public var algorithm: UInt8
    public var iterations: UInt16
    public var salt: [UInt8]

    /// The hashed owner label of an NSEC3 record: 32 characters of base32hex (RFC 4648 §7).
    static let labelLength = 32
    static let digestLength = 20

    /// Reads the first fields of NSEC3PARAM or NSEC3 RDATA (the two begin alike); `nil` when
    /// the RDATA is too short or the salt runs past its end.
    public init?(rdata: UnsafeRawBufferPointer) {
        guard rdata.count >= 5, rdata.count >= 5 + Int(rdata[4]) else { return nil }
        algorithm = rdata[0]
        iterations = UInt16(rdata[2]) << 8 | UInt16(rdata[3])
        salt = Array(rdata[5..<(5 + Int(rdata[4]))])
    }

    public init(algorithm: UInt8 = 1, iterations: UInt16, salt: [UInt8]) {
        self.algorithm = algorithm
        self.iterations = iterations
        self.salt = salt
    }

    /// Whether NSEC3 RDATA belongs to the chain with these parameters (RFC 5155 §4.2).
    public func describes(nsec3 rdata: UnsafeRawBufferPointer) -> Bool {
        guard let other = NSEC3Parameters(rdata: rdata) else { return false }
        return other == self
    }

    public var description: String {
        "algorithm \(algorithm), \(iterations) iterations, salt \(salt.isEmpty ? "-" : salt.map { String($0, radix: 16) }.joined())"
    }

    /// IH(salt, name, iterations) of RFC 5155 §5 for `name` (lowercase uncompressed wire format),
    /// as an ordered key. SHA-1 is OpenSSL's; the buffers are on the stack, so nothing is
    /// allocated.
    public func hash(of name: UnsafeRawBufferPointer) -> NSEC3Hash {
        withUnsafeTemporaryAllocation(byteCount: NameLimits.maxWireLength + 256, alignment: 8) { input in
            salt.withUnsafeBytes { salt in
                // x = H(name || salt), then x = H(x || salt) `iterations` more times.
                input.copyMemory(from: name)
                UnsafeMutableRawBufferPointer(rebasing: input[name.count...]).copyMemory(from: salt)
                let digest = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
                anydns_sha1(input.baseAddress, name.count + salt.count, digest)
                var round: UInt16 = 0
                while round < iterations {
                    UnsafeMutableRawBufferPointer(rebasing: input[Self.digestLength...]).copyMemory(
                        from: salt)
                    anydns_sha1(input.baseAddress, Self.digestLength + salt.count, digest)
                    round += 1
                }
                return NSEC3Hash(UnsafeRawBufferPointer(rebasing: input[0..<Self.digestLength]))!
            }
        }
    }
}

/// A 20-octet SHA-1 NSEC3 hash (RFC 5155 §3.1.5) held as integers, big-endian, so that hashes
/// compare and sort as their octets do (and as their base32hex labels do) with three integer
/// comparisons: the NSEC3 chain is an array of these, searched by bisection.
public struct NSEC3Hash: Comparable, Hashable, Sendable {
    var high: UInt64
    var middle: UInt64
    var low: UInt32

    /// `nil` unless `bytes` is 20 octets.
    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count == NSEC3Parameters.digestLength else { return nil }
        high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        middle = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        low = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
    }

    /// The hash a hashed owner label spells (32 characters of base32hex, either case), or `nil`.
    init?(label: UnsafeRawBufferPointer) {
        guard label.count == NSEC3Parameters.labelLength else { return nil }
        var octets = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))  // 160 bits in 4 groups of 40
        for group in 0..<4 {
            var bits: UInt64 = 0
            for k in 0..<8 {
                guard let value = Base32Hex.value(of: label[group * 8 + k]) else { return nil }
                bits = bits << 5 | UInt64(value)
            }
            switch group {
            case 0: octets.0 = bits
            case 1: octets.1 = bits
            case 2: octets.2 = bits
            default: octets.3 = bits
            }
        }
        // 4 × 40 bits → 64 + 64 + 32.
        high = octets.0 << 24 | octets.1 >> 16
        middle = (octets.1 & 0xFFFF) << 48 | octets.2 << 8 | octets.3 >> 32
        low = UInt32(truncatingIfNeeded: octets.3)
    }

    public static func < (a: NSEC3Hash, b: NSEC3Hash) -> Bool {
        (a.high, a.middle, a.low) < (b.high, b.middle, b.low)
    }

    /// The octets, big-endian.
    var octets: [UInt8] {
        withUnsafeBytes(of: high.bigEndian) { Array($0) }
            + withUnsafeBytes(of: middle.bigEndian) { Array($0) }
            + withUnsafeBytes(of: low.bigEndian) { Array($0) }
    }

    /// Lowercase base32hex, as in an NSEC3 owner name.
    public var label: String { Base32Hex.string(octets) }
}

/// Base32 with the extended hex alphabet, lowercase, no padding (RFC 4648 §7; RFC 5155 §3.3):
/// it keeps the order of the octets it encodes, so hashed owner labels sort as their hashes.
enum Base32Hex {
    private static let alphabet = Array("0123456789abcdefghijklmnopqrstuv".utf8)

    /// The value of a base32hex character, either case.
    static func value(of character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "v"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "V"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Encodes `bytes` (a multiple of 5 octets, 8 characters each 5) as a string (messages and
    /// tests).
    static func string(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        for group in stride(from: 0, to: bytes.count - 4, by: 5) {
            let bits = bytes[group..<(group + 5)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            for k in 0..<8 { output.append(alphabet[Int((bits >> UInt64(35 - 5 * k)) & 31)]) }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
