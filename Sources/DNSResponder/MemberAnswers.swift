// The `.any` member table as an answer source (README "Anycast services: the `.any` member
// table"), consulted in front of the zone's own data, in class IN only: a least-sessions
// service's A and AAAA (RFC 1035 §3.4.1, RFC 3596 §2), and under `_members.SERVICE` each member's
// addresses and a TXT record of its state (RFC 1035 §3.3.14); NODATA and NXDOMAIN there carry
// the zone's SOA (RFC 2308 §3). Every answer comes from one snapshot of the table, nothing from
// a zone but the SOA.

import DNSAuth
import DNSGuard
import DNSWire
import DNSZone
import Members

extension SectionWriter {
    /// Answers the names the member table owns: a least-sessions service's A and AAAA (the
    /// reachable member with the fewest sessions, else the service's anycast addresses), and
    /// `MEMBER._members.SERVICE` (what the table holds). Returns false when the zone's own data
    /// answers instead, and for classes other than IN. Reads one snapshot of the table; nothing
    /// is allocated.
    mutating func answerFromMembers(_ name: NameView, zone: Zone, members: MemberTable) -> Bool {
        guard query.qclass == .internet, let kind = members.services.classify(name.bytes) else {
            return false
        }
        let ttl = MemberService.answerTTL
        switch kind {
        case .service(let index):
            let service = members.services[index]
            guard service.policy == .leastSessions, query.type == .a || query.type == .aaaa else {
                return false
            }
            let ipv6 = query.type == .aaaa
            var written = 0
            if let member = members.snapshot.choose(service: index, ipv6: ipv6, spread: query.header.id) {
                for address in ipv6 ? member.ipv6 : member.ipv4 { written += writeAddress(address, ttl: ttl) }
            } else {
                // No reachable member here: the anycast address routes the client to a site that has one.
                for address in service.anycast where address.isIPv6 == ipv6 {
                    written += writeAddress(address, ttl: ttl)
                }
            }
            guard written > 0 || truncated else { return false }
            account(.positive, name: name.bytes)
        case .membersNode:
            answerNegative(.noData, zone: zone)
        case .below:
            answerNegative(.nxDomain, zone: zone)
        case .member(let index, let label):
            guard
                let member = members.snapshot.member(
                    service: index, label: UnsafeRawBufferPointer(rebasing: name.bytes[label]))
            else {
                answerNegative(.nxDomain, zone: zone)
                break
            }
            account(.positive, name: name.bytes)
            var written = 0
            let type = query.type
            if type == .a || type == .any {
                for address in member.ipv4 { written += writeAddress(address, ttl: ttl) }
            }
            if type == .aaaa || type == .any {
                for address in member.ipv6 { written += writeAddress(address, ttl: ttl) }
            }
            if type == .txt || type == .any { written += writeMemberState(member, ttl: ttl) }
            if written == 0 && !truncated { writeNegative(zone) }
        }
        finish()
        return true
    }

    /// NODATA or NXDOMAIN under the member names: the zone's SOA, accounted at the zone apex as
    /// on the zone path, so random names do not each get a rate limiting bucket of their own.
    private mutating func answerNegative(_ responseClass: ResponseClass, zone: Zone) {
        if responseClass == .nxDomain { rcode = .nxDomain }
        zone.withName(of: zone.apex) { account(responseClass, name: $0) }
        writeNegative(zone)
    }

    /// One A or AAAA record owned by the query name; 1 if written.
    private mutating func writeAddress(_ address: IPAddress, ttl: UInt32) -> Int {
        switch address {
        case .v4(let value):
            return writeAnswer(.a, ttl: ttl, rdataLength: 4) { writer throws(WriteOverflow) in
                try writer.append(value)
            }
        case .v6(let high, let low):
            return writeAnswer(.aaaa, ttl: ttl, rdataLength: 16) { writer throws(WriteOverflow) in
                try writer.append(UInt32(truncatingIfNeeded: high >> 32))
                try writer.append(UInt32(truncatingIfNeeded: high))
                try writer.append(UInt32(truncatingIfNeeded: low >> 32))
                try writer.append(UInt32(truncatingIfNeeded: low))
            }
        }
    }

    /// The member's TXT record: `"sessions=N" "reachable=yes|no"`; 1 if written.
    private mutating func writeMemberState(_ member: Member, ttl: UInt32) -> Int {
        // The count's decimal digits without a String: each new (more significant) digit is
        // shifted in at the bottom, so nibble 0 holds the most significant one.
        var digits: (UInt64, Int) = (0, 0)
        var rest = UInt64(max(0, member.sessions))
        repeat {
            digits.0 = digits.0 << 4 | (rest % 10)
            digits.1 += 1
            rest /= 10
        } while rest > 0
        let sessions = "sessions=".utf8.count + digits.1
        let reachable = member.reachable ? "reachable=yes" : "reachable=no"
        return writeAnswer(.txt, ttl: ttl, rdataLength: 2 + sessions + reachable.utf8.count) {
            writer throws(WriteOverflow) in
            try writer.append(UInt8(sessions))
            for byte in "sessions=".utf8 { try writer.append(byte) }
            for position in 0..<digits.1 {
                try writer.append(UInt8(48 + (digits.0 >> (4 * UInt64(position))) & 0xF))
            }
            try writer.append(UInt8(reachable.utf8.count))
            for byte in reachable.utf8 { try writer.append(byte) }
        }
    }

    /// One ANSWER record owned by the query name (a pointer to the question), class IN: the
    /// header, then `rdata`. 1 if written; if it does not fit, the response is truncated.
    private mutating func writeAnswer(
        _ type: RecordType, ttl: UInt32, rdataLength: Int,
        rdata: (inout MessageWriter) throws(WriteOverflow) -> Void
    ) -> Int {
        guard !truncated else { return 0 }
        let mark = writer.mark
        do {
            try writer.append(UInt16(0xC000 | DNSHeader.length))
            try writer.append(type.rawValue)
            try writer.append(DNSClass.internet.rawValue)
            try writer.append(ttl)
            try writer.append(UInt16(rdataLength))
            try rdata(&writer)
            counts.answer += 1
            return 1
        } catch {
            writer.rollback(to: mark)
            truncate()
            return 0
        }
    }
}
