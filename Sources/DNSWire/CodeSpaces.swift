// Open code spaces of the DNS: record types, classes, opcodes and response codes.
//
// Each is a `RawRepresentable` struct rather than a closed enum so that any 16-bit value read from the
// wire is representable and round-trips byte for byte (RFC 3597 unknown types, RFC 6895 registries).

/// A resource record TYPE or QTYPE (RFC 1035 §3.2.2, §3.2.3; RFC 6895 §3.1).
public struct RecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = RecordType(rawValue: 1)
    public static let ns = RecordType(rawValue: 2)
    public static let cname = RecordType(rawValue: 5)
    public static let soa = RecordType(rawValue: 6)
    public static let ptr = RecordType(rawValue: 12)
    public static let hinfo = RecordType(rawValue: 13)
    public static let mx = RecordType(rawValue: 15)
    public static let txt = RecordType(rawValue: 16)
    public static let aaaa = RecordType(rawValue: 28)
    public static let srv = RecordType(rawValue: 33)
    public static let naptr = RecordType(rawValue: 35)
    public static let dname = RecordType(rawValue: 39)
    public static let opt = RecordType(rawValue: 41)
    public static let ds = RecordType(rawValue: 43)
    public static let rrsig = RecordType(rawValue: 46)
    public static let nsec = RecordType(rawValue: 47)
    public static let dnskey = RecordType(rawValue: 48)
    public static let nsec3 = RecordType(rawValue: 50)
    public static let nsec3param = RecordType(rawValue: 51)
    public static let tsig = RecordType(rawValue: 250)
    public static let ixfr = RecordType(rawValue: 251)
    public static let axfr = RecordType(rawValue: 252)
    public static let mailb = RecordType(rawValue: 253)
    public static let maila = RecordType(rawValue: 254)
    public static let any = RecordType(rawValue: 255)

    /// Meta-types and QTYPEs (RFC 6895 §3.1: 128–255, and OPT) never live in a zone.
    public var isMeta: Bool { rawValue == 41 || (rawValue >= 128 && rawValue <= 255) }

    public var description: String {
        switch rawValue {
        case 1: "A"
        case 2: "NS"
        case 5: "CNAME"
        case 6: "SOA"
        case 12: "PTR"
        case 13: "HINFO"
        case 15: "MX"
        case 16: "TXT"
        case 28: "AAAA"
        case 33: "SRV"
        case 35: "NAPTR"
        case 39: "DNAME"
        case 41: "OPT"
        case 43: "DS"
        case 46: "RRSIG"
        case 47: "NSEC"
        case 48: "DNSKEY"
        case 50: "NSEC3"
        case 51: "NSEC3PARAM"
        case 64: "SVCB"
        case 65: "HTTPS"
        case 250: "TSIG"
        case 251: "IXFR"
        case 252: "AXFR"
        case 255: "ANY"
        case 257: "CAA"
        default: "TYPE\(rawValue)"
        }
    }
}

/// A CLASS or QCLASS (RFC 1035 §3.2.4, §3.2.5).
public struct DNSClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let internet = DNSClass(rawValue: 1)
    public static let chaos = DNSClass(rawValue: 3)
    public static let hesiod = DNSClass(rawValue: 4)
    public static let none = DNSClass(rawValue: 254)
    public static let any = DNSClass(rawValue: 255)

    public var description: String {
        switch rawValue {
        case 1: "IN"
        case 3: "CH"
        case 4: "HS"
        case 254: "NONE"
        case 255: "ANY"
        default: "CLASS\(rawValue)"
        }
    }
}

/// A header OPCODE (RFC 1035 §4.1.1, RFC 6895 §2.2).
public struct Opcode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let query = Opcode(rawValue: 0)
    public static let notify = Opcode(rawValue: 4)
    public static let update = Opcode(rawValue: 5)
}

/// A response code, including the EDNS extended range (RFC 1035 §4.1.1, RFC 6891 §6.1.3).
///
/// Values above 15 need an OPT record: the low four bits go in the header, the high eight in the OPT TTL.
public struct RCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = RCode(rawValue: 0)
    public static let formErr = RCode(rawValue: 1)
    public static let servFail = RCode(rawValue: 2)
    public static let nxDomain = RCode(rawValue: 3)
    public static let notImp = RCode(rawValue: 4)
    public static let refused = RCode(rawValue: 5)
    public static let yxDomain = RCode(rawValue: 6)
    public static let notAuth = RCode(rawValue: 9)
    /// RFC 2136 §2.2: a name in the update section is outside the zone.
    public static let notZone = RCode(rawValue: 10)
    public static let badVers = RCode(rawValue: 16)
    /// RFC 7873 §8: the server cookie is missing or invalid (an extended RCODE).
    public static let badCookie = RCode(rawValue: 23)

    /// The four bits that go in the header.
    public var headerBits: UInt8 { UInt8(rawValue & 0xF) }
    /// The eight bits that go in the OPT record's extended RCODE field.
    public var extendedBits: UInt8 { UInt8((rawValue >> 4) & 0xFF) }

    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 6: "YXDOMAIN"
        case 9: "NOTAUTH"
        case 10: "NOTZONE"
        case 16: "BADVERS"
        case 23: "BADCOOKIE"
        default: "RCODE\(rawValue)"
        }
    }
}

/// Extended DNS Error INFO-CODEs (RFC 8914 §4) that an authoritative server sends, carried in
/// the EDNS option of code 15 beside the RCODE.
public struct ExtendedError: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// RFC 8914 §4.15: the server is not ready to serve the zone (not loaded, expired).
    public static let notReady = ExtendedError(rawValue: 14)
    /// RFC 8914 §4.19: the request is refused by policy (a transfer or NOTIFY access list).
    public static let prohibited = ExtendedError(rawValue: 18)
    /// RFC 8914 §4.21: the name is not in a zone this server is authoritative for.
    public static let notAuthoritative = ExtendedError(rawValue: 20)
}
