import DNSAuth
import Testing

@testable import DNSGuard

/// The response rate limiting table, on an injected clock (the `now` of each call).
@Suite("Rate limiting table: classes, prefixes, seconds, exempt list, bounded size")
struct RateLimiterTests {
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: RateLimiter.keyCapacity, alignment: 8)

    static func name(_ labels: String...) -> [UInt8] {
        labels.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    func count(
        _ limiter: RateLimiter, _ client: String, _ responseClass: ResponseClass = .positive,
        name: [UInt8] = name("www", "example"), now: UInt64 = 1000
    ) -> RateLimitCount {
        name.withUnsafeBytes {
            limiter.count(
                client: IPAddress(client)!, responseClass: responseClass, name: $0, now: now, scratch: scratch
            )
        }
    }

    /// How many of `times` responses stay within the rate.
    func within(
        _ limiter: RateLimiter, _ times: Int, _ client: String, _ responseClass: ResponseClass = .positive,
        name: [UInt8] = name("www", "example"), now: UInt64 = 1000
    ) -> Int {
        (0..<times).filter { _ in count(limiter, client, responseClass, name: name, now: now) == .within }
            .count
    }

    @Test("the rate is per second: N within, the next over (the first of them flagged), reset next second")
    func ratePerSecond() {
        let limiter = RateLimiter(settings: RateLimitSettings(responsesPerSecond: 5))
        #expect(within(limiter, 5, "192.0.2.1") == 5)
        #expect(count(limiter, "192.0.2.1") == .over(excess: 1))
        #expect(count(limiter, "192.0.2.1") == .over(excess: 2))
        #expect(within(limiter, 6, "192.0.2.1", now: 1001) == 5)
    }

    @Test("one IPv4 /24 shares a bucket; another /24 has its own; the prefix length is configurable")
    func ipv4Prefixes() {
        let limiter = RateLimiter(settings: RateLimitSettings(responsesPerSecond: 3))
        #expect(within(limiter, 2, "192.0.2.1") == 2)
        #expect(within(limiter, 2, "192.0.2.200") == 1)
        #expect(within(limiter, 3, "192.0.3.1") == 3)
        let narrow = RateLimiter(settings: RateLimitSettings(responsesPerSecond: 3, ipv4PrefixLength: 32))
        #expect(within(narrow, 3, "192.0.2.1") == 3)
        #expect(within(narrow, 3, "192.0.2.2") == 3)
    }

    @Test("IPv6 clients share a bucket per /56 by default")
    func ipv6Prefixes() {
        let limiter = RateLimiter(settings: RateLimitSettings(responsesPerSecond: 2))
        #expect(within(limiter, 1, "2001:db8:0:1::1") == 1)
        #expect(within(limiter, 2, "2001:db8:0:ff::2") == 1)  // same /56
        #expect(within(limiter, 2, "2001:db8:0:100::1") == 2)  // the next /56
    }

    @Test("classes and names are accounted apart: a flood of one name does not limit another")
    func classesAndNames() {
        let limiter = RateLimiter(settings: RateLimitSettings(responsesPerSecond: 2))
        let apex = Self.name("example")
        #expect(within(limiter, 4, "192.0.2.1", .positive, name: Self.name("a", "example")) == 2)
        #expect(within(limiter, 2, "192.0.2.1", .positive, name: Self.name("b", "example")) == 2)
        #expect(within(limiter, 2, "192.0.2.1", .nxDomain, name: apex) == 2)
        #expect(within(limiter, 2, "192.0.2.1", .noData, name: apex) == 2)
        #expect(within(limiter, 2, "192.0.2.1", .referral, name: Self.name("sub", "example")) == 2)
        #expect(within(limiter, 2, "192.0.2.1", .wildcard, name: Self.name("*", "example")) == 2)
        #expect(within(limiter, 2, "192.0.2.1", .error, name: [0]) == 2)
        #expect(within(limiter, 1, "192.0.2.1", .nxDomain, name: apex) == 0)
    }

    @Test("the exempt list matches prefixes of both families")
    func exemptList() {
        let limiter = RateLimiter(
            settings: RateLimitSettings(
                responsesPerSecond: 1,
                exempt: [AddressPrefix("192.0.2.0/24")!, AddressPrefix("2001:db8::/32")!]))
        #expect(limiter.isExempt(IPAddress("192.0.2.77")!))
        #expect(limiter.isExempt(IPAddress("2001:db8:1::1")!))
        #expect(!limiter.isExempt(IPAddress("192.0.3.1")!))
    }

    @Test("slip: every Nth limited response is truncated; 0 none, 1 all")
    func slip() {
        func slipping(_ slip: Int) -> [UInt64] {
            let limiter = RateLimiter(
                settings: RateLimitSettings(responsesPerSecond: 1, slip: slip, tableSize: 1024))
            return (1...6).filter { limiter.slips($0) }
        }
        #expect(slipping(2) == [2, 4, 6])
        #expect(slipping(3) == [3, 6])
        #expect(slipping(1) == [1, 2, 3, 4, 5, 6])
        #expect(slipping(0) == [])
    }

    @Test("the table has a fixed size whatever the number of clients; a busy client stays limited")
    func boundedSize() {
        let limiter = RateLimiter(settings: RateLimitSettings(responsesPerSecond: 10, tableSize: 1024))
        #expect(limiter.bucketCount == 1024)
        #expect(within(limiter, 20, "198.51.100.1") == 10)
        // 100,000 other prefixes in the same second: far more keys than buckets.
        for index in 0..<100_000 {
            let address = "10.\(index >> 8 & 0xFF).\(index & 0xFF).1"
            _ = count(limiter, address)
        }
        #expect(limiter.bucketCount == 1024)
        // A key pushed out starts afresh: at most one more second's worth of responses.
        #expect(within(limiter, 20, "198.51.100.1") <= 10)
        // A new second resets every count.
        #expect(within(limiter, 20, "198.51.100.1", now: 1001) == 10)
    }
}

@Suite("Load meter: the UDP query rate for require-under-load")
struct LoadMeterTests {
    @Test(
        "under load once a second's count passes the threshold, and in the next second; not after a quiet one"
    )
    func threshold() {
        let meter = LoadMeter(threshold: 100)
        #expect(!meter.add(64, now: 10))
        #expect(meter.add(64, now: 10))  // 128 this second
        #expect(meter.add(1, now: 11))  // the last second was over
        #expect(!meter.add(1, now: 13))  // the seconds between were quiet
        #expect(!LoadMeter(threshold: 0).add(1_000_000, now: 1))  // 0: never
        // A worker whose clock read is a second behind counts into the newer second.
        let racing = LoadMeter(threshold: 100)
        #expect(!racing.add(64, now: 21))
        #expect(racing.add(64, now: 20))
        #expect(racing.add(1, now: 21))
    }
}
