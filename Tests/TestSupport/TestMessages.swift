import DNSWire
import DNSZone
import Foundation

/// Builds query packets for tests, byte by byte, so malformed variants are easy to make.
public struct QueryBuilder {
    public var id: UInt16 = 0x1234
    public var flags: UInt16 = 0
    public var name: String
    public var type: RecordType
    public var qclass: DNSClass = .internet
    /// Adds an OPT record with this payload size, version and DO bit (RFC 6891).
    public var edns: (payload: UInt16, version: UInt8, dnssecOK: Bool, options: [UInt8])? = nil

    public init(_ name: String, _ type: RecordType) {
        self.name = name
        self.type = type
    }

    public func withEDNS(
        payload: UInt16 = 1232, version: UInt8 = 0, dnssecOK: Bool = false, options: [UInt8] = []
    )
        -> QueryBuilder
    {
        var copy = self
        copy.edns = (payload, version, dnssecOK, options)
        return copy
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.appendWord(id)
        out.appendWord(flags)
        out.appendWord(1)
        out.appendWord(0)
        out.appendWord(0)
        out.appendWord(edns == nil ? 0 : 1)
        out += DomainName(name)!.wire
        out.appendWord(type.rawValue)
        out.appendWord(qclass.rawValue)
        if let edns {
            out.append(0)
            out.appendWord(RecordType.opt.rawValue)
            out.appendWord(edns.payload)
            out += [0, edns.version, edns.dnssecOK ? 0x80 : 0, 0]
            out.appendWord(UInt16(edns.options.count))
            out += edns.options
        }
        return out
    }
}

extension Array where Element == UInt8 {
    public mutating func appendWord(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }
}

/// A decoded response, for assertions on content: header, question, and every record with its
/// owner decompressed and lowercased, TTL, and RDATA rendered for comparison.
public struct ParsedMessage: CustomStringConvertible {
    public struct Record: Equatable, CustomStringConvertible {
        public var owner: String
        public var type: RecordType
        public var rrClass: UInt16
        public var ttl: UInt32
        /// RDATA with embedded names decompressed (NS, CNAME, PTR, DNAME, MX, SOA, SRV) and
        /// shown in presentation form; other types as hex.
        public var data: String

        public var description: String { "\(owner) \(ttl) \(type) \(data)" }
    }

    public var header: DNSHeader
    public var questionName: String
    /// The question name exactly as echoed (case preserved).
    public var questionNameExact: String
    public var questionType: RecordType?
    public var answer: [Record] = []
    public var authority: [Record] = []
    public var additional: [Record] = []

    public var rcode: RCode {
        let extended = additional.first { $0.type == .opt }.map { UInt16($0.ttl >> 24) << 4 } ?? 0
        return RCode(rawValue: extended | UInt16(header.rcodeBits))
    }
    public var isAuthoritative: Bool { header.has(DNSHeader.Flag.aa) }
    public var isTruncated: Bool { header.has(DNSHeader.Flag.tc) }
    public var opt: Record? { additional.first { $0.type == .opt } }

    public var description: String {
        "rcode=\(rcode) flags=\(String(header.flags, radix: 16)) q=\(questionName)\nAN \(answer)\nNS \(authority)\nAR \(additional)"
    }

    /// Decodes `bytes`; `nil` if they are not a well-formed message.
    public init?(_ bytes: [UInt8]) {
        guard let parsed = bytes.withUnsafeBytes({ try? ParsedMessage.decode($0) }) else { return nil }
        self = parsed
    }

    private init(header: DNSHeader) {
        self.header = header
        questionName = ""
        questionNameExact = ""
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer) throws -> ParsedMessage {
        guard let header = DNSHeader(bytes) else { throw WireError.truncated(offset: 0) }
        var message = ParsedMessage(header: header)
        var reader = WireReader(bytes, offset: DNSHeader.length)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 1)
        defer { buffer.deallocate() }
        func readName() throws -> DomainName {
            let length = try reader.readName(into: buffer)
            return DomainName(trustedWire: Array(buffer[0..<length]))
        }
        if header.questionCount > 0 {
            let name = try readName()
            message.questionNameExact = name.description
            message.questionName = name.lowercased().description
            message.questionType = RecordType(rawValue: try reader.readUInt16())
            _ = try reader.readUInt16()
        }
        func records(_ count: UInt16) throws -> [Record] {
            var result: [Record] = []
            for _ in 0..<count {
                let owner = try readName().lowercased().description
                let type = RecordType(rawValue: try reader.readUInt16())
                let rrClass = try reader.readUInt16()
                let ttl = try reader.readUInt32()
                let length = Int(try reader.readUInt16())
                let end = reader.offset + length
                var data = ""
                switch type {
                case .ns, .cname, .ptr, .dname:
                    data = try readName().description
                case .mx:
                    data = "\(try reader.readUInt16()) \(try readName())"
                case .srv:
                    data =
                        "\(try reader.readUInt16()) \(try reader.readUInt16()) \(try reader.readUInt16()) \(try readName())"
                case .soa:
                    let mname = try readName()
                    let rname = try readName()
                    var numbers: [UInt32] = []
                    for _ in 0..<5 { numbers.append(try reader.readUInt32()) }
                    data = "\(mname) \(rname) " + numbers.map(String.init).joined(separator: " ")
                case .a where length == 4:
                    data = (0..<4).map { String(bytes[reader.offset + $0]) }.joined(separator: ".")
                    try reader.skip(4)
                case .txt:
                    var strings: [String] = []
                    var position = reader.offset
                    while position < end {
                        let count = Int(bytes[position])
                        strings.append(
                            String(decoding: bytes[(position + 1)..<(position + 1 + count)], as: UTF8.self))
                        position += 1 + count
                    }
                    data = strings.map { "\"\($0)\"" }.joined(separator: " ")
                    try reader.skip(length)
                default:
                    data = bytes[reader.offset..<end].map { String(format: "%02x", $0) }.joined()
                    try reader.skip(length)
                }
                guard reader.offset == end else { throw WireError.truncated(offset: reader.offset) }
                result.append(Record(owner: owner, type: type, rrClass: rrClass, ttl: ttl, data: data))
            }
            return result
        }
        message.answer = try records(header.answerCount)
        message.authority = try records(header.authorityCount)
        message.additional = try records(header.additionalCount)
        guard reader.remaining == 0 else { throw WireError.truncated(offset: reader.offset) }
        return message
    }
}

/// Zone files written to a temporary directory for one test, removed with it.
public final class TemporaryZones {
    public let directory: String

    public init() {
        directory = NSTemporaryDirectory() + "anydns-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes `text` to `name` in the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let path = directory + "/" + name
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Writes and loads a zone, returning the loader's result.
    public func load(_ origin: String, _ text: String, file: String? = nil) -> Result<
        LoadedZone, ZoneLoadError
    > {
        let path = write(file ?? origin + "zone", text)
        return ZoneLoader.load(path: path, origin: DomainName(origin)!)
    }
}
