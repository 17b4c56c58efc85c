/// A lowercase, uncompressed wire name in scratch memory with the offsets of its labels, so that
/// every ancestor (`suffix(_:)`) is a slice of the same bytes: no copying while walking up a name.
///
/// Invariant: `labelStarts[0] == 0`, `labelStarts[labelCount] == bytes.count - 1` (the root label),
/// and each start is the length octet of a label of `bytes`.
public struct NameView {
    public let bytes: UnsafeRawBufferPointer
    public let labelStarts: UnsafeBufferPointer<UInt8>
    /// Labels, not counting the root.
    public let labelCount: Int

    /// Lowercases `source` (a valid uncompressed name) into `storage` and records its label starts.
    ///
    /// - Parameters:
    ///   - storage: at least 255 bytes.
    ///   - starts: at least 128 entries (a 255-octet name has at most 127 labels plus the root).
    public init(
        loweringName source: UnsafeRawBufferPointer, storage: UnsafeMutableRawBufferPointer,
        starts: UnsafeMutableBufferPointer<UInt8>
    ) {
        precondition(storage.count >= NameLimits.maxWireLength && starts.count >= 128, "scratch too small")
        var position = 0
        var labels = 0
        while true {
            let length = Int(source[position])
            starts[labels] = UInt8(position)
            storage[position] = UInt8(length)
            if length == 0 { break }
            for k in 1...length { storage[position + k] = asciiLowercase(source[position + k]) }
            position += 1 + length
            labels += 1
        }
        bytes = UnsafeRawBufferPointer(rebasing: storage[0...position])
        labelStarts = UnsafeBufferPointer(rebasing: starts[0...labels])
        labelCount = labels
    }

    /// The ancestor obtained by dropping the first `dropping` labels (0 is the name itself,
    /// `labelCount` is the root).
    @inline(__always)
    public func suffix(dropping: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[Int(labelStarts[dropping])...])
    }
}
