import DNSWire

#if canImport(Glibc)
    import Glibc
#endif

/// The DNSSEC part of loading a zone: RRSIGs grouped by the type they cover, the NSEC or NSEC3
/// chain indexed for proofs, and the checks of a signed zone, which are warnings (the zone is
/// served as its signer made it, as NSD and Knot DNS serve it). An unsigned zone is unaffected.
extension Checker {
    /// Most warnings of one kind listed before a summary line.
    static let warningsPerKind = 5

    /// RFC 4034 §3: orders each node's RRSIG records by the type they cover (insertion sort in
    /// place: a node holds a handful), so the signatures of one RRset follow one another, and
    /// notes that range on the RRset.
    mutating func indexSignatures() {
        for node in 0..<Int32(names.count) {
            guard let signatures = rrset(node, .rrsig) else { continue }
            let range = recordRange(signatures)
            for k in range.dropFirst() {
                var position = k
                while position > range.lowerBound && coveredType(position - 1) > coveredType(position) {
                    records.swapAt(position - 1, position)
                    recordSource.swapAt(position - 1, position)
                    position -= 1
                }
            }
            var start = range.lowerBound
            while start < range.upperBound {
                let covered = coveredType(start)
                var end = start + 1
                while end < range.upperBound && coveredType(end) == covered { end += 1 }
                if covered != RecordType.rrsig.rawValue, let set = rrset(node, RecordType(rawValue: covered))
                {
                    rrsets[set].firstSignature = Int32(start)
                    rrsets[set].signatureCount = UInt16(clamping: end - start)
                }
                start = end
            }
        }
    }

    /// The Type Covered field of RRSIG output record `record` (RFC 4034 §3.1.1).
    private func coveredType(_ record: Int) -> UInt16 {
        withRData(record) { $0.count >= 2 ? UInt16($0[0]) << 8 | UInt16($0[1]) : 0 }
    }

    /// Checks a signed zone at time `now` and builds its denial index. Warnings: RRSIGs expired
    /// or not yet valid (RFC 4034 §3.1.5), authoritative RRsets without RRSIG (RFC 4035 §2.2),
    /// a broken NSEC or NSEC3 chain, names the chain leaves out, NSEC3PARAM without NSEC3.
    mutating func checkSigning(now: UInt64) {
        var signatureCount = 0
        var earliest: UInt64? = nil
        for node in 0..<Int32(names.count) {
            guard let set = rrset(node, .rrsig) else { continue }
            for record in recordRange(set) {
                signatureCount += 1
                guard let (inception, expiration) = validity(record, now: now) else { continue }
                earliest = min(earliest ?? expiration, expiration)
                let covered = RecordType(rawValue: coveredType(record))
                if expiration < now {
                    limitedWarning(
                        "expired", location(record),
                        "RRSIG of the \(covered) RRset of \(owner(record)) expired on \(utcDate(expiration))")
                } else if inception > now {
                    limitedWarning(
                        "not yet valid", location(record),
                        "RRSIG of the \(covered) RRset of \(owner(record)) is not valid before \(utcDate(inception))"
                    )
                }
            }
        }
        guard signatureCount > 0 || rrset(0, .dnskey) != nil else { return }
        let whole = SourceLocation(file: source, line: nil)
        if rrset(0, .dnskey) == nil {
            warning(whole, "RRSIG records but no DNSKEY at the zone apex \(origin)")
        }
        checkUnsignedRRSets()
        if let parameters = rrset(0, .nsec3param) {
            indexNSEC3(parametersRecord: recordRange(parameters).lowerBound)
        } else if rrset(0, .nsec) != nil {
            indexNSEC()
        } else {
            warning(
                whole,
                "signed zone \(origin) has no NSEC or NSEC3PARAM at its apex: negative answers cannot be proven"
            )
        }
        summarizeWarnings()
        signing = ZoneSigning(denial: denial.method, signatures: signatureCount, earliestExpiration: earliest)
    }

    /// Inception and expiration of RRSIG record `record` as seconds since the epoch, read with
    /// RFC 1982 arithmetic around `now` (RFC 4034 §3.1.5).
    private func validity(_ record: Int, now: UInt64) -> (UInt64, UInt64)? {
        withRData(record) { rdata in
            guard rdata.count >= 18 else { return nil }
            func time(at offset: Int) -> UInt64 {
                let value = (8..<12).reduce(UInt32(0)) { $0 << 8 | UInt32(rdata[offset + $1 - 8]) }
                let difference = Int64(Int32(bitPattern: value &- UInt32(truncatingIfNeeded: now)))
                return UInt64(max(0, Int64(now) + difference))
            }
            return (time(at: 12), time(at: 8))
        }
    }

    /// RFC 4035 §2.2: every authoritative RRset is signed; at a delegation only DS and NSEC are
    /// (the NS there and glue belong to the child).
    private mutating func checkUnsignedRRSets() {
        for node in 0..<Int32(names.count) where cutAbove[Int(node)] < 0 {
            let isCut = flags[Int(node)].contains(.cut)
            for set in rrsetRange(node) where rrsets[set].signatureCount == 0 {
                let type = rrsets[set].type
                guard type != .rrsig, !isCut || type == .ds || type == .nsec else { continue }
                let first = recordRange(set).lowerBound
                limitedWarning(
                    "unsigned", location(first), "the \(type) RRset of \(owner(first)) has no RRSIG")
            }
        }
    }

    // MARK: NSEC (RFC 4035 §3.1.3)

    /// The NSEC chain in canonical order, checked: each NSEC names the next owner of the chain
    /// as its Next Domain Name (RFC 4034 §4.1.1), the last the apex; every authoritative name
    /// with data has one.
    private mutating func indexNSEC() {
        var chain: [Int32] = []
        for node in 0..<Int32(names.count) where cutAbove[Int(node)] < 0 {
            if rrset(node, .nsec) != nil {
                chain.append(node)
            } else if rrsetCount[Int(node)] > 0 {
                let first = recordRange(Int(firstRRSet[Int(node)])).lowerBound
                limitedWarning("no nsec", location(first), "no NSEC record at \(owner(first))")
            }
        }
        chain.sort { a, b in
            names.withKey(a) { first in names.withKey(b) { CanonicalOrder.compare(first, $0) < 0 } }
        }
        var lowered = [UInt8](repeating: 0, count: NameLimits.maxWireLength)
        for (position, node) in chain.enumerated() {
            let next = chain[(position + 1) % chain.count]
            let record = recordRange(rrset(node, .nsec)!).lowerBound
            let linked = withRData(record) { rdata -> Bool in
                guard rdata.count > 0, let length = validNameLength(rdata) else { return false }
                let target = UnsafeRawBufferPointer(rebasing: rdata[0..<length])
                return withLowercased(target, in: &lowered) { nextName in
                    names.withKey(next) { $0.elementsEqual(nextName) }
                }
            }
            if !linked {
                limitedWarning(
                    "nsec chain", location(record),
                    "broken NSEC chain: the NSEC of \(owner(record)) does not name \(name(next)), the next name of the chain"
                )
            }
        }
        denial = DenialIndex(method: .nsec, chain: chain)
    }

    // MARK: NSEC3 (RFC 5155 §7.1)

    /// The NSEC3 chain of the apex NSEC3PARAM's parameters, in hash order, checked: each NSEC3's
    /// Next Hashed Owner Name is the next hash of the chain; every authoritative name (empty
    /// non-terminals too) has one, except what an opt-out span leaves out (RFC 5155 §6); every
    /// NSEC3 matches a name. Each name's matching NSEC3 is found here, once.
    private mutating func indexNSEC3(parametersRecord: Int) {
        guard let parameters = withRData(parametersRecord, { NSEC3Parameters(rdata: $0) }) else {
            return warning(location(parametersRecord), "NSEC3PARAM record of \(origin) is malformed")
        }
        // Each member: its hash, its node, and its NSEC3 record of these parameters.
        var members: [(hash: NSEC3Hash, node: Int32, record: Int)] = []
        var optOut = false
        for node in 0..<Int32(names.count) {
            guard let set = rrset(node, .nsec3),
                let member = recordRange(set).first(where: {
                    withRData($0) { parameters.describes(nsec3: $0) }
                })
            else { continue }
            // The owner's first label is the hash in base32hex (RFC 5155 §3.3).
            guard
                let hash = names.withKey(
                    node, { NSEC3Hash(label: UnsafeRawBufferPointer(rebasing: $0[1..<(1 + Int($0[0]))])) })
            else {
                limitedWarning(
                    "nsec3 owner", location(member),
                    "the NSEC3 at \(owner(member)) is not named by a SHA-1 hash")
                continue
            }
            members.append((hash, node, member))
            optOut = optOut || withRData(member) { $0.count > 1 && $0[1] & 1 != 0 }
        }
        guard !members.isEmpty else {
            return warning(
                location(parametersRecord),
                "NSEC3PARAM (\(parameters)) at \(origin) but no NSEC3 record with these parameters: negative answers cannot be proven"
            )
        }
        members.sort { $0.hash < $1.hash }
        let chain = members.map(\.node)
        let hashes = members.map(\.hash)
        checkNSEC3Links(members)
        var matching = [Int32](repeating: -1, count: names.count)
        var matched = [Bool](repeating: false, count: chain.count)
        for node in 0..<Int32(names.count)
        where cutAbove[Int(node)] < 0 && !flags[Int(node)].contains(.nsec3Only) {
            let hash = names.withKey(node) { parameters.hash(of: $0) }
            if let found = hashes.withUnsafeBufferPointer({ lastIndex(in: $0) { $0 <= hash } }),
                hashes[found] == hash
            {
                matching[Int(node)] = Int32(found)
                matched[found] = true
                continue
            }
            // Opt-out leaves out insecure delegations and the empty non-terminals above them.
            let isInsecureCut = flags[Int(node)].contains(.cut) && rrset(node, .ds) == nil
            let isEmpty = rrsetCount[Int(node)] == 0
            if optOut && (isInsecureCut || isEmpty) { continue }
            if isEmpty {
                limitedWarning(
                    "no nsec3", SourceLocation(file: source, line: nil),
                    "no NSEC3 record matches the empty non-terminal \(name(node))")
            } else {
                let first = recordRange(Int(firstRRSet[Int(node)])).lowerBound
                limitedWarning("no nsec3", location(first), "no NSEC3 record matches \(owner(first))")
            }
        }
        for (position, node) in chain.enumerated() where !matched[position] {
            let record = recordRange(rrset(node, .nsec3)!).lowerBound
            limitedWarning(
                "nsec3 orphan", location(record), "the NSEC3 at \(owner(record)) matches no name of the zone")
        }
        denial = DenialIndex(method: .nsec3(parameters), chain: chain, hashes: hashes, matching: matching)
    }

    /// Each NSEC3's Next Hashed Owner Name (RFC 5155 §3.1.7) is the hash of the next owner;
    /// `chain` is sorted by hash.
    private mutating func checkNSEC3Links(_ chain: [(hash: NSEC3Hash, node: Int32, record: Int)]) {
        for (position, member) in chain.enumerated() {
            let next = chain[(position + 1) % chain.count]
            let record = member.record
            let linked = withRData(record) { rdata -> Bool in
                let hashStart = 5 + Int(rdata[4])
                guard rdata.count > hashStart, rdata.count >= hashStart + 1 + Int(rdata[hashStart]) else {
                    return false
                }
                let field = UnsafeRawBufferPointer(
                    rebasing: rdata[(hashStart + 1)..<(hashStart + 1 + Int(rdata[hashStart]))])
                return NSEC3Hash(field) == next.hash
            }
            if !linked {
                limitedWarning(
                    "nsec3 chain", location(record),
                    "broken NSEC3 chain: the NSEC3 at \(owner(record)) does not point to \(name(next.node)), the next hash of the chain"
                )
            }
        }
    }

    // MARK: Warnings

    /// A warning of `kind`, listed only for the first few of that kind.
    private mutating func limitedWarning(_ kind: String, _ location: SourceLocation, _ message: String) {
        let count = warningCounts[kind, default: 0] + 1
        warningCounts[kind] = count
        if count <= Self.warningsPerKind { warning(location, message) }
    }

    /// One line per kind of which more warnings were found than listed.
    private mutating func summarizeWarnings() {
        for (kind, count) in warningCounts.sorted(by: { $0.key < $1.key }) where count > Self.warningsPerKind
        {
            warning(
                SourceLocation(file: source, line: nil),
                "\(count - Self.warningsPerKind) more warnings like the above (\(kind))")
        }
    }
}

/// The length of the valid uncompressed name at the start of `bytes`, if there is one.
private func validNameLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
    var position = 0
    while position < bytes.count {
        let length = Int(bytes[position])
        if length == 0 { return position + 1 <= NameLimits.maxWireLength ? position + 1 : nil }
        guard length < 64 else { return nil }
        position += 1 + length
    }
    return nil
}

/// `seconds` since the epoch as `YYYY-MM-DD hh:mm:ss UTC`, for messages.
public func utcDate(_ seconds: UInt64) -> String {
    var time = time_t(seconds)
    var parts = tm()
    gmtime_r(&time, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
}
