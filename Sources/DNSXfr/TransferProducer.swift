import DNSAuth
import DNSWire
import DNSZone
import ServingTypes

/// Writes the answer to one AXFR or IXFR over TCP one message at a time (RFC 5936 §2.2,
/// RFC 1995 §4), so a transport can send each as it is made and serve other clients between
/// them. Each message holds as many records as fit in 64 KiB with names compressed, and is
/// signed when the request was (RFC 8945 §5.3.1: every message, each MAC chained to the last).
///
/// - AXFR: the SOA, every other record, the SOA again.
/// - IXFR: one SOA when the client is current (RFC 1995 §2); the differences from the journal
///   when it reaches back to the client's serial (§4); otherwise the whole zone, AXFR-style.
///
/// Not thread-safe: one thread at a time calls ``nextMessage()`` (the transport makes one chunk
/// of messages at a time on its transfer queue).
public final class TransferProducer: @unchecked Sendable {
    public enum Style: String, Sendable {
        case axfr = "AXFR"
        /// IXFR answered with the differences.
        case incremental = "IXFR"
        /// IXFR answered with the whole zone (the journal does not reach the client's serial).
        case axfrStyleIXFR = "IXFR-as-AXFR"
        /// IXFR from a client that is current: one SOA.
        case upToDate = "IXFR-up-to-date"
    }

    public let request: TransferRequest
    public let style: Style
    public private(set) var messageCount = 0
    public private(set) var recordCount = 0
    private let scratch = ResponseScratch()
    private var signer: TSIGSigner?
    private var cursor = ZoneRecordCursor()
    /// For IXFR answers: every record to send, in order (the zone's SOA first and last).
    private let sequence: [ResourceRecord]
    private var position = 0
    private var closingSOAWritten = false
    public private(set) var finished = false
    /// Label positions remembered for compression per message: the question (the apex) and the
    /// first names. Comparing each name with all 512 that fit the table made a 1M-name AXFR
    /// three times slower than NSD's and Knot's; with 12 every owner still compresses to the apex.
    static let compressionLimit = 12

    public init(_ request: TransferRequest) {
        self.request = request
        signer = request.signer
        let zone = request.zone
        if let clientSerial = request.clientSerial {
            if !SerialNumber(zone.serial).isNewer(than: SerialNumber(clientSerial)) {
                style = .upToDate
                sequence = [zone.soaRecord]
            } else if let diffs = zone.history.diffs(from: clientSerial) {
                style = .incremental
                var records = [zone.soaRecord]
                for diff in diffs {
                    records += diff.removed
                    records += diff.added
                }
                records.append(zone.soaRecord)
                sequence = records
            } else {
                style = .axfrStyleIXFR
                sequence = []
            }
        } else {
            style = .axfr
            sequence = []
        }
    }

    /// The next message, valid until the next call; `nil` once the transfer is complete.
    public func nextMessage() -> UnsafeRawBufferPointer? {
        guard !finished else { return nil }
        let tsigLength = signer?.recordLength ?? 0
        var writer = MessageWriter(scratch: scratch, limit: ResponseScratch.messageCapacity - tsigLength)
        writer.compressionLimit = Self.compressionLimit
        let flags =
            DNSHeader.Flag.qr | DNSHeader.Flag.aa | (request.queryFlags & (0x7800 | DNSHeader.Flag.rd))
        let first = messageCount == 0
        // Cannot overflow: a header and one question are far below the limit.
        try! writer.append(request.id)
        try! writer.append(flags)
        try! writer.append(UInt16(first ? 1 : 0))
        try! writer.append(UInt16(0))
        try! writer.append(UInt16(0))
        try! writer.append(UInt16(0))
        if first {
            request.question.withUnsafeBytes { try! writer.append($0) }
            writer.rememberName(at: DNSHeader.length)
        }
        var written = 0
        switch style {
        case .axfr, .axfrStyleIXFR:
            if !cursor.finished {
                written += request.zone.writeRecords(from: &cursor, into: &writer)
            }
            if cursor.finished && !closingSOAWritten {
                if write(request.zone.soaRecord, into: &writer) {
                    written += 1
                    closingSOAWritten = true
                }
            }
            finished = cursor.finished && closingSOAWritten
        case .incremental, .upToDate:
            while position < sequence.count, write(sequence[position], into: &writer) {
                position += 1
                written += 1
            }
            finished = position == sequence.count
        }
        precondition(written > 0 || finished, "a record larger than a whole message cannot be transferred")
        writer.patch(UInt16(written), at: 6)
        if signer != nil {
            writer.limit = ResponseScratch.messageCapacity
            // Cannot overflow: room for the TSIG was kept aside.
            try! signer!.sign(&writer, time: request.now)
        }
        messageCount += 1
        recordCount += written
        return writer.bytes
    }

    private func write(_ record: ResourceRecord, into writer: inout MessageWriter) -> Bool {
        let mark = writer.mark
        let fitted = record.owner.wire.withUnsafeBytes { owner in
            record.rdata.withUnsafeBytes { rdata -> Bool in
                do {
                    try writer.writeRecord(owner: owner, type: record.type, ttl: record.ttl, rdata: rdata)
                    return true
                } catch {
                    return false
                }
            }
        }
        if !fitted { writer.rollback(to: mark) }
        return fitted
    }
}
