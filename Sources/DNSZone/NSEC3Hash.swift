import CLDNS
import DNSWire

/// The parameters of an NSEC3 chain (RFC 5155 §3.1, §4.1): hash algorithm (1, SHA-1), flags,
/// extra iterations and salt, read from the apex NSEC3PARAM record.
public struct NSEC3Parameters: Sendable, Equatable, CustomStringConvertible {
    public var algorithm: UInt8
    public var iterations: UInt16
    public var salt: [UInt8]

    /// The hashed owner label of an NSEC3 record: 32 characters of base32hex (RFC 4648 §7).
    public static let labelLength = 32
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

    /// Writes the hashed owner label of `name` (lowercase uncompressed wire format) into `label`
    /// (32 octets): IH(salt, name, iterations) of RFC 5155 §5 in lowercase base32hex. SHA-1 is
    /// OpenSSL's; the buffers are on the stack, so nothing is allocated.
    public func hashLabel(of name: UnsafeRawBufferPointer, into label: UnsafeMutableRawBufferPointer) {
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
                Base32Hex.encode(
                    UnsafeRawBufferPointer(rebasing: input[0..<Self.digestLength]), into: label)
            }
        }
    }
}

/// Base32 with the extended hex alphabet, lowercase, no padding (RFC 4648 §7; RFC 5155 §3.3):
/// it keeps the order of the octets it encodes, so hashed owner labels sort as their hashes.
enum Base32Hex {
    private static let alphabet = Array("0123456789abcdefghijklmnopqrstuv".utf8)

    /// Encodes `bytes` (a multiple of 5 octets) into `output` (8 characters per 5 octets).
    static func encode(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        var out = 0
        var group = 0
        while group + 5 <= bytes.count {
            var bits: UInt64 = 0
            for k in 0..<5 { bits = bits << 8 | UInt64(bytes[group + k]) }
            for k in 0..<8 { output[out + k] = alphabet[Int((bits >> UInt64(35 - 5 * k)) & 31)] }
            out += 8
            group += 5
        }
    }

    /// Encodes `bytes` as a string (messages and tests).
    static func string(_ bytes: [UInt8]) -> String {
        var output = [UInt8](repeating: 0, count: bytes.count / 5 * 8)
        bytes.withUnsafeBytes { input in output.withUnsafeMutableBytes { encode(input, into: $0) } }
        return String(decoding: output, as: UTF8.self)
    }
}
