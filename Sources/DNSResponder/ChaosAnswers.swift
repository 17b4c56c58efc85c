// Class CHAOS as an answer source (RFC 4892): `id.server.` and `hostname.bind.` give the
// server's identity, `version.bind.` and `version.server.` its version, each as one CH TXT
// record (RFC 1035 §3.3.14); nothing in class CH comes from zone data (README "What it answers,
// and how").

import DNSGuard
import DNSWire

extension SectionWriter {
    /// Answers a query in class CH and returns true; false for any other class. `id.server.` /
    /// `hostname.bind.` give the identity, `version.bind.` / `version.server.` the version (or
    /// REFUSED when hidden); anything else in class CH is refused. Never from IN data.
    mutating func answerChaos(_ name: NameView, identity: ServerIdentity) -> Bool {
        guard query.qclass == .chaos else { return false }
        authoritative = false
        account(.positive, name: name.bytes)
        let text: String?
        if ChaosNames.identity.contains(where: { $0.elementsEqual(name.bytes) }) {
            text = identity.identity
        } else if ChaosNames.version.contains(where: { $0.elementsEqual(name.bytes) }) {
            text = identity.version
        } else {
            text = nil
        }
        guard var text else {
            accountError()
            finishEmpty(rcode: .refused, authoritative: false)
            return true
        }
        if query.type == .txt || query.type == .any {
            let fitted = text.withUTF8 { writeChaosTXT(owner: name.bytes, text: UnsafeRawBufferPointer($0)) }
            if fitted { counts.answer = 1 } else { truncate() }
        }
        finish()
        return true
    }

    /// One CH TXT record with TTL 0 holding `text` split into 255-octet strings (RFC 1035
    /// §3.3.14); false if it did not fit.
    private mutating func writeChaosTXT(owner: UnsafeRawBufferPointer, text: UnsafeRawBufferPointer) -> Bool {
        let mark = writer.mark
        do {
            try writer.writeName(owner)
            try writer.append(RecordType.txt.rawValue)
            try writer.append(DNSClass.chaos.rawValue)
            try writer.append(UInt32(0))
            let chunks = max(1, (text.count + 254) / 255)
            try writer.append(UInt16(text.count + chunks))
            for chunk in 0..<chunks {
                let part = UnsafeRawBufferPointer(
                    rebasing: text[(chunk * 255)..<min(text.count, chunk * 255 + 255)])
                try writer.append(UInt8(part.count))
                try writer.append(part)
            }
            return true
        } catch {
            writer.rollback(to: mark)
            return false
        }
    }
}

/// The CHAOS-class names of RFC 4892, lowercase wire format.
private enum ChaosNames {
    static let identity: [[UInt8]] = [wire("id", "server"), wire("hostname", "bind")]
    static let version: [[UInt8]] = [wire("version", "bind"), wire("version", "server")]

    private static func wire(_ labels: String...) -> [UInt8] {
        labels.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }
}
