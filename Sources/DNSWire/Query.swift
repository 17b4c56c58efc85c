/// What a client asked for in its OPT record (RFC 6891 §6.1.2, RFC 5001 §2.3).
public struct EDNSRequest: Equatable, Sendable {
    /// The requestor's UDP payload size; values below 512 are treated as 512 (RFC 6891 §6.2.5).
    public var udpPayloadSize: UInt16
    public var version: UInt8
    /// The DO bit (RFC 3225), echoed in the response's OPT.
    public var dnssecOK: Bool
    /// An empty NSID option was present (RFC 5001 §2.3).
    public var nsidRequested: Bool
    /// An EDNS EXPIRE option was present (RFC 7314 §2): a secondary asks for the expire timer.
    public var expireRequested: Bool
    /// Where the COOKIE option's data (client cookie, then any server cookie) lies in the
    /// message (RFC 7873 §4); its length is one RFC 7873 allows.
    public var cookie: Range<Int>?
    /// The length of an edns-tcp-keepalive option (RFC 7828 §3.1), when one was present; a
    /// client must send it empty.
    public var keepaliveLength: Int?

    public init(
        udpPayloadSize: UInt16, version: UInt8, dnssecOK: Bool, nsidRequested: Bool,
        expireRequested: Bool = false, cookie: Range<Int>? = nil, keepaliveLength: Int? = nil
    ) {
        self.udpPayloadSize = udpPayloadSize
        self.version = version
        self.dnssecOK = dnssecOK
        self.nsidRequested = nsidRequested
        self.expireRequested = expireRequested
        self.cookie = cookie
        self.keepaliveLength = keepaliveLength
    }
}

/// A query whose bytes have been checked once, at the door.
public struct Query: Sendable {
    public var header: DNSHeader
    /// Offset just past the question's QCLASS; bytes 12..<questionEnd are the question as sent.
    public var questionEnd: Int
    /// Length of the uncompressed QNAME written to the caller's name buffer (case preserved).
    public var nameLength: Int
    public var type: RecordType
    public var qclass: DNSClass
    public var edns: EDNSRequest?
    /// Offset of the TSIG record, which must be the last record of the message (RFC 8945 §5.1).
    public var tsigOffset: Int?
    /// For IXFR: the serial of the SOA in the authority section, the version the client has
    /// (RFC 1995 §3).
    public var clientSerial: UInt32?
    /// For NOTIFY: the serial of the SOA in the answer section, if the primary sent one
    /// (RFC 1996 §3.7).
    public var notifySerial: UInt32?

    public init(
        header: DNSHeader, questionEnd: Int, nameLength: Int, type: RecordType, qclass: DNSClass,
        edns: EDNSRequest?, tsigOffset: Int? = nil, clientSerial: UInt32? = nil, notifySerial: UInt32? = nil
    ) {
        self.header = header
        self.questionEnd = questionEnd
        self.nameLength = nameLength
        self.type = type
        self.qclass = qclass
        self.edns = edns
        self.tsigOffset = tsigOffset
        self.clientSerial = clientSerial
        self.notifySerial = notifySerial
    }
}

/// The result of checking a received message.
public enum QueryCheck: Sendable {
    /// A well-formed query.
    case query(Query)
    /// Answer with `rcode` and nothing else; `questionEnd` is set when the question parsed and
    /// may be echoed, `edns` when a valid OPT had been read before the problem was found (the
    /// other sections are not read for opcodes other than QUERY).
    case reject(RCode, header: DNSHeader, questionEnd: Int?, edns: EDNSRequest?)
    /// Send nothing: too short to carry an ID, or a response (QR=1) that must not be answered.
    case drop
    /// A QUERY without a question whose only record is an OPT carrying a COOKIE: the client asks
    /// for a server cookie (RFC 7873 §5.4).
    case cookieRequest(header: DNSHeader, edns: EDNSRequest)
}

/// EDNS option codes the server looks at (RFC 6891 §6.1.2 registry).
public enum EDNSOptionCode {
    public static let nsid: UInt16 = 3
    /// RFC 7314 §2.
    public static let expire: UInt16 = 9
    /// RFC 7873 §4.
    public static let cookie: UInt16 = 10
    /// RFC 7828 §3.1.
    public static let tcpKeepalive: UInt16 = 11
    /// RFC 8914 §2.
    public static let extendedError: UInt16 = 15
}

/// Checks a received message once: header, exactly one question, every record in the other
/// sections, at most one well-formed OPT, a TSIG only as the very last record, and no trailing
/// bytes (RFC 1035 §4.1, RFC 6891 §6.1.1, RFC 8945 §5.1). QUERY and NOTIFY (RFC 1996) are read
/// in full; other opcodes are rejected with NOTIMP after the question.
///
/// The offsets of what later stages need are kept, so nothing reads the message twice: the TSIG
/// record, the client's SOA serial of an IXFR (RFC 1995 §3), the serial a NOTIFY announces.
///
/// - Parameters:
///   - packet: the message as received (one UDP datagram, or one TCP frame without its length).
///   - nameBuffer: at least 255 writable bytes; receives the QNAME, uncompressed, case preserved.
public func checkQuery(_ packet: UnsafeRawBufferPointer, nameBuffer: UnsafeMutableRawBufferPointer)
    -> QueryCheck
{
    guard let header = DNSHeader(packet) else { return .drop }
    if header.isResponse { return .drop }

    var reader = WireReader(packet, offset: DNSHeader.length)
    // UPDATE (RFC 2136) is read like the others; the responder answers NOTIMP when there is no
    // member table to update.
    let knownOpcode = header.opcode == .query || header.opcode == .notify || header.opcode == .update
    if let edns = cookieRequest(packet, header: header) {
        return .cookieRequest(header: header, edns: edns)
    }
    guard header.questionCount == 1 else {
        // RFC 1035 §4.1.1: an opcode we do not implement is NOTIMP whatever the sections hold.
        return .reject(knownOpcode ? .formErr : .notImp, header: header, questionEnd: nil, edns: nil)
    }
    let nameLength: Int
    let type: RecordType
    let qclass: DNSClass
    do {
        nameLength = try reader.readName(into: nameBuffer)
        type = RecordType(rawValue: try reader.readUInt16())
        qclass = DNSClass(rawValue: try reader.readUInt16())
    } catch {
        return .reject(knownOpcode ? .formErr : .notImp, header: header, questionEnd: nil, edns: nil)
    }
    let questionEnd = reader.offset

    if !knownOpcode {
        return .reject(.notImp, header: header, questionEnd: questionEnd, edns: nil)
    }

    var edns: EDNSRequest? = nil
    var tsigOffset: Int? = nil
    var clientSerial: UInt32? = nil
    var notifySerial: UInt32? = nil
    do {
        for index in 0..<(Int(header.answerCount) + Int(header.authorityCount)) {
            let recordStart = reader.offset
            let rrType = try skipRecord(&reader)
            // RFC 6891 §6.1.1: OPT belongs only in the additional section; RFC 8945 §5.1: TSIG last.
            guard rrType != .opt, rrType != .tsig else {
                return .reject(.formErr, header: header, questionEnd: questionEnd, edns: nil)
            }
            if rrType == .soa {
                let serial = try soaSerial(packet, recordAt: recordStart)
                if index < Int(header.answerCount) {
                    if header.opcode == .notify { notifySerial = serial }
                } else if type == .ixfr && clientSerial == nil {
                    clientSerial = serial
                }
            }
        }
        for index in 0..<header.additionalCount {
            let recordStart = reader.offset
            try reader.readName(into: nil)
            let rrType = RecordType(rawValue: try reader.readUInt16())
            guard rrType == .opt else {
                reader = WireReader(packet, offset: recordStart)
                try skipRecord(&reader)
                if rrType == .tsig {
                    guard index == header.additionalCount - 1 else {
                        return .reject(.formErr, header: header, questionEnd: questionEnd, edns: edns)
                    }
                    tsigOffset = recordStart
                }
                continue
            }
            // RFC 6891 §6.1.1: one OPT at most, owned by the root.
            guard edns == nil, packet[recordStart] == 0 else {
                return .reject(.formErr, header: header, questionEnd: questionEnd, edns: nil)
            }
            guard let parsed = try readOPT(&reader) else {
                return .reject(.formErr, header: header, questionEnd: questionEnd, edns: nil)
            }
            edns = parsed
        }
    } catch {
        return .reject(.formErr, header: header, questionEnd: questionEnd, edns: edns)
    }
    guard reader.remaining == 0 else {
        return .reject(.formErr, header: header, questionEnd: questionEnd, edns: edns)
    }
    return .query(
        Query(
            header: header, questionEnd: questionEnd, nameLength: nameLength, type: type, qclass: qclass,
            edns: edns, tsigOffset: tsigOffset, clientSerial: clientSerial, notifySerial: notifySerial))
}

/// The OPT of a QUERY that has no question and no record but one well-formed OPT with a COOKIE
/// option (RFC 7873 §5.4); `nil` for anything else, which the usual checks then judge.
private func cookieRequest(_ packet: UnsafeRawBufferPointer, header: DNSHeader) -> EDNSRequest? {
    guard header.opcode == .query, header.questionCount == 0, header.answerCount == 0,
        header.authorityCount == 0, header.additionalCount == 1,
        packet.count > DNSHeader.length, packet[DNSHeader.length] == 0
    else { return nil }
    var reader = WireReader(packet, offset: DNSHeader.length)
    guard (try? reader.readName(into: nil)) != nil, (try? reader.readUInt16()) == RecordType.opt.rawValue,
        let edns = try? readOPT(&reader), edns.cookie != nil, reader.remaining == 0
    else { return nil }
    return edns
}

/// The SERIAL field of the SOA record starting at `offset` (RFC 1035 §3.3.13); the record has
/// already been checked to lie inside the message.
private func soaSerial(_ packet: UnsafeRawBufferPointer, recordAt offset: Int) throws(WireError) -> UInt32 {
    var reader = WireReader(packet, offset: offset)
    try reader.readName(into: nil)
    try reader.skip(8)  // TYPE, CLASS, TTL
    let rdLength = Int(try reader.readUInt16())
    let end = reader.offset + rdLength
    try reader.readName(into: nil)  // MNAME
    try reader.readName(into: nil)  // RNAME
    let serial = try reader.readUInt32()
    guard reader.offset <= end else { throw .truncated(offset: reader.offset) }
    return serial
}

/// Skips one resource record, checking its owner name and that RDLENGTH stays inside the
/// message; returns its TYPE.
@discardableResult
private func skipRecord(_ reader: inout WireReader) throws(WireError) -> RecordType {
    try reader.readName(into: nil)
    let type = RecordType(rawValue: try reader.readUInt16())
    try reader.skip(6)  // CLASS, TTL
    let rdLength = Int(try reader.readUInt16())
    try reader.skip(rdLength)
    return type
}

/// Reads an OPT record's fields after its TYPE (RFC 6891 §6.1.2); `nil` when an option overruns RDATA.
private func readOPT(_ reader: inout WireReader) throws(WireError) -> EDNSRequest? {
    let payloadSize = try reader.readUInt16()
    _ = try reader.readUInt8()  // extended RCODE: meaningless in a query
    let version = try reader.readUInt8()
    let flags = try reader.readUInt16()
    let rdLength = Int(try reader.readUInt16())
    guard reader.remaining >= rdLength else { throw .truncated(offset: reader.offset) }
    let end = reader.offset + rdLength
    var nsidRequested = false
    var expireRequested = false
    var cookie: Range<Int>? = nil
    var keepaliveLength: Int? = nil
    while reader.offset < end {
        guard end - reader.offset >= 4 else { return nil }
        let code = try reader.readUInt16()
        let length = Int(try reader.readUInt16())
        guard end - reader.offset >= length else { return nil }
        switch code {
        case EDNSOptionCode.nsid: nsidRequested = true
        case EDNSOptionCode.expire: expireRequested = true
        case EDNSOptionCode.cookie:
            // RFC 7873 §5.2.2: a COOKIE of a length no cookie can have, or a second one, is FORMERR.
            guard cookie == nil, length == 8 || (16...40).contains(length) else { return nil }
            cookie = reader.offset..<(reader.offset + length)
        case EDNSOptionCode.tcpKeepalive: keepaliveLength = length
        default: break  // unknown options are ignored (RFC 6891 §6.1.2)
        }
        try reader.skip(length)
    }
    return EDNSRequest(
        udpPayloadSize: max(payloadSize, 512), version: version, dnssecOK: flags & 0x8000 != 0,
        nsidRequested: nsidRequested, expireRequested: expireRequested, cookie: cookie,
        keepaliveLength: keepaliveLength)
}
