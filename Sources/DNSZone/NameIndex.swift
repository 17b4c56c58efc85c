import CAnydnsSystem
import DNSWire

/// An open-addressing hash table that numbers lowercase wire-format names 0, 1, 2, … in the order
/// they are added.
///
/// Names are looked up straight from a packet buffer (`UnsafeRawBufferPointer`), so a query costs
/// one hash and usually one `memcmp`, with no allocation.
///
/// Built for big zones, where every step of a lookup is a cache miss: a slot holds the name's
/// hash and where its key sits in the arena, and the key sits beside its number. A lookup reads
/// one slot and one piece of the arena; a probe that meets another name is settled by the hash
/// without leaving the slot array. ``Zone`` shares the arena for its owner names. Filled once at
/// zone load; read-only afterwards.
struct NameIndex: Sendable {
    /// `0` (empty) or `hash << 32 | (record offset + 1)`. Capacity is a power of two and at least
    /// twice the number of names, so probing always ends at an empty slot.
    private var slots: [UInt64]
    /// One record per name: its number (4 octets, little-endian), its length (1 octet), then the
    /// name itself.
    private(set) var keys: [UInt8] = []
    /// Where each number's record starts in ``keys``.
    private var records: [Int32] = []

    private static let headerLength = 5

    /// How many names the table holds; numbers run from 0 to `count - 1`.
    var count: Int { records.count }

    /// An empty table sized for about `expected` names (it grows past that if needed).
    init(reservingCapacity expected: Int = 0) {
        slots = [UInt64](repeating: 0, count: NameIndex.capacity(for: expected))
        records.reserveCapacity(expected)
    }

    /// A table of `names` (lowercase wire names, distinct), numbered in order.
    init(_ names: [[UInt8]]) {
        self.init(reservingCapacity: names.count)
        for name in names {
            let added = name.withUnsafeBytes { insert($0).added }
            precondition(added, "duplicate key \(name)")
        }
    }

    private static func capacity(for count: Int) -> Int {
        var capacity = 8
        while capacity < count * 2 { capacity <<= 1 }
        return capacity
    }

    /// The number of `name` (lowercase uncompressed wire format), if it is in the table.
    func find(_ name: UnsafeRawBufferPointer) -> Int32? {
        find(name, hash: NameIndex.hash(name))
    }

    @inline(__always)
    private func find(_ name: UnsafeRawBufferPointer, hash: UInt32) -> Int32? {
        slots.withUnsafeBufferPointer { slots in
            keys.withUnsafeBytes { keys in
                let mask = slots.count - 1
                var slot = Int(hash) & mask
                while true {
                    let word = slots[slot]
                    if word == 0 { return nil }
                    if UInt32(word >> 32) == hash {
                        let record = keys.baseAddress! + Int(UInt32(truncatingIfNeeded: word)) - 1
                        if Int(record.load(fromByteOffset: 4, as: UInt8.self)) == name.count
                            && memoryEqual(record + NameIndex.headerLength, name.baseAddress!, name.count)
                        {
                            return Int32(littleEndian: record.loadUnaligned(as: Int32.self))
                        }
                    }
                    slot = (slot + 1) & mask
                }
            }
        }
    }

    /// Adds `name` (lowercase wire format; it must not point into ``keys``) unless it is there
    /// already. Returns its number and whether it was added.
    mutating func insert(_ name: UnsafeRawBufferPointer) -> (number: Int32, added: Bool) {
        insert(name, hash: NameIndex.hash(name))
    }

    /// ``insert(_:)`` with the name's ``hash(_:)`` already known.
    mutating func insert(_ name: UnsafeRawBufferPointer, hash: UInt32) -> (number: Int32, added: Bool) {
        precondition(name.count <= NameLimits.maxWireLength, "key of \(name.count) octets")
        if let number = find(name, hash: hash) { return (number, false) }
        precondition(
            keys.count + NameIndex.headerLength + name.count < Int(Int32.max), "more than 2 GiB of names")
        if (records.count + 1) * 2 > slots.count { grow() }
        let number = Int32(records.count)
        let offset = keys.count
        place(hash: hash, offset: offset)
        records.append(Int32(offset))
        withUnsafeBytes(of: number.littleEndian) { keys.append(contentsOf: $0) }
        keys.append(UInt8(name.count))
        keys.append(contentsOf: name)
        return (number, true)
    }

    /// Starts loading the slot where a name with this hash is looked for, so that an insert a
    /// little later does not wait for memory: in a big zone every new name's slot is a cache miss.
    func prefetch(hash: UInt32) {
        slots.withUnsafeBufferPointer { anydns_prefetch($0.baseAddress! + (Int(hash) & ($0.count - 1))) }
    }

    /// Calls `body` with the name numbered `number`.
    func withKey<R>(_ number: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let (start, length) = keyRange(number)
        return try keys.withUnsafeBytes {
            try body(UnsafeRawBufferPointer(rebasing: $0[Int(start)..<(Int(start) + Int(length))]))
        }
    }

    /// Where the name numbered `number` sits in ``keys``.
    func keyRange(_ number: Int32) -> (start: Int32, length: UInt8) {
        let record = Int(records[Int(number)])
        return (Int32(record + NameIndex.headerLength), keys[record + 4])
    }

    private mutating func place(hash: UInt32, offset: Int) {
        let mask = slots.count - 1
        var slot = Int(hash) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = UInt64(hash) << 32 | UInt64(offset + 1)
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count * 2)
        for word in old where word != 0 {
            place(hash: UInt32(word >> 32), offset: Int(UInt32(truncatingIfNeeded: word)) - 1)
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

    /// ``hash(_:)`` of the ASCII-lowercased bytes, without making the lowercase copy.
    @inline(__always)
    static func hashLowercased(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in bytes {
            hash = (hash ^ UInt32(asciiLowercase(byte))) &* 0x0100_0193
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
