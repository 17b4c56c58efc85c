import DNSWire
import DNSZone
import TestSupport
import ZoneLifecycle

/// The one-zone configuration the health tests share: `example.test.` at serial 7, written to
/// `files` and loaded.
func exampleZone(in files: TemporaryZones) throws -> (source: ZoneSource, zone: Zone) {
    let path = files.write(
        "example.test.zone",
        "$ORIGIN example.test.\n@ 300 SOA ns1 hostmaster 7 3600 900 604800 60\n@ NS ns1\nns1 A 192.0.2.1\n")
    let source = ZoneSource(origin: DomainName("example.test.")!, file: path)
    return (source, try ZoneLoader.load(path: path, origin: source.origin).get().zone)
}
