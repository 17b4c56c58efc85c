/// Limits on names from RFC 1035 §2.3.4.
public enum NameLimits {
    /// A label is at most 63 octets.
    public static let maxLabelLength = 63
    /// A name in wire format, length octets and the root label included, is at most 255 octets.
    public static let maxWireLength = 255
}

/// A validated domain name in uncompressed wire format (RFC 1035 §3.1), case preserved.
///
/// Invariant: `wire` is a sequence of labels of 1...63 octets ending in the zero-length root label,
/// and `wire.count <= 255`. Comparison (`==`, `hash`) is exact; use ``lowercased()`` to compare the
/// way DNS does (RFC 4343 §3: ASCII case-insensitive).
public struct DomainName: Hashable, Sendable, CustomStringConvertible {
    public let wire: [UInt8]

    public static let root = DomainName(trustedWire: [0])

    /// Hashes the wire bytes as one block: zone loading hashes every owner name, and feeding the
    /// hasher octet by octet (the synthesized conformance) made that a tenth of the load time.
    public func hash(into hasher: inout Hasher) {
        wire.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (lhs: DomainName, rhs: DomainName) -> Bool { lhs.wire == rhs.wire }

    /// Wraps bytes already known to satisfy the invariant.
    public init(trustedWire: [UInt8]) {
        precondition(
            DomainName.isValidWire(trustedWire), "not an uncompressed wire name: \(trustedWire)")
        self.wire = trustedWire
    }

    /// Validates uncompressed wire bytes; `nil` if they break the invariant.
    public init?(wire: [UInt8]) {
        guard DomainName.isValidWire(wire) else { return nil }
        self.wire = wire
    }

    /// Parses presentation format (`www.example.com.`, `\046` and `\.` escapes). A name without the
    /// final dot is taken relative to the root. `nil` for empty labels or names over the limits.
    public init?(_ text: String) {
        if text == "." {
            self = .root
            return
        }
        var out: [UInt8] = []
        var label: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        func closeLabel() -> Bool {
            guard !label.isEmpty, label.count <= NameLimits.maxLabelLength else { return false }
            out.append(UInt8(label.count))
            out.append(contentsOf: label)
            label.removeAll(keepingCapacity: true)
            return true
        }
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "."):
                guard closeLabel() else { return nil }
            case UInt8(ascii: "\\"):
                guard let next = bytes.popFirst() else { return nil }
                if next >= 0x30 && next <= 0x39 {
                    guard bytes.count >= 2 else { return nil }
                    let digits = [next, bytes.popFirst()!, bytes.popFirst()!]
                    guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
                    let value = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                    guard value <= 255 else { return nil }
                    label.append(UInt8(value))
                } else {
                    label.append(next)
                }
            default:
                label.append(byte)
            }
        }
        if !label.isEmpty {
            guard closeLabel() else { return nil }
        }
        out.append(0)
        guard out.count <= NameLimits.maxWireLength else { return nil }
        self.wire = out
    }

    /// Checks the invariant documented on the type.
    public static func isValidWire(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isValidWire($0) }
    }

    /// Checks the invariant documented on the type, on bytes in place.
    public static func isValidWire(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty, bytes.count <= NameLimits.maxWireLength else { return false }
        var index = 0
        while index < bytes.count {
            let length = Int(bytes[index])
            if length == 0 { return index == bytes.count - 1 }
            guard length <= NameLimits.maxLabelLength else { return false }
            index += 1 + length
        }
        return false
    }

    /// Number of labels, not counting the root.
    public var labelCount: Int { wire.withUnsafeBytes { DomainName.labelCount($0) } }

    /// ``labelCount`` of uncompressed wire bytes in place that satisfy the invariant documented on
    /// the type (a name in zone or scratch memory): labels, not counting the root.
    public static func labelCount(_ wire: UnsafeRawBufferPointer) -> Int {
        var count = 0
        var index = 0
        while wire[index] != 0 {
            count += 1
            index += 1 + Int(wire[index])
        }
        return count
    }

    public var isRoot: Bool { wire.count == 1 }

    /// ASCII-lowercased copy (RFC 4343): the canonical form used as a lookup key.
    public func lowercased() -> DomainName {
        // Most names in zone files are lowercase already: share the storage then.
        guard wire.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return self }
        return DomainName(uncheckedWire: wire.map(asciiLowercase))
    }

    /// The name with its first label removed; the root's parent is `nil`.
    public var parent: DomainName? {
        guard !isRoot else { return nil }
        return DomainName(uncheckedWire: Array(wire[(1 + Int(wire[0]))...]))
    }

    /// Whether `self` equals `other` or lies below it, compared case-insensitively.
    public func isSubdomain(of other: DomainName) -> Bool {
        wire.withUnsafeBytes { name in other.wire.withUnsafeBytes { DomainName.isSubdomain(name, of: $0) } }
    }

    /// ``isSubdomain(of:)`` on uncompressed wire names in place.
    public static func isSubdomain(_ name: UnsafeRawBufferPointer, of other: UnsafeRawBufferPointer) -> Bool {
        guard name.count >= other.count else { return false }
        let offset = name.count - other.count
        // The suffix must start on a label boundary of name.
        var index = 0
        while index < offset { index += 1 + Int(name[index]) }
        guard index == offset else { return false }
        for k in 0..<other.count where asciiLowercase(name[offset + k]) != asciiLowercase(other[k]) {
            return false
        }
        return true
    }

    /// `label` prepended to this name (used for `*.closest-encloser` and tests).
    public func prepending(label: [UInt8]) -> DomainName? {
        guard !label.isEmpty, label.count <= NameLimits.maxLabelLength else { return nil }
        return DomainName(wire: [UInt8(label.count)] + label + wire)
    }

    /// Presentation format with a trailing dot; bytes outside printable ASCII and the special
    /// characters `. ; \ ( ) " @ $` are escaped as in RFC 1035 §5.1.
    public var description: String {
        if isRoot { return "." }
        var text = ""
        var index = 0
        while wire[index] != 0 {
            let length = Int(wire[index])
            for byte in wire[(index + 1)...(index + length)] {
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: ";"), UInt8(ascii: "\\"), UInt8(ascii: "("),
                    UInt8(ascii: ")"), UInt8(ascii: "\""), UInt8(ascii: "@"), UInt8(ascii: "$"):
                    text += "\\" + String(UnicodeScalar(byte))
                case 0x21...0x7E:
                    text.append(Character(UnicodeScalar(byte)))
                default:
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            text += "."
            index += 1 + length
        }
        return text
    }

    private init(uncheckedWire: [UInt8]) { self.wire = uncheckedWire }
}

/// ASCII lowercase of one octet; other octets are unchanged (RFC 4343 §3).
@inline(__always)
public func asciiLowercase(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
}
