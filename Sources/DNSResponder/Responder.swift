import DNSWire
import DNSZone

/// How the query arrived; it decides the size limit (RFC 1035 §4.2, RFC 7766).
public enum Transport: Sendable {
    case udp
    case tcp
}

/// A response ready to send: bytes in the scratch memory, valid until the next query answered
/// with the same scratch, plus what metrics need.
public struct Response {
    public var bytes: UnsafeRawBufferPointer
    public var rcode: RCode
    public var truncated: Bool
    public var queryType: RecordType
}

/// Answers queries: bytes in, bytes out, from an immutable ``ZoneSet`` (STYLE.md: a responder that
/// is a pure function). No sockets, no clocks, no locks; every transport drives this one type.
public struct Responder: Sendable {
    public var identity: ServerIdentity

    public init(identity: ServerIdentity) {
        self.identity = identity
    }

    /// Answers one query, or returns `nil` when nothing must be sent (RFC 1035 §4.1.1: a QR=1
    /// message; a message too short to carry an ID).
    public func respond(
        to packet: UnsafeRawBufferPointer, transport: Transport, zones: ZoneSet, scratch: ResponderScratch
    ) -> Response? {
        switch checkQuery(packet, nameBuffer: scratch.queryName) {
        case .drop:
            return nil
        case .reject(let rcode, let header, let questionEnd, _):
            // RFC 1996 §3.10 / NSD: a NOTIFY we have no ACL for is refused, other opcodes are NOTIMP.
            let code = header.opcode == .notify ? RCode.refused : rcode
            return errorResponse(
                code, header: header, packet: packet, questionEnd: questionEnd, scratch: scratch)
        case .query(let query):
            return answer(query, packet: packet, transport: transport, zones: zones, scratch: scratch)
        }
    }

    /// FORMERR / NOTIMP / REFUSED with the question echoed when it could be parsed, and no OPT
    /// (as Knot DNS does; NSD sends the header alone).
    private func errorResponse(
        _ rcode: RCode, header: DNSHeader, packet: UnsafeRawBufferPointer, questionEnd: Int?,
        scratch: ResponderScratch
    ) -> Response {
        var writer = MessageWriter(scratch: scratch.response)
        let flags =
            DNSHeader.Flag.qr | (header.flags & (0x7800 | DNSHeader.Flag.rd | DNSHeader.Flag.cd))
            | UInt16(rcode.headerBits)
        // Cannot overflow: at most 12 + 259 octets into 65,535.
        try! writeHeader(&writer, id: header.id, flags: flags, questions: questionEnd == nil ? 0 : 1)
        if let questionEnd {
            try! writer.append(UnsafeRawBufferPointer(rebasing: packet[DNSHeader.length..<questionEnd]))
        }
        return Response(
            bytes: writer.bytes, rcode: rcode, truncated: false, queryType: RecordType(rawValue: 0))
    }

    private func answer(
        _ query: Query, packet: UnsafeRawBufferPointer, transport: Transport, zones: ZoneSet,
        scratch: ResponderScratch
    ) -> Response {
        // Size limit (RFC 6891 §6.2.3-6.2.5, RFC 9715): the client's payload size, at most ours;
        // 512 without EDNS; 65,535 over TCP. Room for our OPT is kept aside.
        var limit: Int
        var optLength = 0
        let nsid =
            identity.nsidEnabled && query.edns?.nsidRequested == true ? identity.identity.utf8.count : -1
        if let edns = query.edns {
            optLength = 11 + (nsid >= 0 ? 4 + nsid : 0)
            limit =
                transport == .tcp
                ? ResponseScratch.messageCapacity
                : min(Int(edns.udpPayloadSize), ResponderLimits.ednsPayloadSize)
        } else {
            limit = transport == .tcp ? ResponseScratch.messageCapacity : ResponderLimits.classicUDPSize
        }
        var writer = MessageWriter(scratch: scratch.response, limit: limit - optLength)
        var section = SectionWriter(
            query: query, packet: packet, transport: transport, zones: zones, scratch: scratch, writer: writer
        )

        if let edns = query.edns, edns.version > 0 {
            // RFC 6891 §6.1.3: unknown version → BADVERS, nothing but the question and our OPT.
            section.finishEmpty(rcode: .badVers, authoritative: false)
        } else {
            section.resolve(identity: identity)
        }
        writer = section.writer
        writer.limit = limit
        if let edns = query.edns {
            let rcode = section.rcode
            // Cannot overflow: room for the OPT was kept aside above.
            try! writer.append(UInt8(0))  // root owner
            try! writer.append(RecordType.opt.rawValue)
            try! writer.append(UInt16(ResponderLimits.ednsPayloadSize))
            try! writer.append(UInt32(rcode.extendedBits) << 24 | (edns.dnssecOK ? 0x8000 : 0))
            if nsid >= 0 {
                try! writer.append(UInt16(4 + nsid))
                try! writer.append(EDNSOptionCode.nsid)
                try! writer.append(UInt16(nsid))
                var text = identity.identity
                text.withUTF8 { try! writer.append(UnsafeRawBufferPointer($0)) }
            } else {
                try! writer.append(UInt16(0))
            }
            writer.patch(writer.uint16(at: 10) + 1, at: 10)
        }
        return Response(
            bytes: writer.bytes, rcode: section.rcode, truncated: section.truncated, queryType: query.type)
    }
}

/// Writes the 12-octet header (RFC 1035 §4.1.1); counts are patched once sections are done.
func writeHeader(_ writer: inout MessageWriter, id: UInt16, flags: UInt16, questions: UInt16)
    throws(WriteOverflow)
{
    try writer.append(id)
    try writer.append(flags)
    try writer.append(questions)
    try writer.append(UInt16(0))
    try writer.append(UInt16(0))
    try writer.append(UInt16(0))
}
