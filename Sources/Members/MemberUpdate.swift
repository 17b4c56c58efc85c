import DNSAuth
import DNSWire

/// One change an update makes to a member (README "Anycast services").
public struct MemberChange: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        /// `add M._members.S A|AAAA ADDRESS`: join, or one more address.
        case addAddress(IPAddress)
        /// `delete M._members.S A|AAAA ADDRESS` (class NONE).
        case deleteAddress(IPAddress)
        /// `delete M._members.S A` or `AAAA` (class ANY): every address of that family.
        case deleteAddresses(ipv6: Bool)
        /// `add M._members.S TXT "sessions=N"`: the report, replacing the last one.
        case setSessions(Int)
        /// `delete M._members.S TXT`: kept until the next report, which replaces it.
        case clearSessions
        /// `delete M._members.S` (class ANY, type ANY): leave.
        case deleteMember
    }

    public var service: Int
    /// The member's label, lowercase.
    public var member: String
    public var operation: Operation

    public init(service: Int, member: String, operation: Operation) {
        self.service = service
        self.member = member
        self.operation = operation
    }
}

/// Reads an RFC 2136 UPDATE into member changes, or the reason to refuse it; nothing is changed
/// here. Only member records of configured services may be touched, only with a TSIG key the
/// service allows (README "Anycast services").
public enum MemberUpdate {
    public struct Refusal: Error, Equatable {
        public var rcode: RCode
        public var reason: String
    }

    /// - Parameters:
    ///   - message: the whole UPDATE, TSIG already verified (the TSIG record is ignored here).
    ///   - key: the verified TSIG key, lowercase; `nil` when unsigned.
    ///   - isServedZone: whether a name is the apex of a zone served here.
    public static func changes(
        in message: ReceivedMessage, key: DomainName?, services: [MemberService],
        isServedZone: (DomainName) -> Bool
    ) -> Result<[MemberChange], Refusal> {
        // RFC 2136 §3.1.1: one zone, of type SOA, that we are authoritative for.
        guard message.questions.count == 1, message.questions[0].type == .soa,
            message.questions[0].qclass == .internet
        else {
            return .failure(.init(rcode: .formErr, reason: "the zone section must hold one SOA question"))
        }
        let zone = message.questions[0].name.lowercased()
        guard isServedZone(zone) else {
            return .failure(.init(rcode: .notAuth, reason: "not authoritative for zone \(zone)"))
        }
        // RFC 2136 §3.2: prerequisites are not offered for member updates.
        guard message.answers.isEmpty else {
            return .failure(
                .init(rcode: .refused, reason: "prerequisites are not supported for member updates"))
        }
        // RFC 2136 §3.3: only a key a service allows may change its members.
        guard let key else {
            return .failure(.init(rcode: .refused, reason: "unsigned update (a TSIG key is required)"))
        }
        var changes: [MemberChange] = []
        for record in message.authority {
            let owner = record.owner.lowercased()
            // RFC 2136 §3.4.1.3: every name must be in the zone.
            guard owner.isSubdomain(of: zone) else {
                return .failure(.init(rcode: .notZone, reason: "\(owner) is outside zone \(zone)"))
            }
            let kind = owner.wire.withUnsafeBytes { services.classify($0) }
            guard case .member(let index, let label) = kind else {
                return .failure(
                    .init(rcode: .refused, reason: "\(owner) is not a member name (MEMBER._members.SERVICE)"))
            }
            guard services[index].keys.contains(key) else {
                return .failure(
                    .init(
                        rcode: .refused,
                        reason: "key \(key) may not change members of \(services[index].name)"))
            }
            // Host-name characters only (and `_`): the label is shown in logs, tables and /health.
            guard
                owner.wire[label].allSatisfy({ byte in
                    (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D
                        || byte == 0x5F
                })
            else {
                return .failure(
                    .init(rcode: .refused, reason: "a member label is letters, digits, '-' and '_' only"))
            }
            let member = String(decoding: owner.wire[label], as: UTF8.self)
            guard let operation = operation(for: record) else {
                return .failure(
                    .init(
                        rcode: .refused,
                        reason:
                            "\(owner) \(record.rrClass) \(record.type): only A, AAAA, TXT \"sessions=N\" and deleting the name"
                    ))
            }
            changes.append(MemberChange(service: index, member: member, operation: operation))
        }
        return .success(changes)
    }

    /// What one update record does (RFC 2136 §2.5), or `nil` when it is not a member change.
    static func operation(for record: ResourceRecord) -> MemberChange.Operation? {
        switch (record.rrClass, record.type) {
        case (.internet, .a) where record.rdata.count == 4,
            (.internet, .aaaa) where record.rdata.count == 16:
            return address(record.rdata).map { .addAddress($0) }
        case (.internet, .txt):
            return sessions(in: record.rdata).map { .setSessions($0) }
        case (.any, .any) where record.rdata.isEmpty: return .deleteMember
        case (.any, .a) where record.rdata.isEmpty: return .deleteAddresses(ipv6: false)
        case (.any, .aaaa) where record.rdata.isEmpty: return .deleteAddresses(ipv6: true)
        case (.any, .txt) where record.rdata.isEmpty, (.none, .txt): return .clearSessions
        case (.none, .a) where record.rdata.count == 4, (.none, .aaaa) where record.rdata.count == 16:
            return address(record.rdata).map { .deleteAddress($0) }
        default: return nil
        }
    }

    private static func address(_ rdata: [UInt8]) -> IPAddress? {
        rdata.withUnsafeBytes { bytes in
            rdata.count == 4
                ? IPAddress(v4: rdata[0], rdata[1], rdata[2], rdata[3]) : IPAddress(v6Bytes: bytes)
        }
    }

    /// The N of a TXT record holding exactly one string `sessions=N` (0 ≤ N ≤ 10⁹).
    static func sessions(in rdata: [UInt8]) -> Int? {
        guard let length = rdata.first, Int(length) + 1 == rdata.count else { return nil }
        let text = String(decoding: rdata[1...], as: UTF8.self)
        guard text.hasPrefix("sessions="), let count = Int(text.dropFirst("sessions=".count)),
            text.dropFirst("sessions=".count).allSatisfy(\.isNumber), (0...1_000_000_000).contains(count)
        else { return nil }
        return count
    }
}
