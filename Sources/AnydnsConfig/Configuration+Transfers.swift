import DNSAuth
import DNSWire
import Foundation
import Yams

extension NodeReader {
    /// `keys`, `remotes`, `acls`, `storage` and `journal`: what zone transfers and NOTIFY use.
    /// Read before `zones`, whose entries name them.
    func transferSettings(_ top: [String: Node], into configuration: inout Configuration)
        throws(ConfigurationError)
    {
        if let keys = top["keys"] {
            var seen: Set<String> = []
            for (index, item) in try sequence(keys, at: "keys").enumerated() {
                let path = "keys[\(index)]"
                let fields = try mapping(
                    item, at: path, allowed: ["name", "algorithm", "secret", "secret-file"])
                guard let nameNode = fields["name"] else { throw fail("\(path).name", "missing") }
                let name = try string(nameNode, at: "\(path).name")
                guard isDomainName(name) else {
                    throw fail("\(path).name", "expected a key name in domain-name form, got \(name)")
                }
                guard seen.insert(name.lowercased()).inserted else {
                    throw fail("\(path).name", "key \(name) is listed twice")
                }
                guard let algorithmNode = fields["algorithm"] else {
                    throw fail("\(path).algorithm", "missing")
                }
                let algorithm = try string(algorithmNode, at: "\(path).algorithm").lowercased()
                let algorithms = ["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"]
                guard algorithms.contains(algorithm) else {
                    throw fail(
                        "\(path).algorithm",
                        "unknown algorithm \(algorithm); allowed: \(algorithms.joined(separator: ", "))")
                }
                let secret: String
                switch (fields["secret"], fields["secret-file"]) {
                case (let inline?, nil):
                    secret = try string(inline, at: "\(path).secret")
                    guard !secret.isEmpty, Data(base64Encoded: secret) != nil else {
                        throw fail("\(path).secret", "expected a base64 secret")
                    }
                case (nil, let file?):
                    secret = "file:" + (try string(file, at: "\(path).secret-file"))
                case (nil, nil):
                    throw fail("\(path).secret", "missing (or secret-file)")
                default:
                    throw fail("\(path).secret", "give secret or secret-file, not both")
                }
                configuration.keys.append(.init(name: name, algorithm: algorithm, secret: secret))
            }
        }
        let keyNames = configuration.keys.map(\.name)
        if let remotes = top["remotes"] {
            var seen: Set<String> = []
            for (index, item) in try sequence(remotes, at: "remotes").enumerated() {
                let path = "remotes[\(index)]"
                let fields = try mapping(item, at: path, allowed: ["name", "address", "key"])
                guard let nameNode = fields["name"] else { throw fail("\(path).name", "missing") }
                let name = try string(nameNode, at: "\(path).name")
                guard seen.insert(name).inserted else {
                    throw fail("\(path).name", "remote \(name) is listed twice")
                }
                guard let addressNode = fields["address"] else { throw fail("\(path).address", "missing") }
                var addresses: [String] = []
                for (position, node) in try stringList(addressNode, at: "\(path).address").enumerated() {
                    guard isListenAddress(node) else {
                        throw fail(
                            "\(path).address[\(position)]",
                            "expected ADDR:PORT or [ADDR6]:PORT with a numeric address, got \(node)")
                    }
                    addresses.append(node)
                }
                guard !addresses.isEmpty else { throw fail("\(path).address", "needs at least one address") }
                let key = try fields["key"].map { node throws(ConfigurationError) in
                    try names(node, at: "\(path).key", among: keyNames, kind: "key")[0]
                }
                configuration.remotes.append(.init(name: name, addresses: addresses, key: key))
            }
        }
        if let acls = top["acls"] {
            var seen: Set<String> = []
            for (index, item) in try sequence(acls, at: "acls").enumerated() {
                let path = "acls[\(index)]"
                let fields = try mapping(item, at: path, allowed: ["name", "address", "key"])
                guard let nameNode = fields["name"] else { throw fail("\(path).name", "missing") }
                let name = try string(nameNode, at: "\(path).name")
                guard seen.insert(name).inserted else {
                    throw fail("\(path).name", "acl \(name) is listed twice")
                }
                var prefixes: [String] = []
                if let addressNode = fields["address"] {
                    for (position, text) in try stringList(addressNode, at: "\(path).address").enumerated() {
                        guard isAddressPrefix(text) else {
                            throw fail(
                                "\(path).address[\(position)]",
                                "expected an address or prefix such as 192.0.2.0/24 or 2001:db8::/32, got \(text)"
                            )
                        }
                        prefixes.append(text)
                    }
                }
                let key = try fields["key"].map { node throws(ConfigurationError) in
                    try names(node, at: "\(path).key", among: keyNames, kind: "key")[0]
                }
                guard !prefixes.isEmpty || key != nil else {
                    throw fail(path, "needs address, key, or both")
                }
                configuration.acls.append(.init(name: name, prefixes: prefixes, key: key))
            }
        }
        if let storage = top["storage"] {
            configuration.storage = try string(storage, at: "storage")
        }
        if let journal = top["journal"] {
            let fields = try mapping(journal, at: "journal", allowed: ["max-entries", "max-bytes"])
            try read(
                "max-entries", of: fields, in: "journal", range: 1...100_000,
                into: &configuration.journal.maxEntries)
            try read(
                "max-bytes", of: fields, in: "journal", range: 1024...(1 << 40),
                into: &configuration.journal.maxBytes)
        }
    }
}
