/// The canonical order of names (RFC 4034 §6.1): labels compared from the rightmost, each as a
/// string of octets (lowercase), a name sorting before the names below it. The order of the NSEC
/// chain, which ``Zone`` searches to find the NSEC covering a name that does not exist.
enum CanonicalOrder {
    /// Compares two lowercase uncompressed wire names: negative when `a` sorts first, zero when
    /// they are equal, positive when `b` sorts first. Allocates nothing.
    static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { starts in
            let aLabels = labelStarts(a, into: starts, at: 0)
            let bLabels = labelStarts(b, into: starts, at: 128)
            var k = 1
            while k <= aLabels && k <= bLabels {
                let aStart = Int(starts[aLabels - k])
                let bStart = Int(starts[128 + bLabels - k])
                let aLength = Int(a[aStart])
                let bLength = Int(b[bStart])
                var octet = 1
                while octet <= aLength && octet <= bLength {
                    let difference = Int(a[aStart + octet]) - Int(b[bStart + octet])
                    if difference != 0 { return difference }
                    octet += 1
                }
                if aLength != bLength { return aLength - bLength }
                k += 1
            }
            return aLabels - bLabels
        }
    }

    /// Writes the offset of each label of `name` into `starts` from `base`; returns the count
    /// (not counting the root). A valid name has at most 127 labels.
    private static func labelStarts(
        _ name: UnsafeRawBufferPointer, into starts: UnsafeMutableBufferPointer<UInt8>, at base: Int
    ) -> Int {
        var position = 0
        var count = 0
        while name[position] != 0 {
            starts[base + count] = UInt8(position)
            count += 1
            position += 1 + Int(name[position])
        }
        return count
    }
}
