import Yams

/// Walks the YAML tree, checking each key against the keys allowed at that place.
struct NodeReader {
    let file: String

    func fail(_ key: String, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, key: key, message: message)
    }

    func mapping(_ node: Node, at key: String, allowed: [String]) throws(ConfigurationError) -> [String: Node]
    {
        guard let mapping = node.mapping else { throw fail(key, "expected a mapping of keys to values") }
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let name = keyNode.string else { throw fail(key, "keys must be strings") }
            let path = key.isEmpty ? name : "\(key).\(name)"
            guard allowed.contains(name) else {
                throw fail(path, "unknown key; allowed keys here: \(allowed.joined(separator: ", "))")
            }
            result[name] = value
        }
        return result
    }

    func string(_ node: Node, at key: String) throws(ConfigurationError) -> String {
        guard let scalar = node.scalar else { throw fail(key, "expected a string") }
        return scalar.string
    }

    func integer(_ node: Node, at key: String, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let value = node.int, range.contains(value) else {
            throw fail(
                key,
                "expected a whole number from \(range.lowerBound) to \(range.upperBound), got \(shown(node))")
        }
        return value
    }

    func number(_ node: Node, at key: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Double
    {
        guard let value = node.float, range.contains(value) else {
            throw fail(
                key, "expected a number from \(range.lowerBound) to \(range.upperBound), got \(shown(node))")
        }
        return value
    }

    /// A value as the operator wrote it, for "…, got VALUE" in a message.
    private func shown(_ node: Node) -> String {
        if let scalar = node.scalar { return scalar.string.isEmpty ? "an empty value" : scalar.string }
        return node.mapping != nil ? "a mapping" : "a list"
    }

    func boolean(_ node: Node, at key: String) throws(ConfigurationError) -> Bool {
        guard let value = node.bool else { throw fail(key, "expected true or false") }
        return value
    }

    func sequence(_ node: Node, at key: String) throws(ConfigurationError) -> [Node] {
        guard let sequence = node.sequence else { throw fail(key, "expected a list") }
        return Array(sequence)
    }

    /// A name or a list of names, each of which must be one of `among`.
    func names(_ node: Node?, at key: String, among: [String], kind: String) throws(ConfigurationError)
        -> [String]
    {
        guard let node else { return [] }
        let list = try stringList(node, at: key)
        for (index, name) in list.enumerated() where !among.contains(name) {
            let known = among.isEmpty ? "none is defined" : "defined: \(among.joined(separator: ", "))"
            throw fail(
                list.count == 1 && node.scalar != nil ? key : "\(key)[\(index)]",
                "unknown \(kind) \(name); \(known)")
        }
        return list
    }

    /// A single string or a list of strings.
    func stringList(_ node: Node, at key: String) throws(ConfigurationError) -> [String] {
        if let scalar = node.scalar { return [scalar.string] }
        var result: [String] = []
        for (index, item) in try sequence(node, at: key).enumerated() {
            result.append(try string(item, at: "\(key)[\(index)]"))
        }
        return result
    }

    /// Reads `fields[key]`, when present, into `target`: a whole number in `range`, named
    /// `section.key` in errors.
    func read(
        _ key: String, of fields: [String: Node], in section: String, range: ClosedRange<Int>,
        into target: inout Int
    ) throws(ConfigurationError) {
        if let value = fields[key] { target = try integer(value, at: "\(section).\(key)", range: range) }
    }

    /// Reads `fields[key]`, when present, into `target`: a number in `range`.
    func read(
        _ key: String, of fields: [String: Node], in section: String, range: ClosedRange<Double>,
        into target: inout Double
    ) throws(ConfigurationError) {
        if let value = fields[key] { target = try number(value, at: "\(section).\(key)", range: range) }
    }

    /// Reads `fields[key]`, when present, into `target`: `true` or `false`.
    func read(_ key: String, of fields: [String: Node], in section: String, into target: inout Bool)
        throws(ConfigurationError)
    {
        if let value = fields[key] { target = try boolean(value, at: "\(section).\(key)") }
    }
}
