import DNSWire
import DNSZone
import TestSupport
import Testing

// Helpers for this target only: reading a loaded `Zone` back in test terms. Zone files themselves
// are written and loaded with `TemporaryZones` from TestSupport.

/// The four lines every test zone starts with, so the lines a test adds begin at line 5.
let zoneHeader = [
    "$TTL 3600",
    "@ IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300",
    "@ IN NS ns1",
    "ns1 IN A 192.0.2.1",
]

/// `zoneHeader` followed by `lines`, one per line.
func zoneText(_ lines: [String]) -> String {
    (zoneHeader + lines).joined(separator: "\n") + "\n"
}

extension Result {
    var success: Success? {
        if case .success(let value) = self { return value }
        return nil
    }

    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// One stored record, for comparisons.
struct StoredRecord: Equatable, CustomStringConvertible {
    var ttl: UInt32
    var rdata: [UInt8]
    var description: String { "\(ttl) \(rdata)" }
}

/// A diagnostic reduced to what a test pins: where and what.
struct Finding: Equatable, CustomStringConvertible {
    var file: String
    var line: Int?
    var message: String
    var description: String { "\(file):\(line.map(String.init) ?? "-"): \(message)" }

    init(_ diagnostic: ZoneDiagnostic) {
        file = diagnostic.location.file
        line = diagnostic.location.line
        message = diagnostic.message
    }
}

extension Zone {
    /// Runs `body` with a ``NameView`` of `text` in scratch memory.
    static func withView<R>(_ text: String, _ body: (NameView) -> R) -> R {
        let storage = UnsafeMutableRawBufferPointer.allocate(
            byteCount: NameLimits.maxWireLength, alignment: 1)
        let starts = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 128)
        defer {
            storage.deallocate()
            starts.deallocate()
        }
        return DomainName(text)!.wire.withUnsafeBytes { source in
            body(NameView(loweringName: source, storage: storage, starts: starts))
        }
    }

    /// Looks `text` up for `type` and describes the outcome with names and types, e.g.
    /// `answer *.wild.example.com. TXT wildcard`, `delegation sub.example.com.`, `nxDomain`.
    func outcome(_ text: String, _ type: RecordType) -> String {
        Zone.withView(text) { view in
            guard let below = labelsBelowApex(view) else { return "outside the zone" }
            return describe(lookup(view, apexLabels: below, type: type))
        }
    }

    func describe(_ result: LookupResult) -> String {
        func mark(_ wildcard: Bool) -> String { wildcard ? " wildcard" : "" }
        switch result {
        case .answer(let node, let set, let wildcard):
            return "answer \(name(of: node)) \(self.type(of: set))\(mark(wildcard))"
        case .cname(let node, let set, let wildcard):
            return "cname \(name(of: node)) \(self.type(of: set))\(mark(wildcard))"
        case .any(let node, let wildcard):
            return "any \(name(of: node))\(mark(wildcard))"
        case .noData(let node, let wildcard):
            return "noData \(name(of: node))\(mark(wildcard))"
        case .delegation(let cut):
            return "delegation \(name(of: cut))"
        case .dname(let node, let set):
            return "dname \(name(of: node)) \(self.type(of: set))"
        case .nxDomain:
            return "nxDomain"
        }
    }

    /// The records of `type` at `owner` (any case), in zone order; empty if there are none.
    func records(_ owner: String, _ type: RecordType) -> [StoredRecord] {
        let key = DomainName(owner)!.lowercased().wire
        guard let node = key.withUnsafeBytes({ node(named: $0) }), let set = rrset(node, type) else {
            return []
        }
        var result: [StoredRecord] = []
        forEachRecord(of: set) { ttl, rdata, _ in result.append(StoredRecord(ttl: ttl, rdata: Array(rdata))) }
        return result
    }
}
