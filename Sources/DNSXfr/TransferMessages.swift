import DNSAuth
import DNSWire
import DNSZone

/// Builds the requests a secondary and a primary send: SOA queries, AXFR and IXFR requests
/// (RFC 5936 §2.1, RFC 1995 §3) and NOTIFY (RFC 1996 §3.5), signed when a key is given.
public enum RequestBuilder {
    /// A query for `zone` of `type`. For IXFR, `clientSOA` (the version we have) goes in the
    /// authority section; for NOTIFY, `notifySOA` goes in the answer section (RFC 1996 §3.7).
    /// With `expire`, an EDNS EXPIRE option asks for the primary's expire timer (RFC 7314 §2).
    public static func make(
        id: UInt16, zone: DomainName, type: RecordType, opcode: Opcode = .query,
        clientSOA: ResourceRecord? = nil,
        notifySOA: ResourceRecord? = nil, expire: Bool = false, signer: inout TSIGSigner?, now: UInt64
    ) -> [UInt8] {
        var message: [UInt8] = []
        func word(_ value: UInt16) {
            message.append(UInt8(value >> 8))
            message.append(UInt8(value & 0xFF))
        }
        func record(_ record: ResourceRecord) {
            message += record.owner.wire
            word(record.type.rawValue)
            word(record.rrClass.rawValue)
            word(UInt16(record.ttl >> 16))
            word(UInt16(record.ttl & 0xFFFF))
            word(UInt16(record.rdata.count))
            message += record.rdata
        }
        word(id)
        word(UInt16(opcode.rawValue) << 11 | (opcode == .notify ? DNSHeader.Flag.aa : 0))
        word(1)
        word(notifySOA == nil ? 0 : 1)
        word(clientSOA == nil ? 0 : 1)
        word(expire ? 1 : 0)
        message += zone.wire
        word(type.rawValue)
        word(DNSClass.internet.rawValue)
        if let notifySOA { record(notifySOA) }
        if let clientSOA { record(clientSOA) }
        if expire {
            message.append(0)
            word(RecordType.opt.rawValue)
            word(1232)
            word(0)
            word(0)
            word(4)
            word(EDNSOptionCode.expire)
            word(0)
        }
        if signer != nil { signer!.sign(&message, time: now) }
        return message
    }
}
