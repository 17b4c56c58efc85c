import DNSWire

/// A place in a zone file.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    /// 1-based; `nil` when a problem concerns the zone as a whole.
    public var line: Int?

    public init(file: String, line: Int?) {
        self.file = file
        self.line = line
    }

    public var description: String { line.map { "\(file):\($0)" } ?? file }
}

/// One finding about a zone, printed like a compiler: `file:line: error: message`.
public struct ZoneDiagnostic: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case error
        case warning
    }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String

    public init(_ severity: Severity, _ location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// A zone that was refused, with every error and warning found.
public struct ZoneLoadError: Error, Sendable, CustomStringConvertible {
    public var origin: DomainName
    public var diagnostics: [ZoneDiagnostic]

    public var errors: [ZoneDiagnostic] { diagnostics.filter { $0.severity == .error } }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

/// A zone that loaded, with the warnings found on the way.
public struct LoadedZone: Sendable {
    public var zone: Zone
    public var warnings: [ZoneDiagnostic]
}
