import CAnydnsCrypto

/// `count` octets from OpenSSL's random generator, seeded by the operating system. Keys made at
/// start (the cookie secret, the rate-limit table's hash key), never on the query path.
func randomBytes(_ count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    guard anydns_random_bytes(&bytes, count) == 0 else { fatalError("OpenSSL's random generator failed") }
    return bytes
}
