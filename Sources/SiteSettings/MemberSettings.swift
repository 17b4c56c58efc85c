import AnydnsConfig
import DNSAuth
import DNSWire
import Members

/// Turns the configuration's `services` into the member table's service definitions (README
/// "Anycast services"); the keys are the TSIG keys of `keys`, by their DNS names.
enum MemberSettings {
    static func services(_ configuration: Configuration) throws(SiteSettings.Problem) -> [MemberService] {
        let keyring = try TransferSettings.keyring(configuration)
        return configuration.services.compactMap { service in
            guard let name = DomainName(service.name) else { return nil }
            return MemberService(
                name: name, anycast: service.anycast.compactMap(IPAddress.init),
                keys: service.keys.compactMap { keyring[$0]?.name },
                policy: service.policy == .leastSessions ? .leastSessions : .anycast,
                probe: {
                    switch service.probe {
                    case .tcp(let port): .tcp(port: UInt16(port))
                    case .icmp: .icmp
                    case .none: .none
                    }
                }(),
                probeInterval: service.probeInterval, lease: UInt64(service.lease))
        }
    }
}
