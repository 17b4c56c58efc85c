/// Decodes base64 text (RFC 4648 §4, the standard alphabet with `=` padding), as TSIG secrets are
/// written in configuration files. ASCII whitespace is skipped, so secrets split over lines read as
/// one; padding is required and the unused bits of the last group must be zero (RFC 4648 §3.5), so
/// a mistyped secret is refused rather than silently changed. `nil` for anything else.
public func decodeBase64(_ text: String) -> [UInt8]? {
    var output: [UInt8] = []
    output.reserveCapacity(text.utf8.count * 3 / 4)
    var group: UInt32 = 0
    var digits = 0
    var padding = 0
    var finished = false  // a padded group ends the text
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
            continue
        case UInt8(ascii: "="):
            // Padding only completes a group that has at least two digits.
            guard !finished, digits >= 2 else { return nil }
            padding += 1
        default:
            guard !finished, padding == 0, let value = base64Value(byte) else { return nil }
            group = group << 6 | UInt32(value)
            digits += 1
        }
        guard digits + padding == 4 else { continue }
        // "xx==" carries one octet, "xxx=" two, "xxxx" three; bits past them must be zero.
        let kept = digits - 1
        let unusedBits = UInt32(6 * digits - 8 * kept)
        guard group & ((1 << unusedBits) - 1) == 0 else { return nil }
        group >>= unusedBits
        for shift in stride(from: 8 * (kept - 1), through: 0, by: -8) {
            output.append(UInt8(truncatingIfNeeded: group >> UInt32(shift)))
        }
        finished = padding > 0
        group = 0
        digits = 0
        padding = 0
    }
    guard digits == 0, padding == 0 else { return nil }
    return output
}

/// The 6-bit value of a base64 digit (RFC 4648 §4, Table 1).
private func base64Value(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
    case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
    case UInt8(ascii: "+"): 62
    case UInt8(ascii: "/"): 63
    default: nil
    }
}
