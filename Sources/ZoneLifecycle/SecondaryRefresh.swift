import DNSAuth
import DNSWire
import DNSXfr
import DNSZone

/// One refresh of a secondary zone, run on the transfer queue: SOA queries, IXFR or AXFR, and
/// the zone checks (RFC 1034 §4.3.5, RFC 1995, RFC 5936, RFC 7314).
extension ZoneService {
    /// One refresh (RFC 1034 §4.3.5): ask each primary in turn for its SOA; when one has a newer
    /// serial (RFC 1982), transfer from it, IXFR first when we have a version and AXFR when IXFR
    /// fails in any way, and check the result like a zone file before it replaces anything.
    func refreshZone(_ origin: DomainName, from primaries: [RemoteServer], current: Zone?) -> RefreshOutcome {
        var problems: [String] = []
        var retry: UInt32? = current?.soaTimers.retry
        for primary in primaries {
            let soa: (timers: SOATimers, expire: UInt32?)
            switch querySOA(origin, primary) {
            case .success(let answer): soa = answer
            case .failure(let failure):
                problems.append("\(failure)")
                continue
            }
            retry = soa.timers.retry
            if let current, !SerialNumber(soa.timers.serial).isNewer(than: SerialNumber(current.serial)) {
                guard soa.timers.serial == current.serial else {
                    // RFC 1982: an older serial is not an update, and it does not confirm our data
                    // either: the refresh has failed, so the zone expires unless another primary
                    // confirms it, and is then taken whole (or at once on zone-retransfer).
                    let problem =
                        "\(primary.address) has serial \(soa.timers.serial), behind ours \(current.serial): not followed until the zone expires or zone-retransfer"
                    logger.warning("zone \(origin): \(problem)")
                    problems.append(problem)
                    continue
                }
                return .upToDate(current.soaTimers, primaryExpire: soa.expire, from: "\(primary.address)")
            }
            if let current {
                switch transfer(origin, from: primary, current: current) {
                case .success(let zone):
                    observer?.transferIn(type: "IXFR", succeeded: true)
                    return .transferred(
                        zone, via: "IXFR", from: "\(primary.address)", primaryExpire: soa.expire)
                case .failure(let failure):
                    observer?.transferIn(type: "IXFR", succeeded: false)
                    logger.warning("zone \(origin): IXFR failed (\(failure)); falling back to AXFR")
                    problems.append("\(failure)")
                }
            }
            switch transfer(origin, from: primary, current: nil) {
            case .success(let zone):
                observer?.transferIn(type: "AXFR", succeeded: true)
                return .transferred(zone, via: "AXFR", from: "\(primary.address)", primaryExpire: soa.expire)
            case .failure(let failure):
                observer?.transferIn(type: "AXFR", succeeded: false)
                problems.append("\(failure)")
            }
        }
        return .failed(problems.isEmpty ? "no primaries" : problems.joined(separator: "; "), retry: retry)
    }

    struct TransferFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// The primary's SOA timers and its EDNS EXPIRE (RFC 7314 §3), over UDP (TCP when truncated).
    func querySOA(_ origin: DomainName, _ primary: RemoteServer) -> Result<
        (timers: SOATimers, expire: UInt32?), TransferFailure
    > {
        let id = UInt16.random(in: 0...UInt16.max)
        var signer = primary.key.map { TSIGSigner(key: $0) }
        let request = RequestBuilder.make(
            id: id, zone: origin, type: .soa, expire: true, signer: &signer, now: clock())
        var answer: [UInt8]
        switch DNSClient.exchangeUDP(request, with: primary.address, timeout: settings.queryTimeout) {
        case .success(let bytes): answer = bytes
        case .failure(let failure): return .failure(TransferFailure(description: "SOA query: \(failure)"))
        }
        if answer.count > 3 && answer[2] & 0x02 != 0 {
            var tcpAnswer: [UInt8]? = nil
            _ = DNSClient.exchangeTCP(request, with: primary.address, timeout: settings.queryTimeout) {
                tcpAnswer = $0
                return false
            }
            guard let tcpAnswer else {
                return .failure(TransferFailure(description: "SOA query over TCP failed"))
            }
            answer = tcpAnswer
        }
        if let key = primary.key, let signer {
            var verifier = TSIGResponseVerifier(key: key, requestMAC: signer.lastMAC)
            let check = answer.withUnsafeBytes { verifier.verify($0, now: clock()) }
            if case .failed(let reason) = check {
                return .failure(
                    TransferFailure(description: "\(primary.address): SOA answer TSIG: \(reason)"))
            }
        }
        guard let message = try? ReceivedMessage(answer), message.header.id == id else {
            return .failure(TransferFailure(description: "\(primary.address): malformed SOA answer"))
        }
        guard message.rcode == .noError, message.header.has(DNSHeader.Flag.aa),
            let soa = message.answers.first(where: { $0.type == .soa && $0.owner.lowercased() == origin }),
            let timers = soa.rdata.withUnsafeBytes({ SOATimers(soaRData: $0) })
        else {
            return .failure(
                TransferFailure(
                    description:
                        "\(primary.address): SOA query answered \(message.rcode)\(message.header.has(DNSHeader.Flag.aa) ? "" : " without AA")"
                ))
        }
        var expire: UInt32? = nil
        if let opt = message.additional.first(where: { $0.type == .opt }) {
            expire = expireOption(opt.rdata)
        }
        return .success((timers, expire))
    }

    /// The value of an EDNS EXPIRE option (RFC 7314 §2) in OPT RDATA.
    func expireOption(_ rdata: [UInt8]) -> UInt32? {
        var index = 0
        while index + 4 <= rdata.count {
            let code = UInt16(rdata[index]) << 8 | UInt16(rdata[index + 1])
            let length = Int(rdata[index + 2]) << 8 | Int(rdata[index + 3])
            index += 4
            guard index + length <= rdata.count else { return nil }
            if code == EDNSOptionCode.expire && length == 4 {
                return rdata[index..<(index + 4)].reduce(0) { $0 << 8 | UInt32($1) }
            }
            index += length
        }
        return nil
    }

    /// IXFR from `current` (RFC 1995), or AXFR when `current` is nil (RFC 5936), then the zone
    /// checks; the new version carries the history the transfer extends.
    func transfer(_ origin: DomainName, from primary: RemoteServer, current: Zone?) -> Result<
        Zone, TransferFailure
    > {
        let id = UInt16.random(in: 0...UInt16.max)
        var signer = primary.key.map { TSIGSigner(key: $0) }
        let request = RequestBuilder.make(
            id: id, zone: origin, type: current == nil ? .axfr : .ixfr, clientSOA: current?.soaRecord,
            signer: &signer, now: clock())
        let kind = current == nil ? "AXFR" : "IXFR"
        let source = "\(kind) from \(primary.address)"
        var reader = TransferResponseReader(
            zone: origin, id: id, clientSerial: current?.serial,
            verifier: primary.key.map { TSIGResponseVerifier(key: $0, requestMAC: signer!.lastMAC) },
            source: source)
        var outcome: TransferOutcome? = nil
        var failure: String? = nil
        let exchange = DNSClient.exchangeTCP(
            request, with: primary.address, timeout: settings.transferTimeout
        ) {
            message in
            switch reader.consume(message, now: clock()) {
            case .needMore: return true
            case .done(let result):
                outcome = result
                return false
            case .failed(let reason):
                failure = reason
                return false
            }
        }
        if case .failure(let error) = exchange {
            return .failure(TransferFailure(description: "\(kind): \(error)"))
        }
        if let failure {
            return .failure(TransferFailure(description: "\(kind) from \(primary.address): \(failure)"))
        }
        var history = current?.history ?? ZoneHistory()
        let table: ZoneRecordTable
        switch outcome {
        case .full(let received)?:
            table = received
        case .incremental(let diffs)?:
            guard let current else {
                return .failure(TransferFailure(description: "\(source): unexpected IXFR"))
            }
            guard let patched = current.applying(diffs, source: source) else {
                return .failure(
                    TransferFailure(
                        description:
                            "\(source): the differences \(diffs[0].fromSerial)→\(diffs.last!.toSerial) do not fit our data"
                    ))
            }
            for diff in diffs { history = history.appending(diff, limits: settings.journalLimits) }
            table = patched
        case .upToDate?:
            guard let current else { return .failure(TransferFailure(description: "\(source): no data")) }
            return .success(current)
        case nil:
            return .failure(TransferFailure(description: "\(source): answer incomplete"))
        }
        switch ZoneBuilder.build(origin: origin, source: source, table: table) {
        case .success(let loaded):
            for warning in loaded.warnings.prefix(20) { logger.warning("\(warning)") }
            guard config(origin)?.journaled == true else { return .success(loaded.zone) }
            if case .full = outcome {
                // A whole zone: the journal records its difference from the version we had.
                history =
                    current.map {
                        history.appending(ZoneDiff.between($0, loaded.zone), limits: settings.journalLimits)
                    }
                    ?? ZoneHistory()
            }
            return .success(loaded.zone.with(history: history))
        case .failure(let error):
            let first = error.errors.prefix(3).map { "\($0)" }.joined(separator: "; ")
            return .failure(TransferFailure(description: "\(source): the zone fails its checks: \(first)"))
        }
    }
}
