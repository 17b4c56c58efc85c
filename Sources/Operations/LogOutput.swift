import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// How log lines are written to standard error (README "Logs").
public enum LogFormat: String, CaseIterable, Sendable {
    /// `journal` when standard error is connected to the systemd journal, else `text`.
    case auto
    /// `2026-11-30T12:00:00Z notice anydns: message key=value`.
    case text
    /// `<5>message key=value`: the journal adds the time and reads the priority from the
    /// `<N>` prefix (sd-daemon(3)), so `journalctl -p warning` works.
    case journal
    /// One JSON object per line, for log shippers: time, level, priority, label, message, metadata.
    case json

    /// `auto` resolved: journald sets `JOURNAL_STREAM` to the device and inode of the stream it
    /// gave the service (systemd.exec(5)); it is the journal only if standard error is that stream.
    public func resolved(environment: [String: String] = ProcessInfo.processInfo.environment) -> LogFormat {
        guard self == .auto else { return self }
        guard let stream = environment["JOURNAL_STREAM"] else { return .text }
        var status = stat()
        guard fstat(2, &status) == 0 else { return .text }
        return stream == "\(status.st_dev):\(status.st_ino)" ? .journal : .text
    }
}

/// A swift-log handler writing one line per message to standard error in a ``LogFormat``.
public struct LogOutput: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: LogFormat

    public init(label: String, format: LogFormat) {
        self.label = label
        self.format = format.resolved()
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The syslog priority of a level (RFC 5424 §6.2.1): what journald stores and filters on.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    public func log(event: LogEvent) {
        var line = Self.line(
            format: format, label: label, level: event.level, message: "\(event.message)",
            metadata: metadata.merging(event.metadata ?? [:]) { $1 }, time: Date())
        line += "\n"
        // One write(2) per line, so lines of different threads never interleave.
        line.withCString { _ = write(2, $0, strlen($0)) }
    }

    /// One line (without the newline) as `format` writes it.
    public static func line(
        format: LogFormat, label: String, level: Logger.Level, message: String, metadata: Logger.Metadata,
        time: Date
    ) -> String {
        let pairs = metadata.sorted { $0.key < $1.key }
        let suffix = pairs.isEmpty ? "" : " " + pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        switch format {
        case .journal:
            return "<\(priority(level))>\(message)\(suffix)"
        case .json:
            var object: [String: Any] = [
                "time": time.formatted(.iso8601), "level": level.rawValue, "priority": priority(level),
                "label": label, "message": message,
            ]
            if !pairs.isEmpty {
                object["metadata"] = Dictionary(uniqueKeysWithValues: pairs.map { ($0.key, "\($0.value)") })
            }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        case .text, .auto:
            return "\(time.formatted(.iso8601)) \(level) \(label): \(message)\(suffix)"
        }
    }
}
