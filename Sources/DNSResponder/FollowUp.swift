import DNSAuth
import DNSGuard
import DNSWire
import Members
import ServingTypes

/// Work a response asks for beyond sending its bytes, each for its own consumer.
public enum FollowUp: Sendable {
    /// For the transport: stream a zone transfer on this TCP connection (the response bytes are
    /// empty).
    case transfer(TransferRequest)
    /// For the zone lifecycle (passed on by the transport's observer).
    case zone(ZoneCommand)
    /// For the operations layer to log and count.
    case event(ServingEvent)
}

/// Something the responder did that the operations layer logs (each at most once a minute per
/// client and kind, never per packet) or acts on.
public enum ServingEvent: Sendable {
    /// A transfer or NOTIFY was refused by the zone's access list.
    case refused(origin: DomainName, client: IPAddress, request: String)
    /// A client prefix went over the rate for a response class (the first response over it in a
    /// second).
    case rateLimited(prefix: IPAddress, responseClass: ResponseClass, action: RateLimitAction)
    /// An RFC 2136 update of the member table was applied (`changes`) or refused (`refusal`);
    /// the operations layer logs it and probes new members.
    case memberUpdate(client: IPAddress, key: DomainName?, changes: [MemberChange], refusal: String?)
}

/// What rate limiting did to a response (README "Rate limiting").
public enum RateLimitAction: Sendable, Equatable {
    /// Over the rate and not sent (the response bytes are empty).
    case dropped
    /// Over the rate and sent truncated (TC=1, no records).
    case slipped
    /// Over the rate but answered, because of `log-only`.
    case logged
}
