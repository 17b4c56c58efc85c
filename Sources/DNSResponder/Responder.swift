import DNSAuth
import DNSGuard
import DNSWire
import DNSZone
import Members
import ServingTypes

/// A response ready to send: bytes in the scratch memory, valid until the next query answered
/// with the same scratch, plus what metrics and the transport need.
public struct Response {
    public var bytes: UnsafeRawBufferPointer
    public var rcode: RCode
    public var truncated: Bool
    public var queryType: RecordType
    /// Work for the transport or the zone service beyond sending ``bytes``.
    public var followUp: FollowUp? = nil
    /// Set when rate limiting acted on the response; `.dropped` leaves ``bytes`` empty.
    public var rateLimit: RateLimitAction? = nil
    /// The class rate limiting accounted the response under (``rateLimit`` is set).
    public var responseClass: ResponseClass = .error
    /// What the query's COOKIE option held (RFC 7873 §5.2), for metrics.
    public var cookie: CookieState = .none
}

/// The DNS cookie a query carried (RFC 7873 §5.2).
public enum CookieState: Sendable, Equatable {
    case none
    /// A client cookie alone, or with a server cookie we did not make or that expired.
    case clientOnly
    /// A server cookie made here (or at a site sharing the secret), still valid.
    case valid
}

/// Answers queries: bytes in, bytes out, from an immutable ``ZoneSet`` (a pure function; see
/// docs/ARCHITECTURE.md). No sockets, no clocks, no locks; every transport drives this one type.
///
/// A query passes through stages, in order:
/// 1. the door (`checkQuery`): the bytes are checked once, offsets of TSIG and SOA serials kept;
/// 2. authentication: a TSIG record is verified here and nowhere else (RFC 8945 §5.2); a request
///    that fails gets NOTAUTH with the TSIG error;
/// 3. dispatch by opcode and type: NOTIFY (RFC 1996), AXFR/IXFR (RFC 5936, RFC 1995), UPDATE of
///    the member table (RFC 2136), or an ordinary query (RFC 1034 §4.3.2), put to its answer
///    sources in order: CHAOS, the member table, the zones (``SectionWriter/resolve``);
/// 4. before the answer: the COOKIE option is checked (RFC 7873 §5.2); under load, a UDP query
///    without a valid server cookie gets BADCOOKIE instead of an answer;
/// 5. after the answer, over UDP: response rate limiting drops it, or sends it truncated, when
///    the client's prefix is over the rate for its response class (valid cookies are exempt);
/// 6. the closing: OPT (RFC 6891) with NSID, EXPIRE, COOKIE, edns-tcp-keepalive and Extended
///    DNS Errors, then the TSIG signature when the request was signed.
public struct Responder: Sendable {
    public var identity: ServerIdentity
    public var access: AccessPolicy
    public var defenses: Defenses
    /// The `.any` member table: least-sessions answers, member names, RFC 2136 member updates.
    public var members: MemberTable?

    public init(
        identity: ServerIdentity, access: AccessPolicy = AccessPolicy(), defenses: Defenses = Defenses(),
        members: MemberTable? = nil
    ) {
        self.identity = identity
        self.access = access
        self.defenses = defenses
        self.members = members
    }

    /// Answers one query, or returns `nil` when nothing must be sent (RFC 1035 §4.1.1: a QR=1
    /// message; a message too short to carry an ID).
    public func respond(
        to packet: UnsafeRawBufferPointer, context: QueryContext, zones: ZoneSet, scratch: ResponderScratch
    ) -> Response? {
        switch checkQuery(packet, nameBuffer: scratch.queryName) {
        case .drop:
            return nil
        case .cookieRequest(let header, let edns):
            return limitingError(
                cookieResponse(
                    header: header, edns: edns, packet: packet, context: context, scratch: scratch),
                context: context, scratch: scratch)
        case .reject(let rcode, let header, let questionEnd, _):
            return limitingError(
                errorResponse(
                    rcode, header: header, packet: packet, questionEnd: questionEnd, scratch: scratch),
                context: context, scratch: scratch)
        case .query(let query):
            var signer: TSIGSigner? = nil
            var verifiedKey: DomainName? = nil
            if query.tsigOffset != nil {
                switch verifyRequest(
                    packet, tsigOffset: query.tsigOffset, keyring: access.keyring, now: context.now)
                {
                case .valid(let key, let record):
                    signer = TSIGSigner(key: key, requestMAC: record.mac)
                    verifiedKey = key.name
                case .rejected(let error, let key, let record):
                    return limitingError(
                        tsigErrorResponse(
                            query, packet: packet, error: error, key: key, record: record, context: context,
                            scratch: scratch),
                        context: context, scratch: scratch)
                case .malformed, .unsigned:
                    return limitingError(
                        errorResponse(
                            .formErr, header: query.header, packet: packet, questionEnd: query.questionEnd,
                            scratch: scratch),
                        context: context, scratch: scratch)
                }
            }
            return answer(
                query, packet: packet, context: context, zones: zones, scratch: scratch, signer: signer,
                verifiedKey: verifiedKey)
        }
    }

    /// Answers with only a transport (tests and self-probes): the loopback client, time zero.
    public func respond(
        to packet: UnsafeRawBufferPointer, transport: Transport, zones: ZoneSet, scratch: ResponderScratch
    ) -> Response? {
        respond(to: packet, context: .local(transport), zones: zones, scratch: scratch)
    }

    /// FORMERR / NOTIMP / REFUSED with the question echoed when it could be parsed, and no OPT
    /// (as Knot DNS does; NSD sends the header alone).
    private func errorResponse(
        _ rcode: RCode, header: DNSHeader, packet: UnsafeRawBufferPointer, questionEnd: Int?,
        scratch: ResponderScratch
    ) -> Response {
        var writer = MessageWriter(scratch: scratch.response)
        // Cannot overflow: at most 12 + 259 octets into 65,535.
        try! writeHeader(
            &writer, id: header.id, flags: responseFlags(echoing: header.flags, rcode: rcode),
            questions: questionEnd == nil ? 0 : 1)
        if let questionEnd {
            try! writer.append(UnsafeRawBufferPointer(rebasing: packet[DNSHeader.length..<questionEnd]))
        }
        return Response(
            bytes: writer.bytes, rcode: rcode, truncated: false, queryType: RecordType(rawValue: 0))
    }

    /// NOTAUTH for a request whose TSIG failed (RFC 8945 §5.2): BADKEY and BADSIG answers carry
    /// an unsigned TSIG echoing the request's; BADTIME answers are signed and carry our time.
    private func tsigErrorResponse(
        _ query: Query, packet: UnsafeRawBufferPointer, error: TSIGErrorCode, key: TSIGKey?,
        record: TSIGRecord,
        context: QueryContext, scratch: ResponderScratch
    ) -> Response {
        var writer = MessageWriter(scratch: scratch.response)
        try! writeHeader(
            &writer, id: query.header.id, flags: responseFlags(echoing: query.header.flags, rcode: .notAuth),
            questions: 1)
        try! writer.append(UnsafeRawBufferPointer(rebasing: packet[DNSHeader.length..<query.questionEnd]))
        if error == .badTime, let key {
            // RFC 8945 §5.2.3: signed, with our time as other data.
            var signer = TSIGSigner(key: key, requestMAC: record.mac)
            try! signer.sign(
                &writer, time: record.timeSigned, fudge: record.fudge, error: .badTime,
                otherData: badTimeOtherData(now: context.now))
        } else if error == .badTrunc, let key {
            // RFC 8945 §5.3.2: signed, at our time.
            var signer = TSIGSigner(key: key, requestMAC: record.mac)
            try! signer.sign(&writer, time: context.now, fudge: record.fudge, error: .badTrunc)
        } else {
            try! appendUnsignedTSIG(&writer, echoing: record, error: error)
        }
        return Response(bytes: writer.bytes, rcode: .notAuth, truncated: false, queryType: query.type)
    }

    /// The root name, the key of the error class (one bucket per client prefix).
    private static let rootName: [UInt8] = [0]

    /// Rate limits an error made before the sections (FORMERR, NOTIMP, TSIG errors) in the client
    /// prefix's error bucket: malformed floods are limited too. A slipped one gets TC=1.
    private func limitingError(_ response: Response, context: QueryContext, scratch: ResponderScratch)
        -> Response
    {
        guard
            let (action, started) = Self.rootName.withUnsafeBytes({
                rateLimit(.error, name: $0, context: context, scratch: scratch)
            })
        else { return response }
        var limited = response
        limited.rateLimit = action
        if let started { limited.followUp = started }
        switch action {
        case .dropped: limited.bytes = UnsafeRawBufferPointer(start: response.bytes.baseAddress, count: 0)
        case .slipped:
            UnsafeMutableRawBufferPointer(mutating: response.bytes)[2] |= UInt8(DNSHeader.Flag.tc >> 8)
            limited.truncated = true
        case .logged: break
        }
        return limited
    }

    /// The rate limiting stage, after the answer (UDP only; TCP is never limited): counts the
    /// response and says what to do with it when the client's prefix is over the rate, with a
    /// `ServingEvent.rateLimited` to log when this is the first response over it this second.
    private func rateLimit(
        _ responseClass: ResponseClass, name: UnsafeRawBufferPointer, context: QueryContext,
        scratch: ResponderScratch
    ) -> (RateLimitAction, started: FollowUp?)? {
        guard context.transport == .udp, let limiter = defenses.rateLimiter,
            !limiter.isExempt(context.client),
            case .over(let excess) = limiter.count(
                client: context.client, responseClass: responseClass, name: name, now: context.now,
                scratch: scratch.rateKey)
        else { return nil }
        let action: RateLimitAction = limiter.logOnly ? .logged : limiter.slips(excess) ? .slipped : .dropped
        let started =
            excess == 1
            ? FollowUp.event(
                .rateLimited(
                    prefix: limiter.prefix(of: context.client), responseClass: responseClass, action: action))
            : nil
        return (action, started)
    }

    private func answer(
        _ query: Query, packet: UnsafeRawBufferPointer, context: QueryContext, zones: ZoneSet,
        scratch: ResponderScratch, signer: TSIGSigner?, verifiedKey: DomainName?
    ) -> Response {
        let transport = context.transport
        // Size limit (RFC 6891 §6.2.3-6.2.5, RFC 9715): the client's payload size, at most ours;
        // 512 without EDNS; 65,535 over TCP. Room for our OPT and TSIG is kept aside.
        var limit: Int
        var optLength = 0
        var nsid =
            identity.nsidEnabled && query.edns?.nsidRequested == true ? identity.identity.utf8.count : -1
        let expire = query.edns?.expireRequested == true
        // RFC 7873 §5.2: a client cookie always gets a server cookie back; a valid server cookie
        // proves the client saw our answers at this address.
        let cookie = query.edns?.cookie
        let cookieState = cookie.map { self.cookieState($0, packet: packet, context: context) } ?? .none
        // RFC 7828 §3.3.2: over TCP, a client's keepalive option is answered with our timeout.
        let keepalive = transport == .tcp ? query.edns?.keepaliveLength : nil
        if let edns = query.edns {
            optLength =
                11 + (nsid >= 0 ? 4 + nsid : 0) + (expire ? 8 : 0)
                + (cookie != nil ? 4 + ServerCookies.optionLength : 0)
                + (keepalive != nil ? 6 : 0) + 6  // an Extended DNS Error without text
            limit =
                transport == .tcp
                ? ResponseScratch.messageCapacity
                : min(Int(edns.udpPayloadSize), ResponderLimits.ednsPayloadSize)
        } else {
            limit = transport == .tcp ? ResponseScratch.messageCapacity : ResponderLimits.classicUDPSize
        }
        let tsigLength = signer?.recordLength ?? 0
        // The header and question must fit beside the OPT and the TSIG. A long identity gives up
        // its NSID (an option the client only asked for); past that (a long key name and a long
        // question in 512 octets), the limit grows to what the closing needs rather than trap.
        if nsid >= 0 && limit - optLength - tsigLength < query.questionEnd {
            optLength -= 4 + nsid
            nsid = -1
        }
        limit = max(limit, query.questionEnd + optLength + tsigLength)
        var writer = MessageWriter(scratch: scratch.response, limit: limit - optLength - tsigLength)
        var section = SectionWriter(
            query: query, packet: packet, transport: transport, zones: zones, scratch: scratch,
            writer: writer,
            // A member update signed with a verified key is not rate limited: members behind one
            // prefix report often, and their updates must not be dropped (README "Anycast services").
            accountsRate: transport == .udp && defenses.rateLimiter != nil && cookieState != .valid
                && !(query.header.opcode == .update && verifiedKey != nil))
        var followUp: FollowUp? = nil
        var rateAction: RateLimitAction? = nil
        if let edns = query.edns, edns.version > 0 {
            // RFC 6891 §6.1.3: unknown version → BADVERS, nothing but the question and our OPT.
            section.finishEmpty(rcode: .badVers, authoritative: false)
        } else if let keepalive, keepalive != 0 {
            // RFC 7828 §3.2.1: a client sends the option empty; anything else is FORMERR.
            section.finishEmpty(rcode: .formErr, authoritative: false)
        } else if cookieState == .clientOnly && transport == .udp && context.underLoad
            && defenses.requireCookiesUnderLoad
        {
            // RFC 7873 §5.2.3: under load, ask for the server cookie before answering.
            section.finishEmpty(rcode: .badCookie, authoritative: false)
        } else if query.header.opcode == .update {
            followUp = update(
                packet, context: context, section: &section, verifiedKey: verifiedKey, zones: zones)
        } else if query.header.opcode == .notify {
            followUp = notify(query, context: context, section: &section, verifiedKey: verifiedKey)
        } else if query.type == .axfr || query.type == .ixfr {
            followUp = transfer(
                query, packet: packet, context: context, section: &section, signer: signer,
                verifiedKey: verifiedKey)
            if case .transfer = followUp {
                return Response(
                    bytes: UnsafeRawBufferPointer(start: scratch.response.message.baseAddress, count: 0),
                    rcode: .noError, truncated: false, queryType: query.type, followUp: followUp)
            }
        } else {
            section.resolve(identity: identity, members: members)
        }
        // Every UDP answer is accounted, BADCOOKIE, BADVERS and refused NOTIFYs too (in the error
        // bucket): none of them may be reflected at a spoofed address without limit.
        if section.accountsRate,
            let (action, started) = rateLimit(
                section.responseClass,
                name: UnsafeRawBufferPointer(rebasing: scratch.rateName[0..<section.rateNameLength]),
                context: context, scratch: scratch)
        {
            rateAction = action
            if followUp == nil { followUp = started }
            switch action {
            case .dropped:
                return Response(
                    bytes: UnsafeRawBufferPointer(start: scratch.response.message.baseAddress, count: 0),
                    rcode: section.rcode, truncated: false, queryType: query.type, followUp: followUp,
                    rateLimit: .dropped, responseClass: section.responseClass, cookie: cookieState)
            case .slipped: section.truncateForRateLimit()
            case .logged: break
            }
        }
        writer = section.writer
        writer.limit = limit - tsigLength
        if let edns = query.edns {
            // Cannot overflow: room for the OPT was kept aside above.
            try! appendOPTHeader(&writer, rcode: section.rcode, dnssecOK: edns.dnssecOK)
            let rdLengthOffset = writer.count
            try! writer.append(UInt16(0))
            if nsid >= 0 {
                try! writer.append(EDNSOptionCode.nsid)
                try! writer.append(UInt16(nsid))
                var text = identity.identity
                text.withUTF8 { try! writer.append(UnsafeRawBufferPointer($0)) }
            }
            if expire, let seconds = section.expireSeconds(now: context.now) {
                // RFC 7314 §2: the expire timer, counted down on a secondary.
                try! writer.append(EDNSOptionCode.expire)
                try! writer.append(UInt16(4))
                try! writer.append(seconds)
            }
            if let cookie {
                // Cannot overflow: its 28 octets were kept aside with the OPT.
                try! appendCookie(&writer, packet: packet, cookie: cookie, context: context)
            }
            if keepalive != nil {
                // RFC 7828 §3.1: our idle timeout, in units of 100 ms.
                try! writer.append(EDNSOptionCode.tcpKeepalive)
                try! writer.append(UInt16(2))
                try! writer.append(defenses.tcpKeepalive)
            }
            if let extendedError = section.extendedError {
                // RFC 8914 §2: INFO-CODE, no EXTRA-TEXT.
                try! writer.append(EDNSOptionCode.extendedError)
                try! writer.append(UInt16(2))
                try! writer.append(extendedError.rawValue)
            }
            writer.patch(UInt16(writer.count - rdLengthOffset - 2), at: rdLengthOffset)
            writer.patch(writer.uint16(at: 10) + 1, at: 10)
        }
        if var signer {
            writer.limit = limit
            // Cannot overflow: room for the TSIG was kept aside above.
            try! signer.sign(&writer, time: context.now)
        }
        return Response(
            bytes: writer.bytes, rcode: section.rcode, truncated: section.truncated, queryType: query.type,
            followUp: followUp, rateLimit: rateAction, responseClass: section.responseClass,
            cookie: cookieState)
    }

    /// The COOKIE option of an answer (RFC 7873 §5.2): the client cookie, then a fresh server
    /// cookie (RFC 9018 §4).
    private func appendCookie(
        _ writer: inout MessageWriter, packet: UnsafeRawBufferPointer, cookie: Range<Int>,
        context: QueryContext
    ) throws(WriteOverflow) {
        try writer.append(EDNSOptionCode.cookie)
        try writer.append(UInt16(ServerCookies.optionLength))
        let clientCookie = UnsafeRawBufferPointer(
            rebasing: packet[cookie.lowerBound..<(cookie.lowerBound + 8)])
        try writer.append(clientCookie)
        try withUnsafeTemporaryAllocation(byteCount: ServerCookies.serverCookieLength, alignment: 8) {
            (serverCookie) throws(WriteOverflow) in
            defenses.cookies.writeServerCookie(
                clientCookie: clientCookie, client: context.client, now: context.now, into: serverCookie)
            try writer.append(UnsafeRawBufferPointer(serverCookie))
        }
    }

    /// A query for a server cookie alone (RFC 7873 §5.4): no question, an OPT with our COOKIE;
    /// NOERROR, or BADCOOKIE when the client sent a server cookie that is not valid.
    private func cookieResponse(
        header: DNSHeader, edns: EDNSRequest, packet: UnsafeRawBufferPointer, context: QueryContext,
        scratch: ResponderScratch
    ) -> Response {
        let cookie = edns.cookie!
        let state = cookieState(cookie, packet: packet, context: context)
        let rcode: RCode =
            cookie.count > ServerCookies.clientCookieLength && state != .valid ? .badCookie : .noError
        var writer = MessageWriter(scratch: scratch.response)
        // Cannot overflow: 12 + 11 + 28 octets into 65,535.
        try! writeHeader(
            &writer, id: header.id, flags: responseFlags(echoing: header.flags, rcode: rcode), questions: 0)
        try! appendOPTHeader(&writer, rcode: rcode, dnssecOK: edns.dnssecOK)
        try! writer.append(UInt16(4 + ServerCookies.optionLength))
        try! appendCookie(&writer, packet: packet, cookie: cookie, context: context)
        writer.patch(1, at: 10)  // ARCOUNT
        return Response(
            bytes: writer.bytes, rcode: rcode, truncated: false, queryType: RecordType(rawValue: 0),
            cookie: state)
    }

    /// What a COOKIE option holds (RFC 7873 §5.2): a valid server cookie proves the client saw
    /// our answers at this address; anything else counts as a client cookie alone.
    private func cookieState(_ cookie: Range<Int>, packet: UnsafeRawBufferPointer, context: QueryContext)
        -> CookieState
    {
        defenses.cookies.isValid(
            UnsafeRawBufferPointer(rebasing: packet[cookie]), client: context.client, now: context.now)
            ? .valid : .clientOnly
    }

    /// NOTIFY (RFC 1996 §3.7, §4.7): for a zone we serve and from an allowed sender, answer
    /// NOERROR with the question echoed and pass it on; otherwise REFUSED (as NSD and Knot do).
    private func notify(
        _ query: Query, context: QueryContext, section: inout SectionWriter, verifiedKey: DomainName?
    ) -> FollowUp? {
        guard query.type == .soa, let origin = section.exactZoneOrigin() else {
            section.finishEmpty(rcode: .notAuth, authoritative: false)
            return nil
        }
        guard access.access(origin).allowNotify.allows(context.client, verifiedKey: verifiedKey) else {
            section.finishEmpty(rcode: .refused, authoritative: false, extendedError: .prohibited)
            return .event(.refused(origin: origin, client: context.client, request: "NOTIFY"))
        }
        section.finishEmpty(rcode: .noError, authoritative: true)
        return .zone(.notify(origin: origin, serial: query.notifySerial, from: context.client))
    }

    /// UPDATE (RFC 2136) of the member table (README "Anycast services"): applied whole, or
    /// refused with nothing changed. Without services, UPDATE is not implemented (NOTIMP), as before.
    private func update(
        _ packet: UnsafeRawBufferPointer, context: QueryContext, section: inout SectionWriter,
        verifiedKey: DomainName?, zones: ZoneSet
    ) -> FollowUp? {
        guard let members, !members.services.isEmpty else {
            section.finishEmpty(rcode: .notImp, authoritative: false)
            return nil
        }
        guard let message = try? ReceivedMessage(packet) else {
            section.finishEmpty(rcode: .formErr, authoritative: false)
            return nil
        }
        let result = MemberUpdate.changes(
            in: message, key: verifiedKey?.lowercased(), services: members.services,
            isServedZone: { zones.zone(named: $0) != nil })
        switch result {
        case .success(let changes):
            members.apply(changes)
            section.finishEmpty(rcode: .noError, authoritative: false)
            return .event(
                .memberUpdate(client: context.client, key: verifiedKey, changes: changes, refusal: nil))
        case .failure(let refusal):
            section.finishEmpty(rcode: refusal.rcode, authoritative: false)
            return .event(
                .memberUpdate(client: context.client, key: verifiedKey, changes: [], refusal: refusal.reason))
        }
    }

    /// AXFR (RFC 5936) and IXFR (RFC 1995): only for a zone apex we serve and an allowed client.
    /// Over UDP, AXFR is not implemented (RFC 5936 §4.2) and IXFR gets our SOA alone, telling the
    /// client to come back over TCP (RFC 1995 §2); over TCP the transport streams the answer.
    private func transfer(
        _ query: Query, packet: UnsafeRawBufferPointer, context: QueryContext, section: inout SectionWriter,
        signer: TSIGSigner?, verifiedKey: DomainName?
    ) -> FollowUp? {
        let request = query.type == .axfr ? "AXFR" : "IXFR"
        if query.type == .axfr && context.transport == .udp {
            section.finishEmpty(rcode: .notImp, authoritative: false)
            return nil
        }
        guard let zone = section.exactZone() else {
            section.finishEmpty(
                rcode: section.isUnavailableZone() ? .servFail : .notAuth, authoritative: false)
            return nil
        }
        guard access.access(zone.origin).allowTransfer.allows(context.client, verifiedKey: verifiedKey) else {
            section.finishEmpty(rcode: .refused, authoritative: false, extendedError: .prohibited)
            return .event(.refused(origin: zone.origin, client: context.client, request: request))
        }
        if context.transport == .udp {
            section.answerSOA(zone)
            return nil
        }
        return .transfer(
            TransferRequest(
                zone: zone, clientSerial: query.type == .ixfr ? query.clientSerial : nil, id: query.header.id,
                question: Array(packet[DNSHeader.length..<query.questionEnd]), queryFlags: query.header.flags,
                signer: signer, now: context.now, client: context.client))
    }
}

extension SectionWriter {
    /// Answers an ordinary query (RFC 1034 §4.3.2) from its answer sources, in this order, as a
    /// chain of handlers: each one either finishes the response or passes the query on.
    /// 1. CHAOS (ChaosAnswers.swift; RFC 4892): class CH, from the server's identity and
    ///    version, never from zone data.
    /// 2. The zone of the name (ZoneLookup.swift; RFC 1034 §4.3.2 step 2): the deepest zone
    ///    served here at or above it, the parent's for DS at a zone apex (RFC 4035 §3.1.4.1).
    ///    A class other than IN and ANY, or a name outside every zone, is REFUSED; a zone
    ///    configured but not servable is SERVFAIL (RFC 1034 §4.3.5).
    /// 3. The member table (MemberAnswers.swift; README "Anycast services"), in class IN: the
    ///    names it owns in that zone, in front of the zone's own data.
    /// 4. The zone's data (ZoneLookup.swift; RFC 1034 §4.3.2 steps 3 and 6), with the NSEC or NSEC3
    ///    proofs of a signed zone (DNSSECProofs.swift; RFC 4035 §3.1.3, RFC 5155 §7.2).
    ///
    /// Each source notes how rate limiting accounts its answer (ResponseAccounting.swift).
    mutating func resolve(identity: ServerIdentity, members: MemberTable? = nil) {
        let name = loweredName
        if answerChaos(name, identity: identity) { return }
        guard let (zone, apexLabels) = zoneOfQuery(name) else { return }
        if let members, answerFromMembers(name, zone: zone, members: members) { return }
        answerFromZone(name, apexLabels: apexLabels, in: zone)
    }
}

/// The flags of a response (RFC 1035 §4.1.1): QR, the query's opcode, RD and CD echoed, and the
/// low four bits of `rcode`; AA and TC are the caller's. For an opcode we do not implement
/// (anything but QUERY, NOTIFY and UPDATE), RD and CD are cleared, as BIND does: their meaning is
/// defined per opcode, so there is nothing we could echo (ISC's genreport, test `opcodeflg`).
func responseFlags(echoing queryFlags: UInt16, rcode: RCode) -> UInt16 {
    let opcode = (queryFlags >> 11) & 0xF
    let implemented = opcode == 0 || opcode == 4 || opcode == 5
    let echoed: UInt16 = 0x7800 | (implemented ? DNSHeader.Flag.rd | DNSHeader.Flag.cd : 0)
    return DNSHeader.Flag.qr | (queryFlags & echoed) | UInt16(rcode.headerBits)
}

/// Everything of an OPT record (RFC 6891 §6.1.2) before its RDLENGTH: root owner, type, our
/// payload size, the extended RCODE, version 0 and the DO bit echoed.
func appendOPTHeader(_ writer: inout MessageWriter, rcode: RCode, dnssecOK: Bool) throws(WriteOverflow) {
    try writer.append(UInt8(0))
    try writer.append(RecordType.opt.rawValue)
    try writer.append(UInt16(ResponderLimits.ednsPayloadSize))
    try writer.append(UInt32(rcode.extendedBits) << 24 | (dnssecOK ? 0x8000 : 0))
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
