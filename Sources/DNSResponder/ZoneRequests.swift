// What the requests about a whole zone need from the zones served here, for the stages in
// Responder.swift: the zone a NOTIFY (RFC 1996 §3.7) or a transfer (RFC 5936, RFC 1995) names by
// its apex, the SOA alone that answers IXFR over UDP (RFC 1995 §2), and the EXPIRE value of the
// query's zone (RFC 7314 §2). They match the query name against the zones directly, outside the
// answer sources of an ordinary query.

import DNSWire
import DNSZone

extension SectionWriter {
    /// The servable zone whose apex is exactly the query name, in class IN.
    func exactZone() -> Zone? {
        guard query.qclass == .internet, case .zone(let zone, 0) = zones.match(loweredName) else {
            return nil
        }
        return zone
    }

    /// The origin of the zone (servable or not) whose apex is exactly the query name.
    func exactZoneOrigin() -> DomainName? {
        let name = loweredName
        switch zones.match(name) {
        case .zone(let zone, 0): return zone.origin
        case .unavailable(0): return DomainName(trustedWire: Array(name.bytes))
        default: return nil
        }
    }

    /// Whether the query name falls in a zone that is configured but not servable now.
    func isUnavailableZone() -> Bool {
        if case .unavailable = zones.match(loweredName) { return true }
        return false
    }

    /// Answers with the zone's SOA alone (IXFR over UDP, RFC 1995 §2).
    mutating func answerSOA(_ zone: Zone) {
        _ = zone.withName(of: zone.apex) { owner in write(zone, zone.soa, owner: owner, to: .answer) }
        finish()
    }

    /// The EXPIRE value for the zone of the query (RFC 7314 §2): the SOA EXPIRE on a primary,
    /// the seconds left on a secondary; `nil` when no zone here holds the name.
    func expireSeconds(now: UInt64) -> UInt32? {
        guard let (zone, _) = zones.zone(for: loweredName) else { return nil }
        guard let expiresAt = zone.expiresAt else { return zone.soaTimers.expire }
        return UInt32(clamping: expiresAt > now ? expiresAt - now : 0)
    }
}
