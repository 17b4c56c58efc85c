import DNSAuth
import DNSWire
import DNSZone

/// What a zone transfer brought (RFC 5936 §2.2, RFC 1995 §4).
public enum TransferOutcome: Sendable {
    /// The primary has nothing newer (an IXFR answered with its SOA alone).
    case upToDate(serial: UInt32)
    /// The whole zone (AXFR, or an AXFR-style IXFR answer): the SOA first, no closing SOA, in a
    /// flat table ready for ``ZoneBuilder``.
    case full(ZoneRecordTable)
    /// Differences to apply in order, starting at the client's serial.
    case incremental([ZoneDiff])
}

/// Reads the messages of a transfer answer as they arrive and decides when it is complete:
/// checks each message's ID, RCODE, question and TSIG (RFC 8945 §5.3.1, every message of a
/// multi-message answer), then follows the SOA framing of AXFR and IXFR.
///
/// A whole zone is read straight into a ``ZoneRecordTable`` through a ``RecordReader``, with no
/// value per record, so a million-record AXFR costs a few allocations; the differences of an
/// incremental answer, which are small, are kept as values.
public struct TransferResponseReader {
    public enum Progress: Sendable {
        case needMore
        case done(TransferOutcome)
        case failed(String)
    }

    private enum Mode {
        /// IXFR, one record seen: the second tells an incremental answer (an SOA) from a whole zone.
        case undecided
        case full
        case incremental
    }

    let zone: DomainName
    let id: UInt16
    let clientSerial: UInt32?
    var verifier: TSIGResponseVerifier?
    private let scratch = RecordScratch()
    private var messages = 0
    private var recordCount = 0
    private var mode: Mode
    /// The new version's SOA: the first record of the answer.
    private var firstSOA: ResourceRecord? = nil
    private var table: ZoneRecordTable
    private var values: [ResourceRecord] = []
    /// The closing SOA of a whole-zone answer has been read.
    private var closed = false

    /// - Parameters:
    ///   - clientSerial: for IXFR, the serial we asked to update from; `nil` for AXFR.
    ///   - verifier: set when the request was signed: every answer must then be signed too.
    ///   - source: names the records in zone-check diagnostics (`AXFR from 192.0.2.53:53`).
    public init(
        zone: DomainName, id: UInt16, clientSerial: UInt32?, verifier: TSIGResponseVerifier?,
        source: String = "transfer"
    ) {
        self.zone = zone.lowercased()
        self.id = id
        self.clientSerial = clientSerial
        self.verifier = verifier
        mode = clientSerial == nil ? .full : .undecided
        table = ZoneRecordTable(receivingFrom: source)
    }

    /// Takes the next message of the answer.
    public mutating func consume(_ bytes: [UInt8], now: UInt64) -> Progress {
        messages += 1
        let checked: String? = bytes.withUnsafeBytes { message in
            do throws(WireError) {
                return try read(message, now: now)
            } catch {
                return "malformed message \(messages) of the answer: \(error)"
            }
        }
        if let problem = checked { return .failed(problem) }
        return progress()
    }

    /// Checks one message and takes its records; returns a problem, or `nil`.
    private mutating func read(_ message: UnsafeRawBufferPointer, now: UInt64) throws(WireError) -> String? {
        guard let header = DNSHeader(message) else { throw .truncated(offset: 0) }
        guard header.id == id, header.isResponse else {
            return "message \(messages) does not answer our request (ID or QR)"
        }
        if verifier != nil {
            if case .failed(let reason) = verifier!.verify(message, now: now) { return "TSIG: \(reason)" }
        } else if case .present = parseTSIG(in: message) {
            return "TSIG on an answer to an unsigned request"
        }
        guard header.rcodeBits == 0 else {
            return "the primary answered \(RCode(rawValue: UInt16(header.rcodeBits)))"
        }
        var reader = WireReader(message, offset: DNSHeader.length)
        for _ in 0..<header.questionCount {
            let length = try reader.readName(into: scratch.owner)
            let name = UnsafeRawBufferPointer(rebasing: scratch.owner[0..<length])
            let matches = zone.wire.withUnsafeBytes {
                name.count == $0.count && DomainName.isSubdomain(name, of: $0)
            }
            guard matches else { return "the answer is for another zone than \(zone)" }
            try reader.skip(4)
        }
        var records = RecordReader(message, at: reader.offset)
        for _ in 0..<header.answerCount {
            let record = try records.next(into: scratch)
            if let problem = take(record) { return problem }
        }
        return nil
    }

    /// Files one answer record by the framing (RFC 5936 §2.2, RFC 1995 §4).
    private mutating func take(_ record: WireRecord) -> String? {
        let inZone = zone.wire.withUnsafeBytes { DomainName.isSubdomain(record.owner, of: $0) }
        guard inZone else {
            return "record \(DomainName(trustedWire: Array(record.owner))) is outside the zone"
        }
        guard !closed else { return "records after the closing SOA" }
        recordCount += 1
        if recordCount == 1 {
            let value = record.value
            guard record.type == .soa, record.owner.count == zone.wire.count, value.soaSerial != nil else {
                return "the answer does not start with the zone's SOA"
            }
            firstSOA = value
            if mode == .full { return append(record) }
            return nil
        }
        if mode == .undecided {
            if record.type == .soa {
                mode = .incremental
                values = [firstSOA!]
            } else {
                mode = .full
                guard table.append(received: firstSOA!) else { return "the zone is too large" }
            }
        }
        switch mode {
        case .incremental:
            values.append(record.value)
            return nil
        default:
            if record.type == .soa {
                guard record.value.soaSerial == firstSOA!.soaSerial else { return "an SOA inside the zone" }
                closed = true
                return nil
            }
            return append(record)
        }
    }

    private mutating func append(_ record: WireRecord) -> String? {
        table.append(received: record) ? nil : "the zone is too large"
    }

    /// Whether the answer is complete after the last message (RFC 5936 §2.2: a whole zone ends
    /// with the SOA it began with; RFC 1995 §2: a lone SOA means the client is current).
    private func progress() -> Progress {
        guard let firstSOA, let serial = firstSOA.soaSerial else { return .needMore }
        let finished = verifier?.finish() ?? true
        if recordCount == 1, mode == .undecided, let clientSerial,
            !SerialNumber(serial).isNewer(than: SerialNumber(clientSerial))
        {
            return finished ? .done(.upToDate(serial: serial)) : .failed("TSIG: last message unsigned")
        }
        switch mode {
        case .full where closed:
            return finished ? .done(.full(table)) : .needMore
        case .incremental:
            guard let last = values.last, values.count > 2, last.type == .soa, last.soaSerial == serial,
                finished
            else { return .needMore }
            return incremental(newSerial: serial)
        default:
            return .needMore
        }
    }

    /// Splits an incremental answer into diffs: SOA(old) deletions SOA(new) additions, repeated.
    private func incremental(newSerial: UInt32) -> Progress {
        var diffs: [ZoneDiff] = []
        var index = 1
        let end = values.count - 1  // the closing SOA
        while index < end {
            guard values[index].type == .soa, let from = values[index].soaSerial else {
                return .failed("IXFR answer: expected the SOA that starts a difference")
            }
            var removed = [values[index]]
            index += 1
            while index < end && values[index].type != .soa {
                removed.append(values[index])
                index += 1
            }
            guard index < end, let to = values[index].soaSerial else { return .needMore }
            var added = [values[index]]
            index += 1
            while index < end && values[index].type != .soa {
                added.append(values[index])
                index += 1
            }
            diffs.append(ZoneDiff(fromSerial: from, toSerial: to, removed: removed, added: added))
        }
        guard let firstDiff = diffs.first, firstDiff.fromSerial == clientSerial,
            diffs.last?.toSerial == newSerial
        else {
            return .failed("IXFR answer: the differences do not lead from our serial to \(newSerial)")
        }
        for pair in zip(diffs, diffs.dropFirst()) where pair.0.toSerial != pair.1.fromSerial {
            return .failed("IXFR answer: broken chain of differences at serial \(pair.0.toSerial)")
        }
        return .done(.incremental(diffs))
    }
}
