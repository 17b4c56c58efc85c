// The zones served here as an answer source, following RFC 1034 §4.3.2: step 2 finds the zone of
// the name; step 3 its data: answers, CNAME chains (RFC 1034 §3.6.2, RFC 2181 §10.1), DNAME
// substitution (RFC 6672 §3.2), referrals, and negative answers (RFC 2308 §3); step 6 adds the
// addresses of NS, MX and SRV targets (RFC 1035 §3.3.9, §3.3.11, RFC 2782), glue being required
// (RFC 9471). The DNSSEC proofs noted along the way are in DNSSECProofs.swift.

import DNSWire
import DNSZone

extension SectionWriter {
    /// The types added for NS, MX and SRV targets; a constant, so no array is built per query.
    private static let addressTypes: [RecordType] = [.a, .aaaa]

    /// RFC 1034 §4.3.2 step 2: the zone the query is answered from, with the number of labels of
    /// `name` below its apex. When there is none, the response is finished here and `nil`
    /// returned: REFUSED for a class other than IN and ANY or a name outside every zone served
    /// here, SERVFAIL for a zone configured but not servable (RFC 1034 §4.3.5; a zone not loaded,
    /// not yet transferred, or expired), as NSD and Knot DNS answer.
    mutating func zoneOfQuery(_ name: NameView) -> (zone: Zone, apexLabels: Int)? {
        guard query.qclass == .internet || query.qclass == .any else {
            finishEmpty(rcode: .refused, authoritative: false, extendedError: .notAuthoritative)
            return nil
        }
        switch match(name) {
        case .zone(let zone, let apexLabels):
            return (zone, apexLabels)
        case .unavailable:
            finishEmpty(rcode: .servFail, authoritative: false, extendedError: .notReady)
            return nil
        case .none:
            finishEmpty(rcode: .refused, authoritative: false, extendedError: .notAuthoritative)
            return nil
        }
    }

    /// Answers from the zone data (RFC 1034 §4.3.2 step 3), then the DNSSEC proofs the answer
    /// needs (RFC 4035 §3.1.3, RFC 5155 §7.2) and the additional data (step 6), and finishes.
    mutating func answerFromZone(_ name: NameView, apexLabels: Int, in zone: Zone) {
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

    /// Records `node` of `zone` as visited in this chain; false if it already was (a loop).
    private mutating func markVisited(_ node: NodeID, in zone: Zone) -> Bool {
        let visit = VisitedNode(zone: ObjectIdentifier(zone), node: node.rawValue)
        for index in 0..<visitedCount where scratch.visited[index] == visit { return false }
        guard visitedCount < scratch.visited.count else { return false }
        scratch.visited[visitedCount] = visit
        visitedCount += 1
        return true
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
}
