// Response rate limiting's view of an answer (README "Rate limiting"): the class a response is
// counted in and the name it is keyed on, as NSD's and Knot DNS's rate limiting name them: the
// query name for a positive answer, the zone apex for NODATA and NXDOMAIN (RFC 2308 §2), the
// delegation point for a referral (RFC 1034 §4.3.2 step 3b), the wildcard (RFC 4592) or DNAME
// (RFC 6672) owner for synthesized answers, the root for errors. The answer sources note it
// while writing; `Responder.rateLimit` counts it after the answer.

import DNSGuard
import DNSWire
import DNSZone

extension SectionWriter {
    /// Notes how rate limiting accounts this response: its class and the name it is keyed on.
    mutating func account(_ responseClass: ResponseClass, name: UnsafeRawBufferPointer) {
        self.responseClass = responseClass
        guard accountsRate else { return }
        let length = min(name.count, scratch.rateName.count)
        UnsafeMutableRawBufferPointer(rebasing: scratch.rateName[0..<length]).copyMemory(
            from: UnsafeRawBufferPointer(rebasing: name[0..<length]))
        rateNameLength = length
    }

    /// Accounts an error: one bucket per client prefix, keyed on the root.
    mutating func accountError() {
        responseClass = .error
        if accountsRate { scratch.rateName[0] = 0 }
        rateNameLength = 1
    }

    /// Accounts the first step of an answer from a zone under the class NSD and Knot DNS give it.
    mutating func account(_ result: LookupResult, name: NameView, zone: Zone) {
        switch result {
        case .answer(let node, _, true), .cname(let node, _, true), .any(let node, true):
            zone.withName(of: node) { account(.wildcard, name: $0) }
        case .dname(let node, _):
            // Keyed on the DNAME owner, like a wildcard: random names below it share a bucket.
            zone.withName(of: node) { account(.wildcard, name: $0) }
        case .answer, .cname, .any:
            account(.positive, name: name.bytes)
        case .noData:
            zone.withName(of: zone.apex) { account(.noData, name: $0) }
        case .nxDomain:
            zone.withName(of: zone.apex) { account(.nxDomain, name: $0) }
        case .delegation(let cut):
            zone.withName(of: cut) { account(.referral, name: $0) }
        }
    }
}
