import CLDNS
import DNSWire
import Foundation

/// Reads RFC 1035 §5 master files into a ``ZoneRecordTable``, through libldns.
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

    public private(set) var records = ZoneRecordTable()
    public private(set) var diagnostics: [ZoneDiagnostic] = []
    /// One record's RDATA, gathered from ldns's fields; reused for every record.
    private var rdataScratch: [UInt8] = []
    /// The files being read, outermost first, as canonical paths: an `$INCLUDE` of one of them is
    /// a loop. Without this check a file that includes itself twice was read 2^16 times before
    /// the depth limit stopped it.
    private var includeChain: [String] = []

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
        includeChain.append(Self.canonicalPath(path))
        defer { includeChain.removeLast() }
        var state = ParseState(origin: origin, ttl: ttl)
        defer { state.release() }
        let file = records.fileNumber(path)
        if depth == 0 { records.reserve(forFileOf: data.count) }
        data.withUnsafeBytes { bytes in
            EntrySplitter.split(bytes.bindMemory(to: UInt8.self)) { entry in
                if let problem = entry.problem {
                    error(SourceLocation(file: path, line: entry.line), problem)
                } else if entry.text.first == UInt8(ascii: "$") {
                    directive(
                        entry, location: SourceLocation(file: path, line: entry.line), path: path,
                        state: &state,
                        depth: depth)
                } else {
                    record(entry, file: file, path: path, state: &state)
                }
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
            guard !includeChain.contains(Self.canonicalPath(file)) else {
                error(location, "$INCLUDE loop: \(file) is already being read")
                return
            }
            read(path: file, origin: includeOrigin, ttl: state.ttl, depth: depth + 1, includedFrom: location)
        default:
            error(location, "unknown directive \(words[0])")
        }
    }

    /// `path` with symbolic links, `.` and `..` resolved when it exists, else as given.
    private static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private mutating func record(
        _ entry: EntrySplitter.Entry, file: Int32, path: String, state: inout ParseState
    ) {
        var rr: UnsafeMutablePointer<ldns_rr>? = nil
        // `cString` ends in NUL already, so ldns reads the entry in place.
        let status = entry.cString.withUnsafeBufferPointer { buffer -> ldns_status in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                ldns_rr_new_frm_str(&rr, $0, state.ttl, state.origin, &state.previousOwner)
            }
        }
        guard status == LDNS_STATUS_OK, let rr else {
            // libldns's RDATA error names no field: say which one, and why, as NSD does.
            let detail =
                status == LDNS_STATUS_SYNTAX_RDATA_ERR
                ? RecordErrorText.explain(String(decoding: entry.text, as: UTF8.self)) : nil
            error(
                SourceLocation(file: path, line: entry.line),
                "cannot parse record: \(detail ?? String(cString: ldns_get_errorstr_by_id(status)))")
            return
        }
        defer { ldns_rr_free(rr) }
        // The owner and each field are kept in uncompressed wire format: the RDATA is their
        // concatenation (what `ldns_rr2wire` writes, without its buffer).
        rdataScratch.removeAll(keepingCapacity: true)
        for field in 0..<ldns_rr_rd_count(rr) {
            let rdf = ldns_rr_rdf(rr, field)
            rdataScratch.append(
                contentsOf: UnsafeRawBufferPointer(start: ldns_rdf_data(rdf), count: ldns_rdf_size(rdf)))
        }
        let ownerField = ldns_rr_owner(rr)
        let owner = UnsafeRawBufferPointer(start: ldns_rdf_data(ownerField), count: ldns_rdf_size(ownerField))
        guard DomainName.isValidWire(owner) else {
            error(SourceLocation(file: path, line: entry.line), "owner name is not valid")
            return
        }
        // TYPE and CLASS are 16-bit fields (RFC 1035 §3.2.2, §3.2.4), but libldns takes any
        // number after `TYPE` or `CLASS` (RFC 3597 §5): `TYPE70000` trapped the conversion.
        guard let type = UInt16(exactly: ldns_rr_get_type(rr).rawValue),
            let rrClass = UInt16(exactly: ldns_rr_get_class(rr).rawValue)
        else {
            error(SourceLocation(file: path, line: entry.line), "type or class number is larger than 65535")
            return
        }
        // TYPE 0 is reserved (RFC 6895 §3.1); libldns also makes it of a line that names no
        // type at all.
        guard type != 0 else {
            error(SourceLocation(file: path, line: entry.line), "record type 0 is reserved")
            return
        }
        let added = rdataScratch.withUnsafeBytes { rdata in
            records.append(
                owner: owner, type: RecordType(rawValue: type), rrClass: DNSClass(rawValue: rrClass),
                ttl: ldns_rr_ttl(rr), rdata: rdata, file: file, line: entry.line)
        }
        if !added {
            error(
                SourceLocation(file: path, line: entry.line),
                "record data is longer than \(ZoneRecordTable.maxRDataLength) octets, or the zone is too large"
            )
        }
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

    /// Calls `body` with each entry in file order. The entry's bytes are reused for the next
    /// one: `body` must not keep them.
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Entry) -> Void) {
        var current = Entry(text: [], line: 1)
        current.cString.removeAll(keepingCapacity: true)
        var line = 1
        var depth = 0
        var quoted = false
        var hasContent = false
        var index = 0
        func finish() {
            hasContent = false
            while let last = current.cString.last, last == 0x20 || last == 0x09 || last == 0x0D {
                current.cString.removeLast()
            }
            if current.cString.contains(where: { $0 != 0x20 && $0 != 0x09 }) {
                current.cString.append(0)
                body(current)
            }
            current.cString.removeAll(keepingCapacity: true)
        }
        while index < bytes.count {
            let byte = bytes[index]
            let blank = byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
            if !blank && !hasContent {
                current.line = line
                hasContent = byte != UInt8(ascii: ";")
            }
            switch byte {
            case UInt8(ascii: "\\"):
                current.cString.append(byte)
                if index + 1 < bytes.count {
                    index += 1
                    current.cString.append(bytes[index])
                    if bytes[index] == 0x0A { line += 1 }
                }
            case UInt8(ascii: "\""):
                quoted.toggle()
                current.cString.append(byte)
            case UInt8(ascii: ";") where !quoted:
                while index + 1 < bytes.count && bytes[index + 1] != 0x0A { index += 1 }
            case UInt8(ascii: "(") where !quoted:
                depth += 1
                current.cString.append(0x20)
            case UInt8(ascii: ")") where !quoted:
                if depth == 0 {
                    body(Entry(text: current.cString, line: line, problem: "unbalanced ')'"))
                    current.cString.removeAll(keepingCapacity: true)
                } else {
                    depth -= 1
                    current.cString.append(0x20)
                }
            case 0x0A:
                if depth == 0 && !quoted {
                    finish()
                } else {
                    current.cString.append(0x20)
                }
                line += 1
            default:
                guard hasContent else {
                    current.cString.append(byte)
                    break
                }
                // Ordinary text: copy the run up to the next byte that means something at once.
                var end = index + 1
                while end < bytes.count && !isSyntax(bytes[end]) { end += 1 }
                current.cString.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<end]))
                index = end - 1
            }
            index += 1
        }
        if depth > 0 || quoted {
            body(
                Entry(
                    text: [], line: current.line,
                    problem: depth > 0 ? "unbalanced '('" : "unterminated quoted string"))
        } else {
            finish()
        }
    }

    /// Bytes the splitter acts on; everything else is copied as it is.
    @inline(__always)
    private static func isSyntax(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: ";"), UInt8(ascii: "("), UInt8(ascii: ")"),
            0x0A:
            true
        default: false
        }
    }
}
