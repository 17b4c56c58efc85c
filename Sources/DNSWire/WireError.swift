/// Why bytes from the network were rejected. Each case is a named defence and
/// carries the offset where the problem was found.
public enum WireError: Error, Equatable, Sendable {
    /// The message ended before the field that starts at `offset` was complete.
    case truncated(offset: Int)
    /// A label length octet above 63 (RFC 1035 §2.3.4), or the reserved 0b01/0b10 label types.
    case badLabel(offset: Int)
    /// The decoded name would exceed 255 octets (RFC 1035 §2.3.4).
    case nameTooLong(offset: Int)
    /// A compression pointer that does not point strictly before the previous jump (a forward
    /// pointer, a self-pointer or a loop), or into the 12-octet header (RFC 1035 §4.1.4).
    case badPointer(offset: Int)
}
