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

/// What a zone transfer brought (RFC 5936 §2.2, RFC 1995 §4).
public enum TransferOutcome: Sendable {
    /// The primary has nothing newer (an IXFR answered with its SOA alone).
    case upToDate(serial: UInt32)
    /// The whole zone (AXFR, or an AXFR-style IXFR answer): the SOA first, no closing SOA.
    case full([ResourceRecord])
    /// Differences to apply in order, starting at the client's serial.
    case incremental([ZoneDiff])
}

/// Reads the messages of a transfer answer as they arrive and decides when it is complete:
/// checks each message's ID, RCODE, question and TSIG (RFC 8945 §5.3.1, every message of a
/// multi-message answer), then follows the SOA framing of AXFR and IXFR.
public struct TransferResponseReader {
    public enum Progress: Sendable {
        case needMore
        case done(TransferOutcome)
        case failed(String)
    }

    let zone: DomainName
    let id: UInt16
    let clientSerial: UInt32?
    var verifier: TSIGResponseVerifier?
    var records: [ResourceRecord] = []
    var messages = 0
    var newSerial: UInt32? = nil

    /// - Parameters:
    ///   - clientSerial: for IXFR, the serial we asked to update from; `nil` for AXFR.
    ///   - verifier: set when the request was signed: every answer must then be signed too.
    public init(zone: DomainName, id: UInt16, clientSerial: UInt32?, verifier: TSIGResponseVerifier?) {
        self.zone = zone.lowercased()
        self.id = id
        self.clientSerial = clientSerial
        self.verifier = verifier
    }

    /// Takes the next message of the answer.
    public mutating func consume(_ bytes: [UInt8], now: UInt64) -> Progress {
        messages += 1
        let message: ReceivedMessage
        do {
            message = try ReceivedMessage(bytes)
        } catch {
            return .failed("malformed message \(messages) of the answer: \(error)")
        }
        guard message.header.id == id, message.header.isResponse else {
            return .failed("message \(messages) does not answer our request (ID or QR)")
        }
        if verifier != nil {
            let check = bytes.withUnsafeBytes { verifier!.verify($0, now: now) }
            if case .failed(let reason) = check { return .failed("TSIG: \(reason)") }
        } else if message.additional.contains(where: { $0.type == .tsig }) {
            return .failed("TSIG on an answer to an unsigned request")
        }
        guard message.rcode == .noError else {
            return .failed("the primary answered \(message.rcode)")
        }
        if let question = message.questions.first, question.name.lowercased() != zone {
            return .failed("the answer is for \(question.name), not \(zone)")
        }
        for record in message.answers {
            guard record.owner.lowercased().isSubdomain(of: zone) || record.type == .soa else {
                return .failed("record \(record.owner) is outside the zone")
            }
            records.append(record)
        }
        return progress(final: false)
    }

    /// Decides from the records so far whether the answer is complete (RFC 5936 §2.2: AXFR ends
    /// with the SOA it began with; RFC 1995 §4: IXFR likewise).
    private func progress(final: Bool) -> Progress {
        guard let first = records.first else { return .needMore }
        guard first.type == .soa, let serial = first.soaSerial, first.owner.lowercased() == zone else {
            return .failed("the answer does not start with the zone's SOA")
        }
        if records.count == 1 {
            // RFC 1995 §2: a lone SOA (in a complete message) means the client is current.
            if let clientSerial, !SerialNumber(serial).isNewer(than: SerialNumber(clientSerial)) {
                return verifierFinished()
                    ? .done(.upToDate(serial: serial)) : .failed("TSIG: last message unsigned")
            }
            return .needMore
        }
        let last = records[records.count - 1]
        guard last.type == .soa, last.soaSerial == serial, records.count >= 2 else { return .needMore }
        guard verifierFinished() else { return .needMore }
        let second = records[1]
        if clientSerial != nil, second.type == .soa, records.count > 2 {
            return incremental(newSerial: serial)
        }
        return .done(.full(Array(records.dropLast())))
    }

    private func verifierFinished() -> Bool { verifier?.finish() ?? true }

    /// Splits an incremental answer into diffs: SOA(old) deletions SOA(new) additions, repeated.
    private func incremental(newSerial: UInt32) -> Progress {
        var diffs: [ZoneDiff] = []
        var index = 1
        let end = records.count - 1  // the closing SOA
        while index < end {
            guard records[index].type == .soa, let from = records[index].soaSerial else {
                return .failed("IXFR answer: expected the SOA that starts a difference")
            }
            var removed = [records[index]]
            index += 1
            while index < end && records[index].type != .soa {
                removed.append(records[index])
                index += 1
            }
            guard index < end, let to = records[index].soaSerial else {
                return .needMore
            }
            var added = [records[index]]
            index += 1
            while index < end && records[index].type != .soa {
                added.append(records[index])
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
