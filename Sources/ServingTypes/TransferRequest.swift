import DNSAuth
import DNSZone

/// An allowed AXFR or IXFR over TCP, with everything the transfer producer needs to write it.
public struct TransferRequest: Sendable {
    public var zone: Zone
    /// The serial the client has, for IXFR (RFC 1995 §3); `nil` for AXFR.
    public var clientSerial: UInt32?
    public var id: UInt16
    /// The question as the client sent it (owner, type, class).
    public var question: [UInt8]
    /// Flags of the query to echo (opcode, RD, CD).
    public var queryFlags: UInt16
    /// Signs every message of the answer when the request was signed (RFC 8945 §5.3.1).
    public var signer: TSIGSigner?
    /// The time to sign with.
    public var now: UInt64
    public var client: IPAddress

    public init(
        zone: Zone, clientSerial: UInt32?, id: UInt16, question: [UInt8], queryFlags: UInt16,
        signer: TSIGSigner?,
        now: UInt64, client: IPAddress
    ) {
        self.zone = zone
        self.clientSerial = clientSerial
        self.id = id
        self.question = question
        self.queryFlags = queryFlags
        self.signer = signer
        self.now = now
        self.client = client
    }
}
