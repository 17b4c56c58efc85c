import DNSWire

/// An open-addressing hash table from lowercase wire-format names to small integers.
///
/// Names are looked up straight from a packet buffer (`UnsafeRawBufferPointer`), so a query costs
/// one hash and usually one `memcmp`, with no allocation (STYLE.md habit 10). Keys live in one
/// contiguous byte arena. Built once at zone load; immutable afterwards.
struct NameIndex: Sendable {
    /// `slots[i]` is `-1` (empty) or an index into `entries`. Capacity is a power of two and at
    /// least twice the number of entries, so probing always ends at an empty slot.
    private let slots: [Int32]
    private let entries: [Entry]
    private let arena: [UInt8]

    private struct Entry: Sendable {
        var hash: UInt32
        var keyStart: Int32
        var keyLength: UInt8
        var value: Int32
    }

    /// - Parameter keys: lowercase wire names and their values; keys must be distinct.
    init(_ keys: [(name: [UInt8], value: Int32)]) {
        var capacity = 8
        while capacity < keys.count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: capacity)
        var entries: [Entry] = []
        entries.reserveCapacity(keys.count)
        var arena: [UInt8] = []
        arena.reserveCapacity(keys.reduce(0) { $0 + $1.name.count })
        let mask = capacity - 1
        for (name, value) in keys {
            precondition(name.count <= NameLimits.maxWireLength, "key of \(name.count) octets")
            let hash = name.withUnsafeBytes { NameIndex.hash($0) }
            var slot = Int(hash) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(entries.count)
            entries.append(
                Entry(hash: hash, keyStart: Int32(arena.count), keyLength: UInt8(name.count), value: value))
            arena.append(contentsOf: name)
        }
        self.slots = slots
        self.entries = entries
        self.arena = arena
    }

    /// The value stored for `name` (lowercase uncompressed wire format), if any.
    func find(_ name: UnsafeRawBufferPointer) -> Int32? {
        let hash = NameIndex.hash(name)
        let mask = slots.count - 1
        var slot = Int(hash) & mask
        return arena.withUnsafeBytes { keys -> Int32? in
            while true {
                let entryIndex = slots[slot]
                if entryIndex < 0 { return nil }
                let entry = entries[Int(entryIndex)]
                if entry.hash == hash && Int(entry.keyLength) == name.count
                    && memoryEqual(keys.baseAddress! + Int(entry.keyStart), name.baseAddress!, name.count)
                {
                    return entry.value
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// FNV-1a, 32 bits: cheap, and good enough for keys chosen by the zone's operator.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in bytes {
            hash = (hash ^ UInt32(byte)) &* 0x0100_0193
        }
        return hash
    }
}

@inline(__always)
private func memoryEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    for k in 0..<count
    where a.load(fromByteOffset: k, as: UInt8.self) != b.load(fromByteOffset: k, as: UInt8.self) {
        return false
    }
    return true
}
