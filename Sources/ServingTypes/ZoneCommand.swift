import DNSAuth
import DNSWire
import DNSZone

/// What a query asks of the zone lifecycle (the zone service), passed on by the transport.
public enum ZoneCommand: Sendable {
    /// An allowed NOTIFY arrived for a zone (RFC 1996 §4.7): the zone service should check it.
    case notify(origin: DomainName, serial: UInt32?, from: IPAddress)
}

/// Where the transports take the zones to answer from: one snapshot per batch of packets or TCP
/// read, so a query sees one version of every zone. The zone lifecycle's `ZoneStore` is one.
public protocol ZoneSnapshots: Sendable {
    var snapshot: ZoneSet { get }
}
