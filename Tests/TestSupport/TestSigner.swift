import CLDNS

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Signs small zones inside unit tests, through libldns, so that DNSSEC tests need no signed zone
/// files checked in and no external signer.
///
/// The keys are fixed (embedded below) so that tests are reproducible: the same zone, denial
/// parameters and validity period always give the same DNSKEY, DS and key tags, and a test can hold
/// the trust anchor as a constant. (ECDSA signatures themselves are randomised, so RRSIG
/// signature fields differ from run to run.) These keys are public in the source tree: they are
/// for tests only and must never sign a real zone.
///
/// Both keys are ECDSA P-256 with SHA-256 (algorithm 13): a KSK (flags 257) signs the DNSKEY RRset
/// and a ZSK (flags 256) signs everything else.
public enum TestSigner {
    /// How nonexistence is proved in the signed zone.
    public enum Denial: Sendable {
        /// An NSEC chain (RFC 4034).
        case nsec
        /// An NSEC3 chain (RFC 5155, hash algorithm 1, SHA-1) and the apex NSEC3PARAM.
        ///
        /// With `optOut`, every NSEC3 record has the Opt-Out flag and unsigned delegations (NS
        /// without DS below the apex) get no NSEC3 record of their own, nor do empty non-terminals
        /// that exist only because of them (RFC 5155 §7.1): their names fall in the span of an
        /// Opt-Out NSEC3 record. (libldns on its own sets the flag but still gives every
        /// delegation an NSEC3 record; `TestSigner` leaves them out so the Opt-Out proofs of
        /// RFC 5155 §7.2.3 and §7.2.4 can be tested.) The NSEC3PARAM flags field is always 0.
        case nsec3(iterations: UInt16, salt: [UInt8], optOut: Bool)
    }

    /// Why a zone could not be signed: what failed (with the line, for zone text) and libldns's
    /// status message.
    public struct SigningError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Key tag of the KSK's DNSKEY record (flags 257, algorithm 13).
    public static let kskKeyTag: UInt16 = 52364
    /// Key tag of the ZSK's DNSKEY record (flags 256, algorithm 13).
    public static let zskKeyTag: UInt16 = 19620
    /// TTL of the records returned by ``dnskey(origin:)`` and ``ds(origin:)``. (In a signed zone
    /// the DNSKEY records take the SOA record's TTL.)
    public static let anchorTTL: UInt32 = 3600

    /// Test-only private keys, made once with `ldns-keygen -a ECDSAP256SHA256 [-k] example.`. The
    /// key tags above follow from them.
    private static let kskPrivateKey = """
        Private-key-format: v1.2
        Algorithm: 13 (ECDSAP256SHA256)
        PrivateKey: OhGw91brQx2/dfL6diUT3AvrMntfp3u3WOfvIgVuFPU=

        """
    private static let zskPrivateKey = """
        Private-key-format: v1.2
        Algorithm: 13 (ECDSAP256SHA256)
        PrivateKey: /0q5CyFg3LZmOrO1czwkraM7UL4IZVSdc7qd7QX5umQ=

        """

    /// Signs `zone` (master-file text with $ORIGIN/$TTL or absolute names) with the fixed test keys
    /// (ECDSA P-256, algorithm 13: one KSK 257 and one ZSK 256, embedded as constants), signatures
    /// valid from `inception` to `expiration` (seconds since the epoch). Returns the signed zone as
    /// master-file text including the DNSKEY, RRSIG, NSEC/NSEC3 and NSEC3PARAM records.
    ///
    /// `origin` is the initial `$ORIGIN` and must be the owner of the zone's SOA record. Records
    /// without a TTL and before any `$TTL` get 3600. The DNSKEY records are added with the SOA
    /// record's TTL; NSEC and NSEC3 records get the lesser of the SOA TTL and SOA MINIMUM; the
    /// NSEC3PARAM record gets 3600 (libldns's default). Every RRSIG has exactly `inception` and
    /// `expiration` (past times give expired signatures), except that libldns takes 0 to mean
    /// "now" (inception) and "now + 4 weeks" (expiration).
    ///
    /// The output has the SOA record first, then the names in canonical order, each with its
    /// RRsets, their RRSIGs, then its NSEC or NSEC3 record and that record's RRSIG (an NSEC3 record
    /// is printed under the name it was hashed from). Records below a zone cut (glue, occluded
    /// names) are printed unsigned and have no NSEC/NSEC3 record; the NS RRset of a delegation is
    /// not signed, its DS RRset is. Duplicate records are dropped; a second SOA record, `$INCLUDE`
    /// or a record libldns cannot parse is an error.
    public static func sign(
        _ zone: String, origin: String, denial: Denial, inception: UInt32, expiration: UInt32
    ) throws -> String {
        guard let originName = ldns_dname_new_frm_str(origin) else {
            throw SigningError(description: "bad origin \(origin)")
        }
        defer { ldns_rdf_deep_free(originName) }
        let parsed = try parse(zone, origin: originName)
        // The parsed zone owns the records read and the DNSKEY records; `added` owns the records
        // libldns makes while signing; `signed` only points at both.
        defer { ldns_zone_deep_free(parsed) }
        guard let soa = ldns_zone_soa(parsed) else {
            throw SigningError(description: "the zone has no SOA record")
        }
        guard ldns_dname_compare(ldns_rr_owner(soa), originName) == 0 else {
            throw SigningError(description: "the SOA record's owner is not the origin \(origin)")
        }

        let keys = ldns_key_list_new()!
        defer { ldns_key_list_free(keys) }
        for (text, flags) in [(kskPrivateKey, UInt16(257)), (zskPrivateKey, UInt16(256))] {
            let key = makeKey(text, flags: flags, owner: originName)
            ldns_key_set_inception(key, inception)
            ldns_key_set_expiration(key, expiration)
            ldns_key_list_push_key(keys, key)
            let dnskey = ldns_key2rr(key)!
            ldns_rr_set_ttl(dnskey, ldns_rr_ttl(soa))
            ldns_zone_push_rr(parsed, dnskey)
        }

        let signed = ldns_dnssec_zone_new()!
        defer { ldns_dnssec_zone_free(signed) }
        let added = ldns_rr_list_new()!
        defer { ldns_rr_list_deep_free(added) }
        try check(ldns_dnssec_zone_add_rr(signed, soa), "cannot add the SOA record")
        let records = ldns_zone_rrs(parsed)
        for index in 0..<ldns_rr_list_rr_count(records) {
            let record = ldns_rr_list_rr(records, index)
            try check(ldns_dnssec_zone_add_rr(signed, record), "cannot add \(text(of: record))")
        }

        switch denial {
        case .nsec:
            try check(
                ldns_dnssec_zone_sign_flg(
                    signed, added, keys, ldns_dnssec_default_replace_signatures, nil, 0),
                "cannot sign")
        case .nsec3(let iterations, let salt, let optOut):
            guard salt.count <= 255 else {
                throw SigningError(description: "NSEC3 salt longer than 255 octets")
            }
            if optOut {
                try check(ldns_dnssec_zone_mark_glue(signed), "cannot find the zone cuts")
                try check(
                    ldns_dnssec_zone_add_empty_nonterminals(signed), "cannot add empty non-terminals")
                leaveOutUnsignedDelegations(signed)
            }
            // libldns copies the salt; a one-octet buffer stands in for an empty one (never read).
            var saltBytes = salt.isEmpty ? [0] : salt
            let status = saltBytes.withUnsafeMutableBufferPointer { buffer in
                ldns_dnssec_zone_sign_nsec3_flg(
                    signed, added, keys, ldns_dnssec_default_replace_signatures, nil,
                    1, optOut ? 1 : 0, iterations, UInt8(salt.count), buffer.baseAddress, 0)
            }
            try check(status, "cannot sign")
        }
        return try capture { file in withPlainFormat { ldns_dnssec_zone_print_fmt(file, $0, signed) } }
    }

    /// The KSK's DNSKEY record for `origin` as master-file text, a trust anchor for tests: one line
    /// ending in a newline, TTL ``anchorTTL``, no comment.
    public static func dnskey(origin: String) -> String {
        withKSKRecord(origin: origin) { record in text(of: record) }
    }

    /// The DS record (digest type 2, SHA-256) of the KSK for `origin`, for a parent zone, in the
    /// same form as ``dnskey(origin:)``.
    public static func ds(origin: String) -> String {
        withKSKRecord(origin: origin) { record in
            let ds = ldns_key_rr2ds(record, LDNS_SHA256)!
            defer { ldns_rr_free(ds) }
            return text(of: ds)
        }
    }

    /// The NSEC3 hashed owner label of `name` (RFC 5155 §5), lowercase base32hex, computed by
    /// libldns: an oracle for tests of the server's own hashing and proofs.
    public static func nsec3Label(of name: String, iterations: UInt16, salt: [UInt8]) -> String {
        let owner = ldns_dname_new_frm_str(name)!
        defer { ldns_rdf_deep_free(owner) }
        let hashed = salt.withUnsafeBufferPointer { salt in
            ldns_nsec3_hash_name(owner, 1, iterations, UInt8(salt.count), salt.baseAddress)!
        }
        defer { ldns_rdf_deep_free(hashed) }
        let text = ldns_rdf2str(hashed)!
        defer { free(text) }
        return String(cString: text).lowercased().split(separator: ".").first.map(String.init) ?? ""
    }

    // MARK: - libldns plumbing

    /// Runs `body` with the plain presentation format: no `;{id = …}` comments after DNSKEYs.
    private static func withPlainFormat<T>(_ body: (UnsafePointer<ldns_output_format>) -> T) -> T {
        withUnsafePointer(to: ldns_output_format(flags: 0, data: nil), body)
    }

    private static func withKSKRecord(origin: String, _ body: (UnsafeMutablePointer<ldns_rr>) -> String)
        -> String
    {
        guard let owner = ldns_dname_new_frm_str(origin) else { preconditionFailure("bad origin \(origin)") }
        defer { ldns_rdf_deep_free(owner) }
        let key = makeKey(kskPrivateKey, flags: 257, owner: owner)
        defer { ldns_key_deep_free(key) }
        let record = ldns_key2rr(key)!
        defer { ldns_rr_free(record) }
        ldns_rr_set_ttl(record, anchorTTL)
        return body(record)
    }

    /// Reads one of the embedded private keys and gives it its owner, flags and key tag.
    private static func makeKey(
        _ text: String, flags: UInt16, owner: UnsafeMutablePointer<ldns_rdf>
    ) -> UnsafeMutablePointer<ldns_key> {
        var key: UnsafeMutablePointer<ldns_key>?
        let status = withFile(text) { file in ldns_key_new_frm_fp(&key, file) }
        guard status == LDNS_STATUS_OK, let key else {
            preconditionFailure("embedded test key unreadable: \(message(status))")
        }
        ldns_key_set_pubkey_owner(key, ldns_rdf_clone(owner))
        ldns_key_set_flags(key, flags)
        let record = ldns_key2rr(key)!
        ldns_key_set_keytag(key, ldns_calc_keytag(record))
        ldns_rr_free(record)
        return key
    }

    /// Reads the zone text record by record. (`ldns_zone_new_frm_fp` would do, but on a syntax
    /// error libldns 1.8 frees the partial zone without its records, a leak under sanitizers.)
    private static func parse(
        _ zone: String, origin: UnsafeMutablePointer<ldns_rdf>
    ) throws -> UnsafeMutablePointer<ldns_zone> {
        let parsed = ldns_zone_new()!
        var ttl: UInt32 = 3600
        var currentOrigin = ldns_rdf_clone(origin)
        var previousOwner = ldns_rdf_clone(origin)
        var line: Int32 = 1
        defer {
            ldns_rdf_deep_free(currentOrigin)
            ldns_rdf_deep_free(previousOwner)
        }
        let problem = withFile(zone + "\n") { file -> String? in
            while feof(file) == 0 {
                let start = line
                var record: UnsafeMutablePointer<ldns_rr>?
                let status = ldns_rr_new_frm_fp_l(
                    &record, file, &ttl, &currentOrigin, &previousOwner, &line)
                switch status {
                case LDNS_STATUS_OK:
                    guard let record else { return "line \(start): no record" }
                    if ldns_rr_get_type(record) != LDNS_RR_TYPE_SOA {
                        ldns_zone_push_rr(parsed, record)
                    } else if ldns_zone_soa(parsed) == nil {
                        ldns_zone_set_soa(parsed, record)
                    } else {
                        ldns_rr_free(record)
                        return "line \(start): a second SOA record"
                    }
                case LDNS_STATUS_SYNTAX_EMPTY, LDNS_STATUS_SYNTAX_TTL, LDNS_STATUS_SYNTAX_ORIGIN:
                    continue
                case LDNS_STATUS_SYNTAX_INCLUDE:
                    return "line \(start): \(message(LDNS_STATUS_SYNTAX_INCLUDE_ERR_NOTIMPL))"
                default:
                    return "line \(start): \(message(status))"
                }
            }
            return nil
        }
        if let problem {
            ldns_zone_deep_free(parsed)
            throw SigningError(description: "zone text \(problem)")
        }
        return parsed
    }

    /// Marks, as if occluded, the names that get no NSEC3 record under Opt-Out: unsigned
    /// delegations, and empty non-terminals with nothing but unsigned delegations (or glue) below.
    /// libldns skips such names when it builds the NSEC3 chain and when it makes signatures; it
    /// would sign nothing at them anyway (a delegation's NS RRset and glue are never signed).
    private static func leaveOutUnsignedDelegations(_ zone: UnsafeMutablePointer<ldns_dnssec_zone>) {
        typealias Name = UnsafeMutablePointer<ldns_dnssec_name>
        var names: [Name] = []
        let tree = zone.pointee.names
        var node = ldns_dnssec_name_node_next_nonglue(ldns_rbtree_first(tree))
        while let current = node {
            names.append(Name(mutating: current.pointee.data.assumingMemoryBound(to: ldns_dnssec_name.self)))
            node = ldns_dnssec_name_node_next_nonglue(ldns_rbtree_next(current))
        }
        func has(_ name: Name, _ type: ldns_rr_type) -> Bool {
            isTrue(ldns_dnssec_rrsets_contains_type(name.pointee.rrsets, type))
        }
        func isUnsignedDelegation(_ name: Name) -> Bool {
            has(name, LDNS_RR_TYPE_NS) && !has(name, LDNS_RR_TYPE_SOA) && !has(name, LDNS_RR_TYPE_DS)
        }
        let kept = names.filter { $0.pointee.rrsets != nil && !isUnsignedDelegation($0) }
        for name in names {
            let leftOut =
                name.pointee.rrsets == nil
                ? !kept.contains { isTrue(ldns_dname_is_subdomain($0.pointee.name, name.pointee.name)) }
                : isUnsignedDelegation(name)
            if leftOut { setTrue(&name.pointee.is_glue) }
        }
    }

    // ldns's `bool` is C `bool` where <stdbool.h> came first, else `signed char` (ldns/common.h).
    private static func isTrue(_ value: Bool) -> Bool { value }
    private static func isTrue<T: BinaryInteger>(_ value: T) -> Bool { value != 0 }
    private static func setTrue(_ value: inout Bool) { value = true }
    private static func setTrue<T: BinaryInteger>(_ value: inout T) { value = 1 }

    /// Runs `body` on a read-only stream over `text`.
    private static func withFile<T>(_ text: String, _ body: (UnsafeMutablePointer<FILE>) -> T) -> T {
        text.withCString { bytes in
            let file = fmemopen(UnsafeMutableRawPointer(mutating: bytes), strlen(bytes), "r")!
            defer { fclose(file) }
            return body(file)
        }
    }

    /// What `body` writes to a stream, as a string.
    private static func capture(_ body: (UnsafeMutablePointer<FILE>) -> Void) throws -> String {
        let buffer = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 1)
        let size = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        buffer.initialize(to: nil)
        size.initialize(to: 0)
        defer {
            free(buffer.pointee)
            buffer.deallocate()
            size.deallocate()
        }
        guard let stream = open_memstream(buffer, size) else {
            throw SigningError(description: "open_memstream: \(String(cString: strerror(errno)))")
        }
        body(stream)
        fclose(stream)
        return buffer.pointee.map { String(cString: $0) } ?? ""
    }

    private static func text(of record: UnsafeMutablePointer<ldns_rr>?) -> String {
        guard let string = withPlainFormat({ ldns_rr2str_fmt($0, record) }) else { return "<record>" }
        defer { free(string) }
        return String(cString: string)
    }

    private static func check(_ status: ldns_status, _ what: String) throws {
        guard status == LDNS_STATUS_OK else {
            throw SigningError(description: "\(what): \(message(status))")
        }
    }

    private static func message(_ status: ldns_status) -> String {
        ldns_get_errorstr_by_id(status).map { String(cString: $0) } ?? "ldns status \(status.rawValue)"
    }
}
