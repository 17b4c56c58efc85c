/// Who this server says it is: the site identity operators use to tell anycast sites apart.
public struct ServerIdentity: Sendable, Equatable {
    /// Returned for `id.server.` / `hostname.bind.` CH TXT (RFC 4892) and as NSID (RFC 5001).
    public var identity: String
    /// Returned for `version.bind.` / `version.server.` CH TXT; `nil` hides it (REFUSED).
    public var version: String?
    /// Whether to answer the NSID option (RFC 5001).
    public var nsidEnabled: Bool

    public init(identity: String, version: String? = nil, nsidEnabled: Bool = true) {
        self.identity = identity
        self.version = version
        self.nsidEnabled = nsidEnabled
    }
}

/// Fixed protocol parameters of the responder.
public enum ResponderLimits {
    /// Our EDNS UDP payload size (RFC 9715, DNS Flag Day 2020): 1232 octets.
    public static let ednsPayloadSize = 1232
    /// UDP limit for clients without EDNS (RFC 1035 §4.2.1).
    public static let classicUDPSize = 512
    /// CNAME/DNAME hops followed inside a zone before giving up (loops are stopped earlier).
    public static let maxChain = 16
    /// Distinct NS/MX/SRV targets whose addresses go in the additional section.
    public static let maxAdditionalTargets = 64
    /// Distinct NSEC/NSEC3 RRsets in one answer's proofs: three for a name error, one per
    /// wildcard step of a CNAME chain.
    public static let maxProofs = 32
}
