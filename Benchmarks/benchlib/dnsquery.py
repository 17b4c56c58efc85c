"""DNS over UDP from Python, just enough for the benchmarks: build a query, send it, read the
rcode, the AA bit, the SOA serial or the record types of each section of the answer."""
import os
import socket
import struct
import time

QTYPE_A, QTYPE_SOA = 1, 6
QTYPE_OPT, QTYPE_RRSIG, QTYPE_NSEC3 = 41, 46, 50
EDNS_DO = 0x8000  # DNSSEC OK, in the OPT record's TTL field


def encode_name(name):
    """Uncompressed wire form of a domain name."""
    labels = [label for label in name.rstrip(".").split(".") if label]
    return b"".join(bytes([len(label)]) + label.encode() for label in labels) + b"\0"


def build_query(query_id, name, qtype, flags=0, dnssec_ok=False):
    """A one-question query (no RD by default: an authoritative question); with dnssec_ok, an
    OPT record (4096-octet payload) with the DO bit, as dnsperf -D sends."""
    question = encode_name(name) + struct.pack("!HH", qtype, 1)
    if not dnssec_ok:
        return struct.pack("!HHHHHH", query_id, flags, 1, 0, 0, 0) + question
    opt = b"\0" + struct.pack("!HHIH", QTYPE_OPT, 4096, EDNS_DO, 0)
    return struct.pack("!HHHHHH", query_id, flags, 1, 0, 0, 1) + question + opt


def skip_name(data, pos):
    """Position just after the (possibly compressed) domain name starting at pos."""
    while True:
        length = data[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length


def parse_response(data):
    """(id, rcode, aa, answers, soa_serial) of a response, or None when it is not one."""
    try:
        query_id, flags, qdcount, ancount = struct.unpack_from("!HHHH", data)
        if not flags & 0x8000:
            return None
        pos = 12
        for _ in range(qdcount):
            pos = skip_name(data, pos) + 4
        serial = None
        for _ in range(ancount):
            pos = skip_name(data, pos)
            rtype, _rclass, _ttl, rdlength = struct.unpack_from("!HHIH", data, pos)
            pos += 10
            if rtype == QTYPE_SOA and serial is None:
                serial_pos = skip_name(data, skip_name(data, pos))  # after MNAME and RNAME
                serial = struct.unpack_from("!I", data, serial_pos)[0]
            pos += rdlength
        return query_id, flags & 0xF, bool(flags & 0x0400), ancount, serial
    except (IndexError, struct.error):
        return None


def response_sections(data):
    """(rcode, aa, {section: [record types]}) of a whole response, sections "answer",
    "authority" and "additional"; None when it cannot be read."""
    try:
        _, flags, qdcount, *counts = struct.unpack_from("!HHHHHH", data)
        pos = 12
        for _ in range(qdcount):
            pos = skip_name(data, pos) + 4
        sections = {}
        for section, count in zip(("answer", "authority", "additional"), counts):
            types = sections.setdefault(section, [])
            for _ in range(count):
                pos = skip_name(data, pos)
                rtype, _rclass, _ttl, rdlength = struct.unpack_from("!HHIH", data, pos)
                types.append(rtype)
                pos += 10 + rdlength
        return flags & 0xF, bool(flags & 0x0400), sections
    except (IndexError, struct.error):
        return None


def exchange(port, query, query_id, timeout=1.0):
    """Sends one UDP query to 127.0.0.1:port; the first reply with its ID, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(("127.0.0.1", port))
            sock.send(query)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                data = sock.recv(65535)
                if len(data) >= 12 and struct.unpack_from("!H", data)[0] == query_id:
                    return data
        except OSError:  # timeout, or connection refused (nothing listening yet)
            return None
    return None


def ask_dnssec(port, name, qtype, timeout=1.0):
    """One UDP question with DO=1; response_sections() of the answer, or None."""
    query_id = int.from_bytes(os.urandom(2), "big")
    data = exchange(port, build_query(query_id, name, qtype, dnssec_ok=True), query_id, timeout)
    return response_sections(data) if data else None


def ask(port, name, qtype, timeout=1.0):
    """One UDP question to 127.0.0.1:port; (rcode, aa, answers, serial) or None."""
    query_id = int.from_bytes(os.urandom(2), "big")
    data = exchange(port, build_query(query_id, name, qtype), query_id, timeout)
    response = parse_response(data) if data else None
    return response[1:] if response else None


def served_serial(port, origin, timeout=0.5):
    answer = ask(port, origin, QTYPE_SOA, timeout)
    if answer and answer[0] == 0 and answer[1]:
        return answer[3]
    return None


def wait_for_serial(port, origin, serial, timeout):
    """Seconds until origin's SOA carries serial, or None after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if served_serial(port, origin) == serial:
            return time.monotonic() - start
        time.sleep(0.1)
    return None
