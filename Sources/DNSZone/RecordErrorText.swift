import CLDNS

/// Says which field of a record libldns could not read, and why, where libldns says only
/// "Syntax error, could not parse the RR's rdata": `invalid IPv4 address '192.0.2.300'`, in the
/// words NSD uses. Only reached for a record that failed, so it may allocate.
enum RecordErrorText {
    /// The problem with the RDATA of `entry` (a record on one line, comments and parentheses
    /// removed; a leading blank means no owner), or `nil` when it cannot tell.
    static func explain(_ entry: String) -> String? {
        var tokens = tokenize(entry)
        if !(entry.first?.isWhitespace ?? true) && !tokens.isEmpty { tokens.removeFirst() }  // the owner
        // TTL and class come in either order before the type (RFC 1035 §5.1).
        var type: ldns_rr_type? = nil
        while !tokens.isEmpty {
            let token = tokens.removeFirst()
            let found = ldns_get_rr_type_by_name(token)
            if found.rawValue != 0 && !isClassOrTTL(token) {
                type = found
                break
            }
        }
        // `TYPE88604800` reads as a number past 16 bits: no type at all.
        guard let type, let code = UInt16(exactly: type.rawValue), let descriptor = ldns_rr_descript(code)
        else {
            return nil
        }
        if tokens.first == "\\#" { return nil }  // RFC 3597 form: libldns's own message says enough
        let minimum = ldns_rr_descriptor_minimum(descriptor)
        let maximum = ldns_rr_descriptor_maximum(descriptor)
        for (index, token) in tokens.enumerated() where index < maximum {
            let field = ldns_rr_descriptor_field_type(descriptor, index)
            guard let problem = Self.problem(field) else { return nil }  // a field of many tokens
            if let rdf = ldns_rdf_new_frm_str(field, token) {
                ldns_rdf_deep_free(rdf)
                continue
            }
            return "\(problem.what) '\(token)'\(problem.expected.map { " (expected \($0))" } ?? "")"
        }
        if tokens.count < minimum {
            let name = String(cString: descriptor.pointee._name)
            return "\(name) needs \(minimum) data fields, got \(tokens.count)"
        }
        return nil
    }

    /// What is wrong with a token a single-token field could not read, by field type; `nil`
    /// for fields that may span several tokens (text, base64, type bitmaps …).
    private static func problem(_ field: ldns_rdf_type) -> (what: String, expected: String?)? {
        switch field {
        case LDNS_RDF_TYPE_A: ("invalid IPv4 address", nil)
        case LDNS_RDF_TYPE_AAAA: ("invalid IPv6 address", nil)
        case LDNS_RDF_TYPE_DNAME: ("invalid domain name", nil)
        case LDNS_RDF_TYPE_INT8, LDNS_RDF_TYPE_ALG, LDNS_RDF_TYPE_CERT_ALG: ("invalid number", "0 to 255")
        case LDNS_RDF_TYPE_INT16: ("invalid number", "0 to 65535")
        case LDNS_RDF_TYPE_INT32: ("invalid number", "0 to 4294967295")
        case LDNS_RDF_TYPE_PERIOD: ("invalid time value", nil)
        case LDNS_RDF_TYPE_TIME: ("invalid date", "YYYYMMDDHHmmSS")
        case LDNS_RDF_TYPE_TYPE: ("unknown type", nil)
        default: nil
        }
    }

    private static func isClassOrTTL(_ token: String) -> Bool {
        let upper = token.uppercased()
        return ["IN", "CH", "HS", "CS"].contains(upper) || upper.hasPrefix("CLASS")
            || token.first.map { $0.isNumber } == true
    }

    /// Splits on blanks outside double quotes, keeping the quotes.
    private static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                current.append(character)
                escaped = true
            } else if character == "\"" {
                current.append(character)
                quoted.toggle()
            } else if character.isWhitespace && !quoted {
                if !current.isEmpty { tokens.append(current) }
                current = ""
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }
}
