// The section writer: the state of one response being built, and what every answer source
// shares: writing an RRset into a section, truncation and the header flags and counts (RFC 1035
// §4.1.1). The sources live beside it, one file each: ChaosAnswers, MemberAnswers, ZoneLookup
// with DNSSECProofs, ZoneRequests, and ResponseAccounting for rate limiting
// (docs/ARCHITECTURE.md "The path of a query"); `resolve` in Responder.swift puts them in order.

import DNSGuard
import DNSWire
import DNSZone
import ServingTypes

/// Builds one response after the header checks: the question, then ANSWER, AUTHORITY and
/// ADDITIONAL following RFC 1034 §4.3.2, then the header flags and counts.
///
/// Truncation (RFC 2181 §9, RFC 7766): when ANSWER or AUTHORITY data, or required glue, does not
/// fit, every section is emptied and TC=1 is set, keeping the question (as NSD and Knot do); the
/// client retries over TCP. Additional data that does not fit is left out without TC.
///
/// Its state is this value and the worker's ``ResponderScratch``, so that nothing is allocated per
/// query: the answer sources add no arrays, escaping closures or existentials either.
struct SectionWriter {
    let query: Query
    let packet: UnsafeRawBufferPointer
    let transport: Transport
    let zones: ZoneSet
    let scratch: ResponderScratch
    var writer: MessageWriter
    /// Whether rate limiting needs the accounting name copied out.
    let accountsRate: Bool
    /// The client asked for DNSSEC records (the DO bit, RFC 3225): RRSIGs with every RRset, and
    /// NSEC or NSEC3 proofs for wildcards and denials (RFC 4035 §3.1).
    let dnssecOK: Bool

    var rcode = RCode.noError
    private(set) var truncated = false
    /// An Extended DNS Error to attach when the query has EDNS (RFC 8914 §4).
    private(set) var extendedError: ExtendedError? = nil
    /// How response rate limiting accounts this response, and under which name (lowercase wire
    /// format, in ``ResponderScratch/rateName``): see ResponseAccounting.swift.
    var responseClass = ResponseClass.error
    var rateNameLength = 1
    /// The zone the answer ended in (a CNAME chain may cross into another zone we serve).
    var finalZone: Zone? = nil
    var authoritative = true
    var counts: (answer: UInt16, authority: UInt16, additional: UInt16) = (0, 0, 0)
    /// Entries in use in ``ResponderScratch/additionalTargets``, ``ResponderScratch/visited`` and
    /// ``ResponderScratch/proofs``.
    var targetCount = 0
    var visitedCount = 0
    var proofCount = 0
    private let afterQuestion: MessageWriter.Mark

    enum Section {
        case answer
        case authority
        case additional
    }

    init(
        query: Query, packet: UnsafeRawBufferPointer, transport: Transport, zones: ZoneSet,
        scratch: ResponderScratch, writer: MessageWriter, accountsRate: Bool = false
    ) {
        self.accountsRate = accountsRate
        self.dnssecOK = query.edns?.dnssecOK == true
        if accountsRate { scratch.rateName[0] = 0 }  // the root until a class is known
        self.query = query
        self.packet = packet
        self.transport = transport
        self.zones = zones
        self.scratch = scratch
        self.writer = writer
        // Cannot overflow: the limit is at least 512 minus the OPT, the question at most 259 + 12.
        try! writeHeader(&self.writer, id: query.header.id, flags: 0, questions: 1)
        try! self.writer.append(
            UnsafeRawBufferPointer(rebasing: packet[DNSHeader.length..<query.questionEnd]))
        self.writer.rememberName(at: DNSHeader.length)
        afterQuestion = self.writer.mark
    }

    /// The query name, lowercase, as a view over the scratch.
    var loweredName: NameView {
        NameView(
            loweringName: UnsafeRawBufferPointer(rebasing: scratch.queryName[0..<query.nameLength]),
            storage: scratch.names[0], starts: scratch.labelStarts[0])
    }

    /// Ends with `rcode` and no records.
    mutating func finishEmpty(rcode: RCode, authoritative: Bool, extendedError: ExtendedError? = nil) {
        self.rcode = rcode
        self.authoritative = authoritative
        self.extendedError = extendedError
        finish()
    }

    /// Empties every section and sets TC=1: a slipped response of rate limiting, which tells a
    /// real client to ask again over TCP (as NSD and Knot DNS send it).
    mutating func truncateForRateLimit() {
        truncate()
        finish()
    }

    // MARK: Writing

    /// Writes an RRset into `section`. Returns false when it did not fit: for optional data the
    /// RRset is simply left out, otherwise the whole response is truncated.
    mutating func write(
        _ zone: Zone, _ rrset: RRSetID, owner: UnsafeRawBufferPointer, to section: Section,
        ttlCap: UInt32 = .max, optional: Bool = false
    ) -> Bool {
        let mark = writer.mark
        do {
            let written = UInt16(
                try zone.write(rrset, owner: owner, ttlCap: ttlCap, signatures: dnssecOK, into: &writer))
            switch section {
            case .answer: counts.answer += written
            case .authority: counts.authority += written
            case .additional: counts.additional += written
            }
            return true
        } catch {
            writer.rollback(to: mark)
            if !optional { truncate() }
            return false
        }
    }

    /// Empties every section, keeping the question, and notes TC=1 (RFC 2181 §9).
    mutating func truncate() {
        writer.rollback(to: afterQuestion)
        counts = (0, 0, 0)
        truncated = true
    }

    /// Sets the header flags and section counts.
    mutating func finish() {
        var flags = responseFlags(echoing: query.header.flags, rcode: rcode)
        if authoritative { flags |= DNSHeader.Flag.aa }
        if truncated { flags |= DNSHeader.Flag.tc }
        writer.patch(flags, at: 2)
        writer.patch(counts.answer, at: 6)
        writer.patch(counts.authority, at: 8)
        writer.patch(counts.additional, at: 10)
    }
}
