import CLDNS
import DNSWire
import Foundation

/// Reads RFC 1035 §5 master files into ``ZoneRecord``s, through libldns.
///
/// The reader splits the file into entries itself (comments, parentheses, quotes) so that every
/// record keeps the line it starts on and `$INCLUDE` keeps the included file's own line numbers;
/// libldns parses each entry's presentation format (every type it knows, RFC 3597 `\#` data).
/// Directives: `$ORIGIN`, `$TTL`, `$INCLUDE file [origin]` (a relative path is taken from the
/// including file's directory, as Knot DNS does; the including file's origin is restored after).
public struct ZoneFileReader {
    /// How deep `$INCLUDE` may nest before the reader assumes a loop.
    public static let maxIncludeDepth = 16
    /// TTL used before any `$TTL` when a record gives none (ldns's and NSD's default).
    public static let defaultTTL: UInt32 = 3600

    public private(set) var records: [ZoneRecord] = []
    public private(set) var diagnostics: [ZoneDiagnostic] = []

    public init() {}

    /// Reads `path` with `origin` as the initial `$ORIGIN`.
    public mutating func read(path: String, origin: DomainName) {
        read(path: path, origin: origin, ttl: Self.defaultTTL, depth: 0, includedFrom: nil)
    }

    private mutating func read(
        path: String, origin: DomainName, ttl: UInt32, depth: Int, includedFrom: SourceLocation?
    ) {
        guard let data = FileManager.default.contents(atPath: path) else {
            let location = includedFrom ?? SourceLocation(file: path, line: nil)
            let what = includedFrom == nil ? "cannot open zone file" : "cannot open included file"
            error(location, "\(what) \(path): \(String(cString: strerror(errno)))")
            return
        }
        var state = ParseState(origin: origin, ttl: ttl)
        defer { state.release() }
        for entry in EntrySplitter.split(Array(data)) {
            let location = SourceLocation(file: path, line: entry.line)
            if let problem = entry.problem {
                error(location, problem)
                continue
            }
            if entry.text.first == UInt8(ascii: "$") {
                directive(entry, location: location, path: path, state: &state, depth: depth)
            } else {
                record(entry, location: location, state: &state)
            }
        }
    }

    private mutating func directive(
        _ entry: EntrySplitter.Entry, location: SourceLocation, path: String, state: inout ParseState,
        depth: Int
    ) {
        let words = entry.text.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map {
            String(decoding: $0, as: UTF8.self)
        }
        switch words[0].uppercased() {
        case "$ORIGIN":
            guard words.count == 2, let name = state.absolute(words[1]) else {
                error(location, "$ORIGIN needs one domain name")
                return
            }
            state.setOrigin(name)
        case "$TTL":
            var end: UnsafePointer<CChar>? = nil
            guard words.count == 2, let value = parseTTL(words[1], end: &end) else {
                error(location, "$TTL needs one TTL value such as 3600 or 1h")
                return
            }
            state.ttl = value
        case "$INCLUDE":
            guard words.count == 2 || words.count == 3 else {
                error(location, "$INCLUDE needs a file name and an optional origin")
                return
            }
            guard depth < Self.maxIncludeDepth else {
                error(location, "$INCLUDE nested more than \(Self.maxIncludeDepth) deep")
                return
            }
            var includeOrigin = state.originName
            if words.count == 3 {
                guard let name = state.absolute(words[2]) else {
                    error(location, "$INCLUDE origin \(words[2]) is not a domain name")
                    return
                }
                includeOrigin = name
            }
            var file = words[1]
            let directory = (path as NSString).deletingLastPathComponent
            if !file.hasPrefix("/") && !directory.isEmpty { file = directory + "/" + file }
            read(path: file, origin: includeOrigin, ttl: state.ttl, depth: depth + 1, includedFrom: location)
        default:
            error(location, "unknown directive \(words[0])")
        }
    }

    private mutating func record(
        _ entry: EntrySplitter.Entry, location: SourceLocation, state: inout ParseState
    ) {
        var rr: UnsafeMutablePointer<ldns_rr>? = nil
        // `cString` ends in NUL already, so ldns reads the entry in place.
        let status = entry.cString.withUnsafeBufferPointer { buffer -> ldns_status in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                ldns_rr_new_frm_str(&rr, $0, state.ttl, state.origin, &state.previousOwner)
            }
        }
        guard status == LDNS_STATUS_OK, let rr else {
            error(location, "cannot parse record: \(String(cString: ldns_get_errorstr_by_id(status)))")
            return
        }
        defer { ldns_rr_free(rr) }
        var wire: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        guard ldns_rr2wire(&wire, rr, Int32(LDNS_SECTION_ANSWER.rawValue), &size) == LDNS_STATUS_OK, let wire
        else {
            error(location, "cannot encode record")
            return
        }
        defer { free(wire) }
        let bytes = UnsafeRawBufferPointer(start: wire, count: size)
        let ownerLength = nameLength(bytes, from: 0)
        // Records of one owner usually follow each other: share the previous owner's storage.
        let owner: DomainName
        if let previous = records.last?.owner, previous.wire.elementsEqual(bytes[0..<ownerLength]) {
            owner = previous
        } else if let parsed = DomainName(wire: Array(bytes[0..<ownerLength])) {
            owner = parsed
        } else {
            error(location, "owner name is not valid")
            return
        }
        guard size >= ownerLength + 10 else {
            error(location, "record is shorter than its fixed fields")
            return
        }
        let rdataStart = ownerLength + 10
        records.append(
            ZoneRecord(
                owner: owner,
                type: RecordType(rawValue: UInt16(ldns_rr_get_type(rr).rawValue)),
                rrClass: DNSClass(rawValue: UInt16(ldns_rr_get_class(rr).rawValue)),
                ttl: ldns_rr_ttl(rr),
                rdata: Array(bytes[rdataStart...]),
                location: location))
    }

    private func parseTTL(_ text: String, end: inout UnsafePointer<CChar>?) -> UInt32? {
        guard let first = text.first, first.isNumber else { return nil }
        let value = text.withCString { ldns_str2period($0, &end) }
        guard let end, end.pointee == 0 else { return nil }
        return value
    }

    private mutating func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(ZoneDiagnostic(.error, location, message))
    }
}

/// The `$ORIGIN`, `$TTL` and previous owner in force while one file is read; owns ldns names.
private struct ParseState {
    var originName: DomainName
    var origin: UnsafeMutablePointer<ldns_rdf>?
    var previousOwner: UnsafeMutablePointer<ldns_rdf>? = nil
    var ttl: UInt32

    init(origin: DomainName, ttl: UInt32) {
        self.originName = origin
        self.origin = ldns_dname_new_frm_str(origin.description)
        self.ttl = ttl
    }

    mutating func setOrigin(_ name: DomainName) {
        ldns_rdf_deep_free(origin)
        originName = name
        origin = ldns_dname_new_frm_str(name.description)
    }

    /// A name from a directive, made absolute against the current origin.
    func absolute(_ text: String) -> DomainName? {
        if text == "@" { return originName }
        guard let name = DomainName(text) else { return nil }
        if text.hasSuffix(".") && !text.hasSuffix("\\.") { return name }
        return DomainName(wire: Array(name.wire.dropLast()) + originName.wire)
    }

    func release() {
        ldns_rdf_deep_free(origin)
        if let previousOwner { ldns_rdf_deep_free(previousOwner) }
    }
}

/// Splits master-file bytes into entries (RFC 1035 §5.1): drops comments, joins lines inside
/// parentheses, keeps quoted text intact, and remembers the line each entry starts on.
enum EntrySplitter {
    struct Entry {
        /// The entry on one line, parentheses and comments removed, then a NUL; a leading blank
        /// means "same owner as the previous record".
        var cString: [UInt8]
        var line: Int
        var problem: String? = nil

        /// The entry without its NUL.
        var text: ArraySlice<UInt8> { cString.dropLast() }

        init(text: [UInt8], line: Int, problem: String? = nil) {
            cString = text
            cString.append(0)
            self.line = line
            self.problem = problem
        }
    }

    static func split(_ bytes: [UInt8]) -> [Entry] {
        var entries: [Entry] = []
        var current: [UInt8] = []
        var startLine = 1
        var line = 1
        var depth = 0
        var quoted = false
        var hasContent = false
        var index = 0
        func finish() {
            hasContent = false
            while let last = current.last, last == 0x20 || last == 0x09 || last == 0x0D {
                current.removeLast()
            }
            if current.contains(where: { $0 != 0x20 && $0 != 0x09 }) {
                entries.append(Entry(text: current, line: startLine))
            }
            current.removeAll(keepingCapacity: true)
        }
        while index < bytes.count {
            let byte = bytes[index]
            let blank = byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
            if !blank && !hasContent {
                startLine = line
                hasContent = byte != UInt8(ascii: ";")
            }
            switch byte {
            case UInt8(ascii: "\\"):
                current.append(byte)
                if index + 1 < bytes.count {
                    index += 1
                    current.append(bytes[index])
                    if bytes[index] == 0x0A { line += 1 }
                }
            case UInt8(ascii: "\""):
                quoted.toggle()
                current.append(byte)
            case UInt8(ascii: ";") where !quoted:
                while index + 1 < bytes.count && bytes[index + 1] != 0x0A { index += 1 }
            case UInt8(ascii: "(") where !quoted:
                depth += 1
                current.append(0x20)
            case UInt8(ascii: ")") where !quoted:
                if depth == 0 {
                    entries.append(Entry(text: current, line: line, problem: "unbalanced ')'"))
                    current.removeAll()
                } else {
                    depth -= 1
                    current.append(0x20)
                }
            case 0x0A:
                if depth == 0 && !quoted {
                    finish()
                } else {
                    current.append(0x20)
                }
                line += 1
            default:
                current.append(byte)
            }
            index += 1
        }
        if depth > 0 || quoted {
            entries.append(
                Entry(
                    text: [], line: startLine,
                    problem: depth > 0 ? "unbalanced '('" : "unterminated quoted string"))
        } else {
            finish()
        }
        return entries
    }
}
