import Foundation
import Yams

extension Configuration {
    /// Reads and checks a configuration file. Zone paths are made absolute against its directory.
    public static func load(path: String) throws(ConfigurationError) -> Configuration {
        guard let data = FileManager.default.contents(atPath: path),
            let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationError(file: path, key: "", message: "cannot read the file")
        }
        var configuration = try parse(text, file: path)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        for index in configuration.zones.indices
        where !configuration.zones[index].file.isEmpty && !configuration.zones[index].file.hasPrefix("/") {
            configuration.zones[index].file = directory + "/" + configuration.zones[index].file
        }
        if let file = configuration.maintenanceFile, !file.hasPrefix("/") {
            configuration.maintenanceFile = directory + "/" + file
        }
        if let storage = configuration.storage, !storage.hasPrefix("/") {
            configuration.storage = directory + "/" + storage
        }
        for index in configuration.keys.indices where configuration.keys[index].secret.hasPrefix("file:") {
            var secretFile = String(configuration.keys[index].secret.dropFirst("file:".count))
            if !secretFile.hasPrefix("/") { secretFile = directory + "/" + secretFile }
            guard let data = FileManager.default.contents(atPath: secretFile),
                let text = String(data: data, encoding: .utf8)
            else {
                throw ConfigurationError(
                    file: path, key: "keys[\(index)].secret-file", message: "cannot read \(secretFile)")
            }
            let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard Data(base64Encoded: secret) != nil, !secret.isEmpty else {
                throw ConfigurationError(
                    file: path, key: "keys[\(index)].secret-file",
                    message: "\(secretFile) does not hold a base64 secret")
            }
            configuration.keys[index].secret = secret
        }
        return configuration
    }

    /// Parses YAML text; `file` only names the source in errors.
    public static func parse(_ text: String, file: String = "<config>") throws(ConfigurationError)
        -> Configuration
    {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(file: file, key: "", message: "not valid YAML: \(error)")
        }
        var reader = NodeReader(file: file)
        guard let root else { return Configuration(listen: [], zones: []) }
        return try reader.configuration(root)
    }
}
