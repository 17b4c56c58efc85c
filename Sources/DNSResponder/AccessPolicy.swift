import DNSAuth
import DNSWire

/// Who may transfer each zone and send NOTIFY for it, and the TSIG keys (RFC 8945) that sign
/// requests. Immutable; built from the configuration at start.
public struct AccessPolicy: Sendable {
    public struct ZoneAccess: Sendable {
        public var allowTransfer: AccessList
        public var allowNotify: AccessList

        public init(allowTransfer: AccessList = .denyAll, allowNotify: AccessList = .denyAll) {
            self.allowTransfer = allowTransfer
            self.allowNotify = allowNotify
        }
    }

    public var keyring: TSIGKeyring
    /// By lowercase origin; a zone not listed allows nothing.
    public var zones: [DomainName: ZoneAccess]

    public init(keyring: TSIGKeyring = TSIGKeyring([]), zones: [DomainName: ZoneAccess] = [:]) {
        self.keyring = keyring
        self.zones = zones
    }

    func access(_ origin: DomainName) -> ZoneAccess { zones[origin] ?? ZoneAccess() }
}
