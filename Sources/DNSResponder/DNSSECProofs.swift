// DNSSEC proofs of an answer from a signed zone: the NSEC (RFC 4035 §3.1.3) or NSEC3 (RFC 5155
// §7.2) RRsets that prove there was no closer name for a wildcard, that a name or a type does
// not exist, or that a delegation has no DS (RFC 4035 §3.1.4). ZoneLookup notes them at each
// step of a chain; they are written into AUTHORITY, with their RRSIGs, after the rest
// (docs/ARCHITECTURE.md "The path of a query").

import DNSWire
import DNSZone

extension SectionWriter {
    /// Notes the NSEC or NSEC3 records that prove what `result` says of `name` in a signed zone:
    /// that no closer name matched a wildcard, that a name or type does not exist, that a
    /// delegation has no DS. They are written after the other AUTHORITY records.
    mutating func prove(_ result: LookupResult, name: NameView, apexLabels: Int, zone: Zone) {
        switch result {
        case .answer(let node, _, true), .cname(let node, _, true), .any(let node, true):
            proveNoCloserName(name, wildcard: node, zone: zone)
        case .noData(let node, let wildcard):
            if wildcard {
                proveWildcardNoData(name, wildcard: node, zone: zone)
            } else {
                proveNoData(name, node: node, apexLabels: apexLabels, zone: zone)
            }
        case .nxDomain(let encloser):
            proveNameError(name, encloser: encloser, apexLabels: apexLabels, zone: zone)
        case .delegation(let cut) where zone.rrset(cut, .ds) == nil:
            let cutDepth = name.labelCount - zone.withName(of: cut) { DomainName.labelCount($0) }
            proveNoData(name, node: cut, depth: cutDepth, apexLabels: apexLabels, zone: zone)
        case .answer, .cname, .any, .delegation, .dname:
            break
        }
    }

    /// A wildcard answer: the name itself does not exist (RFC 4035 §3.1.3.3: the NSEC covering
    /// it; RFC 5155 §7.2.6: the NSEC3 covering the next closer name).
    private mutating func proveNoCloserName(_ name: NameView, wildcard: NodeID, zone: Zone) {
        let wildcardLabels = zone.withName(of: wildcard) { DomainName.labelCount($0) }
        switch zone.denialMethod {
        case .nsec: addProof(zone.nsecCovering(name.bytes), zone)
        case .nsec3:
            addProof(zone.nsec3Covering(name.suffix(dropping: name.labelCount - wildcardLabels)), zone)
        case nil: break
        }
    }

    /// NODATA at an existing name (`depth` labels above `name`; a delegation without DS too):
    /// its NSEC, or the NSEC covering it when it is an empty non-terminal (RFC 4035 §3.1.3.1,
    /// §3.1.3.2); its NSEC3, or, where opt-out left it out, the closest provable encloser proof
    /// (RFC 5155 §7.2.3, §7.2.4, §7.2.7).
    private mutating func proveNoData(
        _ name: NameView, node: NodeID, depth: Int = 0, apexLabels: Int, zone: Zone
    ) {
        switch zone.denialMethod {
        case .nsec:
            if zone.rrset(node, .nsec) != nil {
                addProof(node, zone)
            } else {
                addProof(zone.nsecCovering(name.suffix(dropping: depth)), zone)
            }
        case .nsec3:
            if let match = zone.nsec3Matching(node) {
                addProof(match, zone)
            } else {
                _ = proveClosestEncloser(name, from: depth, apexLabels: apexLabels, zone: zone)
            }
        case nil: break
        }
    }

    /// Wildcard NODATA: no closer name exists, and the wildcard lacks the type (RFC 4035
    /// §3.1.3.4; RFC 5155 §7.2.5: closest encloser proof plus the wildcard's NSEC3).
    private mutating func proveWildcardNoData(_ name: NameView, wildcard: NodeID, zone: Zone) {
        switch zone.denialMethod {
        case .nsec:
            addProof(zone.nsecCovering(name.bytes), zone)
            addProof(wildcard, zone)
        case .nsec3:
            let encloserDepth =
                name.labelCount - (zone.withName(of: wildcard) { DomainName.labelCount($0) } - 1)
            if let encloser = zone.node(named: name.suffix(dropping: encloserDepth)),
                let match = zone.nsec3Matching(encloser)
            {
                addProof(match, zone)
            }
            addProof(zone.nsec3Covering(name.suffix(dropping: encloserDepth - 1)), zone)
            if let match = zone.nsec3Matching(wildcard) { addProof(match, zone) }
        case nil: break
        }
    }

    /// NXDOMAIN: the name does not exist and no wildcard could have made it (RFC 4035 §3.1.3.2:
    /// NSECs covering the name and `*.<closest encloser>`; RFC 5155 §7.2.2: the closest
    /// encloser proof and the NSEC3 covering that wildcard).
    private mutating func proveNameError(_ name: NameView, encloser: NodeID, apexLabels: Int, zone: Zone) {
        switch zone.denialMethod {
        case .nsec:
            addProof(zone.nsecCovering(name.bytes), zone)
            zone.withName(of: encloser) {
                withWildcard(below: $0) { addProof(zone.nsecCovering($0), zone) }
            }
        case .nsec3:
            guard let depth = proveClosestEncloser(name, from: 0, apexLabels: apexLabels, zone: zone) else {
                return
            }
            withWildcard(below: name.suffix(dropping: depth)) { addProof(zone.nsec3Covering($0), zone) }
        case nil: break
        }
    }

    /// RFC 5155 §7.2.1: the NSEC3 matching the closest provable encloser of the name `from`
    /// labels above `name` (walking up while no NSEC3 matches, as opt-out spans allow), and the
    /// NSEC3 covering the next closer name. Returns the encloser's depth in `name`.
    private mutating func proveClosestEncloser(_ name: NameView, from first: Int, apexLabels: Int, zone: Zone)
        -> Int?
    {
        var depth = first
        while depth <= apexLabels {
            if let node = zone.node(named: name.suffix(dropping: depth)), let match = zone.nsec3Matching(node)
            {
                addProof(match, zone)
                if depth > first { addProof(zone.nsec3Covering(name.suffix(dropping: depth - 1)), zone) }
                return depth
            }
            depth += 1
        }
        return nil
    }

    /// Calls `body` with `*.<encloser>` in scratch memory.
    private func withWildcard(
        below encloser: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void
    ) {
        guard encloser.count + 2 <= NameLimits.maxWireLength else { return }
        let output = scratch.wildcardName
        output[0] = 1
        output[1] = UInt8(ascii: "*")
        UnsafeMutableRawBufferPointer(rebasing: output[2..<(2 + encloser.count)]).copyMemory(from: encloser)
        body(UnsafeRawBufferPointer(rebasing: output[0..<(2 + encloser.count)]))
    }

    /// Notes the NSEC or NSEC3 RRset of `node` as a proof, once.
    private mutating func addProof(_ node: NodeID?, _ zone: Zone) {
        guard let node else { return }
        let owner = Unmanaged.passUnretained(zone)
        for index in 0..<proofCount {
            let proof = scratch.proofs[index]
            if proof.node == node && proof.zone.toOpaque() == owner.toOpaque() { return }
        }
        guard proofCount < scratch.proofs.count else { return }
        scratch.proofs[proofCount] = ProofRecord(zone: owner, node: node)
        proofCount += 1
    }

    /// Writes the noted proofs into AUTHORITY, each with its RRSIGs; they are required, so a
    /// proof that does not fit truncates the response.
    mutating func writeProofs() {
        for index in 0..<proofCount {
            let proof = scratch.proofs[index]
            let zone = proof.zone.takeUnretainedValue()
            guard let type = zone.denialType, let rrset = zone.rrset(proof.node, type) else { continue }
            guard zone.withName(of: proof.node, { write(zone, rrset, owner: $0, to: .authority) }) else {
                return
            }
        }
    }
}
