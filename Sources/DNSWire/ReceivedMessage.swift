/// A whole DNS message decoded into values, for the transfer client and NOTIFY handling: off the
/// query path, so it may allocate. Names are decompressed (case preserved), and so is the RDATA
/// of the types whose RDATA names may be compressed (RFC 3597 §4), so every record can be stored
/// or compared as uncompressed wire format.
public struct ReceivedMessage: Sendable {
    public struct Question: Sendable, Equatable {
        public var name: DomainName
        public var type: RecordType
        public var qclass: DNSClass
    }

    public typealias Record = ResourceRecord

    public var header: DNSHeader
    public var questions: [Question]
    public var answers: [Record]
    public var authority: [Record]
    public var additional: [Record]

    /// The RCODE including the OPT record's upper bits (RFC 6891 §6.1.3).
    public var rcode: RCode {
        let low = UInt16(header.rcodeBits)
        guard let opt = additional.first(where: { $0.type == .opt }) else { return RCode(rawValue: low) }
        return RCode(rawValue: UInt16(opt.ttl >> 24) << 4 | low)
    }

    /// Decodes `bytes`; throws the offset of the first problem.
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard let header = DNSHeader(bytes) else { throw .truncated(offset: 0) }
        self.header = header
        var reader = WireReader(bytes, offset: DNSHeader.length)
        var questions: [Question] = []
        for _ in 0..<header.questionCount {
            let name = try Self.readName(&reader)
            let type = RecordType(rawValue: try reader.readUInt16())
            let qclass = DNSClass(rawValue: try reader.readUInt16())
            questions.append(Question(name: name, type: type, qclass: qclass))
        }
        self.questions = questions
        answers = try Self.readRecords(&reader, count: header.answerCount)
        authority = try Self.readRecords(&reader, count: header.authorityCount)
        additional = try Self.readRecords(&reader, count: header.additionalCount)
        guard reader.remaining == 0 else { throw .truncated(offset: reader.offset) }
    }

    public init(_ bytes: [UInt8]) throws(WireError) {
        var result: Result<ReceivedMessage, WireError> = .failure(.truncated(offset: 0))
        bytes.withUnsafeBytes { raw in
            do throws(WireError) {
                result = .success(try ReceivedMessage(raw))
            } catch {
                result = .failure(error)
            }
        }
        self = try result.get()
    }

    private static func readName(_ reader: inout WireReader) throws(WireError) -> DomainName {
        var buffer = [UInt8](repeating: 0, count: NameLimits.maxWireLength)
        var outcome: Result<Int, WireError> = .success(0)
        buffer.withUnsafeMutableBytes { output in
            do throws(WireError) {
                outcome = .success(try reader.readName(into: output))
            } catch {
                outcome = .failure(error)
            }
        }
        let length = try outcome.get()
        return DomainName(trustedWire: Array(buffer[0..<length]))
    }

    private static func readRecords(_ reader: inout WireReader, count: UInt16) throws(WireError) -> [Record] {
        var records: [Record] = []
        records.reserveCapacity(Int(count))
        let scratch = RecordScratch()
        var recordReader = RecordReader(reader.bytes, at: reader.offset)
        for _ in 0..<count {
            records.append(try recordReader.next(into: scratch).value)
        }
        reader = WireReader(reader.bytes, offset: recordReader.offset)
        return records
    }
}

/// One resource record as a value (RFC 1035 §4.1.3): uncompressed owner and RDATA. Used off the
/// query path: transfers, journals, NOTIFY.
public struct ResourceRecord: Hashable, Sendable {
    public var owner: DomainName
    public var type: RecordType
    public var rrClass: DNSClass
    public var ttl: UInt32
    /// Uncompressed RDATA.
    public var rdata: [UInt8]
    /// Offset of the record's owner name in the message it was read from (0 otherwise); not
    /// part of equality.
    public var offset: Int

    public init(
        owner: DomainName, type: RecordType, rrClass: DNSClass = .internet, ttl: UInt32, rdata: [UInt8],
        offset: Int = 0
    ) {
        self.owner = owner
        self.type = type
        self.rrClass = rrClass
        self.ttl = ttl
        self.rdata = rdata
        self.offset = offset
    }

    public static func == (lhs: ResourceRecord, rhs: ResourceRecord) -> Bool {
        lhs.type == rhs.type && lhs.rrClass == rhs.rrClass && lhs.ttl == rhs.ttl && lhs.owner == rhs.owner
            && lhs.rdata == rhs.rdata
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(owner)
        hasher.combine(type)
        hasher.combine(rdata)
    }

    /// The SERIAL of an SOA record (RFC 1035 §3.3.13), or `nil` for other records (and for SOA
    /// RDATA that is not well formed).
    public var soaSerial: UInt32? {
        guard type == .soa else { return nil }
        return rdata.withUnsafeBytes { SOATimers(soaRData: $0)?.serial }
    }
}
