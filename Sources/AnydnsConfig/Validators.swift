import DNSAuth
import DNSWire
import Yams

// The checks below reuse the protocol modules' parsers, so what the configuration accepts is
// exactly what the server can use.

/// `ADDR`, `ADDR/LEN` with a numeric IPv4 (LEN 0-32) or IPv6 (LEN 0-128) address.
func isAddressPrefix(_ text: String) -> Bool { AddressPrefix(text) != nil }

/// `ADDR:PORT` or `[ADDR6]:PORT` with a numeric address (checked again when binding).
func isListenAddress(_ text: String) -> Bool { ListenAddress(text) != nil }

/// A numeric IPv4 or IPv6 address (no port).
public func isNumericAddress(_ text: String) -> Bool { IPAddress(text) != nil }

/// Letters, digits, `-`, `_`, `*` and dots, within the limits of a domain name (RFC 1035 §2.3.4).
func isDomainName(_ text: String) -> Bool {
    !text.isEmpty && DomainName(text) != nil
        && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_*.".contains($0)) }
}
