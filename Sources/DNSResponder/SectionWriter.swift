import DNSAuth
import DNSGuard
import DNSWire
import DNSZone
import Members
import ServingTypes

/// Builds one response after the header checks: the question, then ANSWER, AUTHORITY and
/// ADDITIONAL following RFC 1034 §4.3.2, then the header flags and counts.
///
/// Truncation (RFC 2181 §9, RFC 7766): when ANSWER or AUTHORITY data, or required glue, does not
/// fit, every section is emptied and TC=1 is set, keeping the question (as NSD and Knot do); the
/// client retries over TCP. Additional data that does not fit is left out without TC.
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
    private var finalZone: Zone? = nil
    var authoritative = true
    var counts: (answer: UInt16, authority: UInt16, additional: UInt16) = (0, 0, 0)
    private var targetCount = 0
    private var visitedCount = 0
    var proofCount = 0
    private let afterQuestion: MessageWriter.Mark

    /// The types added for NS, MX and SRV targets; a constant, so no array is built per query.
    private static let addressTypes: [RecordType] = [.a, .aaaa]

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

    mutating func resolve(identity: ServerIdentity, members: MemberTable? = nil) {
        let name = loweredName
        if answerChaos(name, identity: identity) { return }
        switch query.qclass {
        case .internet, .any:
            break
        default:
            return finishEmpty(rcode: .refused, authoritative: false, extendedError: .notAuthoritative)
        }
        let zone: Zone
        let apexLabels: Int
        switch match(name) {
        case .zone(let found, let labels):
            (zone, apexLabels) = (found, labels)
        case .unavailable:
            // A zone configured but not loaded, not yet transferred or expired (RFC 1034 §4.3.5):
            // SERVFAIL, as NSD and Knot DNS answer.
            return finishEmpty(rcode: .servFail, authoritative: false, extendedError: .notReady)
        case .none:
            return finishEmpty(rcode: .refused, authoritative: false, extendedError: .notAuthoritative)
        }
        if let members, answerFromMembers(name, zone: zone, members: members) {
            return
        }
        follow(name, apexLabels: apexLabels, in: zone)
        if !truncated { writeProofs() }
        if !truncated, let finalZone { writeAdditional(finalZone) }
        finish()
    }

    /// The zone `name` is answered from: the deepest zone at or above it, except that DS at a
    /// zone's apex comes from the parent side of the cut when the parent is served here too
    /// (RFC 4035 §3.1.4.1), even while the child zone is unavailable.
    private func match(_ name: NameView) -> ZoneSet.Match {
        let found = zones.match(name)
        guard query.type == .ds else { return found }
        switch found {
        case .zone(_, 0), .unavailable(0):
            let parent = zones.match(name, droppingAtLeast: 1)
            if case .zone = parent { return parent }
            return found
        default:
            return found
        }
    }

    // MARK: RFC 1034 §4.3.2 step 3

    /// Looks `name` up and writes what it finds, following CNAME and DNAME chains, also into
    /// another zone this server is authoritative for (RFC 1034 §4.3.2 step 3a, as NSD and BIND
    /// do); a chain stops at a loop and at a name outside every zone served here.
    private mutating func follow(_ start: NameView, apexLabels apexStart: Int, in startZone: Zone) {
        var name = start
        var apexLabels = apexStart
        var zone = startZone
        var buffer = 0
        for hop in 0...ResponderLimits.maxChain {
            finalZone = zone
            let result = zone.lookup(name, apexLabels: apexLabels, type: query.type)
            if hop == 0 { account(result, name: name, zone: zone) }
            if dnssecOK && zone.denialMethod != nil {
                prove(result, name: name, apexLabels: apexLabels, zone: zone)
            }
            switch result {
            case .answer(_, let rrset, _):
                if write(zone, rrset, owner: name.bytes, to: .answer) {
                    collectTargets(zone, rrset, cut: nil)
                }
                return
            case .any(let node, _):
                // RFC 8482 §4.2: one RRset, not the whole node.
                if let rrset = zone.firstRRSet(at: node), write(zone, rrset, owner: name.bytes, to: .answer) {
                    collectTargets(zone, rrset, cut: nil)
                }
                return
            case .cname(let node, let rrset, _):
                // RFC 1034 §3.6.2 and RFC 2181 §10.1: each CNAME once, a repeat ends the chain.
                guard markVisited(node, in: zone), write(zone, rrset, owner: name.bytes, to: .answer) else {
                    return
                }
                buffer ^= 1
                name = zone.withFirstRecord(of: rrset) { _, target in
                    NameView(
                        loweringName: target, storage: scratch.names[buffer],
                        starts: scratch.labelStarts[buffer])
                }
            case .dname(let node, let rrset):
                // RFC 6672 §3.2: the DNAME, then a CNAME synthesized with the DNAME's TTL.
                let written = zone.withName(of: node) { owner in write(zone, rrset, owner: owner, to: .answer)
                }
                guard written, markVisited(node, in: zone) else { return }
                let ownerLabels = zone.withName(of: node) { DomainName.labelCount($0) }
                guard
                    let synthesized = synthesize(
                        name, droppingOwnerLabels: ownerLabels, zone: zone, dname: rrset)
                else {
                    // Truncated, or RFC 6672 §2.2: the result would exceed 255 octets.
                    if !truncated { rcode = .yxDomain }
                    return
                }
                // RFC 6672 §3.2: the synthesized CNAME is itself the answer to a CNAME query.
                if query.type == .cname { return }
                buffer ^= 1
                name = NameView(
                    loweringName: synthesized, storage: scratch.names[buffer],
                    starts: scratch.labelStarts[buffer])
            case .noData:
                writeNegative(zone)
                return
            case .nxDomain:
                rcode = .nxDomain
                writeNegative(zone)
                return
            case .delegation(let cut):
                // RFC 1034 §4.3.2 3b: a referral; AA only if an answer was already given (a CNAME).
                if hop == 0 { authoritative = false }
                guard let ns = zone.rrset(cut, .ns),
                    zone.withName(of: cut, { write(zone, ns, owner: $0, to: .authority) })
                else { return }
                collectTargets(zone, ns, cut: cut)
                // RFC 4035 §3.1.4: in a signed zone, a signed delegation's DS with its RRSIG
                // (else the proof that there is none, added by `prove`); an unsigned zone's DS is
                // not added (as NSD and Knot DNS).
                if dnssecOK && zone.signing != nil, let ds = zone.rrset(cut, .ds) {
                    _ = zone.withName(of: cut) { write(zone, ds, owner: $0, to: .authority) }
                }
                return
            }
            // The next name may lie in a zone below this one, or in another zone served here.
            guard case .zone(let next, let below) = match(name) else { return }
            zone = next
            apexLabels = below
        }
    }

    /// Writes the CNAME of a DNAME substitution and returns its target (in scratch memory), or
    /// `nil` when the target would be too long.
    private mutating func synthesize(
        _ name: NameView, droppingOwnerLabels ownerLabels: Int, zone: Zone, dname: RRSetID
    ) -> UnsafeRawBufferPointer? {
        let prefixLength = Int(name.labelStarts[name.labelCount - ownerLabels])
        let output = scratch.synthesized
        let length: Int? = zone.withFirstRecord(of: dname) { _, target in
            guard prefixLength + target.count <= NameLimits.maxWireLength else { return nil }
            output.baseAddress!.copyMemory(from: name.bytes.baseAddress!, byteCount: prefixLength)
            (output.baseAddress! + prefixLength).copyMemory(
                from: target.baseAddress!, byteCount: target.count)
            return prefixLength + target.count
        }
        guard let length else { return nil }
        let target = UnsafeRawBufferPointer(rebasing: output[0..<length])
        let ttl = zone.withFirstRecord(of: dname) { ttl, _ in ttl }
        let mark = writer.mark
        do {
            try writer.writeRecord(owner: name.bytes, type: .cname, ttl: ttl, rdata: target)
            counts.answer += 1
        } catch {
            writer.rollback(to: mark)
            truncate()
            return nil
        }
        return target
    }

    /// NODATA and NXDOMAIN: the apex SOA in AUTHORITY with TTL min(SOA TTL, MINIMUM) (RFC 2308 §3).
    mutating func writeNegative(_ zone: Zone) {
        _ = zone.withName(of: zone.apex) { apex in
            write(zone, zone.soa, owner: apex, to: .authority, ttlCap: zone.negativeTTL)
        }
    }

    // MARK: Additional section (RFC 1035 §3.3.9, §3.3.11, RFC 2782; glue RFC 9471)

    private mutating func collectTargets(_ zone: Zone, _ rrset: RRSetID, cut: NodeID?) {
        let type = zone.type(of: rrset)
        guard type == .ns || type == .mx || type == .srv else { return }
        zone.forEachRecord(of: rrset) { _, _, target in
            guard let target, targetCount < scratch.additionalTargets.count else { return }
            for index in 0..<targetCount where scratch.additionalTargets[index].node == target { return }
            let required = cut.map { zone.isAtOrBelowCut(target, cut: $0) } ?? false
            scratch.additionalTargets[targetCount] = AdditionalTarget(node: target, required: required)
            targetCount += 1
        }
    }

    private mutating func writeAdditional(_ zone: Zone) {
        for index in 0..<targetCount {
            let target = scratch.additionalTargets[index]
            for type in Self.addressTypes {
                guard let rrset = zone.rrset(target.node, type) else { continue }
                let fitted = zone.withName(of: target.node) { owner in
                    write(zone, rrset, owner: owner, to: .additional, optional: !target.required)
                }
                if !fitted && truncated { return }
            }
        }
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

    mutating func truncate() {
        writer.rollback(to: afterQuestion)
        counts = (0, 0, 0)
        truncated = true
    }

    /// Records `node` of `zone` as visited in this chain; false if it already was (a loop).
    private mutating func markVisited(_ node: NodeID, in zone: Zone) -> Bool {
        let visit = VisitedNode(zone: ObjectIdentifier(zone), node: node.rawValue)
        for index in 0..<visitedCount where scratch.visited[index] == visit { return false }
        guard visitedCount < scratch.visited.count else { return false }
        scratch.visited[visitedCount] = visit
        visitedCount += 1
        return true
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
