import DNSAuth
import DNSWire
import Members
import Synchronization
import Testing

/// A clock the test moves by hand.
final class TestClock: Sendable {
    let seconds = Mutex<UInt64>(1_800_000_000)
    func advance(_ by: UInt64) { seconds.withLock { $0 += by } }
    var now: UInt64 { seconds.withLock { $0 } }
}

let www = MemberService(
    name: DomainName("www.njust.edu.any.")!,
    anycast: [IPAddress("10.53.0.80")!, IPAddress("2001:db8:53::80")!],
    keys: [DomainName("www-members.")!], policy: .leastSessions, probe: .tcp(port: 80), lease: 30)
let mail = MemberService(
    name: DomainName("mail.njust.edu.any.")!, anycast: [IPAddress("10.53.0.25")!],
    keys: [DomainName("mail-members.")!], policy: .anycast, probe: .none, lease: 60)

func join(_ member: String, _ address: String, sessions: Int? = nil, service: Int = 0) -> [MemberChange] {
    [MemberChange(service: service, member: member, operation: .addAddress(IPAddress(address)!))]
        + (sessions.map { [MemberChange(service: service, member: member, operation: .setSessions($0))] }
            ?? [])
}

@Suite("The member table (the paper's §3.1–§3.4)")
struct MemberTableTests {
    let clock = TestClock()
    var table: MemberTable { MemberTable(services: [www, mail], clock: { [clock] in clock.now }) }

    @Test func aJoinedMemberStartsWithZeroSessionsAndReportsReplaceTheCount() {
        let table = self.table
        table.apply(join("a1", "192.0.2.10"))
        #expect(table.snapshot.members[0].map(\.sessions) == [0])
        table.apply([MemberChange(service: 0, member: "a1", operation: .setSessions(7))])
        table.apply([MemberChange(service: 0, member: "a1", operation: .setSessions(4))])
        #expect(table.snapshot.members[0].map(\.sessions) == [4])
        #expect(table.snapshot.members[1].isEmpty, "the other service is untouched")
    }

    @Test func deletingFromAnUnknownMemberCreatesNothing() {
        let table = self.table
        table.apply([
            MemberChange(service: 0, member: "ghost", operation: .clearSessions),
            MemberChange(service: 0, member: "ghost", operation: .deleteAddresses(ipv6: false)),
            MemberChange(service: 0, member: "ghost", operation: .deleteMember),
        ])
        #expect(table.snapshot.members[0].isEmpty)
    }

    @Test func leavingRemovesTheMember() {
        let table = self.table
        table.apply(join("a1", "192.0.2.10") + join("a2", "192.0.2.11"))
        table.apply([MemberChange(service: 0, member: "a1", operation: .deleteMember)])
        #expect(table.snapshot.members[0].map(\.name) == ["a2"])
    }

    @Test func aMemberThatStopsReportingIsDroppedAfterTheLease() {
        let table = self.table
        table.apply(join("a1", "192.0.2.10") + join("a2", "192.0.2.11"))
        clock.advance(20)
        table.apply([MemberChange(service: 0, member: "a2", operation: .setSessions(1))])
        clock.advance(10)
        #expect(table.expire().isEmpty, "30 s is still within the lease")
        clock.advance(1)
        #expect(table.expire() == ["www.njust.edu.any. a1"])
        #expect(table.snapshot.members[0].map(\.name) == ["a2"])
        clock.advance(20)
        #expect(table.expire() == ["www.njust.edu.any. a2"])
    }

    @Test func leastSessionsChoosesTheFewestAndSpreadsTies() throws {
        let table = self.table
        table.apply(
            join("a1", "192.0.2.10", sessions: 5) + join("a2", "192.0.2.11", sessions: 2)
                + join("a3", "192.0.2.12", sessions: 2))
        let chosen = Set(
            (0..<100).compactMap { table.snapshot.choose(service: 0, ipv6: false, spread: UInt16($0))?.name })
        #expect(chosen == ["a2", "a3"])
        let counts = (0..<100).map {
            table.snapshot.choose(service: 0, ipv6: false, spread: UInt16($0))!.name
        }
        #expect(counts.filter { $0 == "a2" }.count == 50, "ties share the queries evenly")
        table.apply([MemberChange(service: 0, member: "a3", operation: .setSessions(9))])
        #expect(table.snapshot.choose(service: 0, ipv6: false, spread: 1)?.name == "a2")
    }

    @Test func unreachableMembersAreSkippedAndComeBack() {
        let table = self.table
        table.apply(join("a1", "192.0.2.10", sessions: 1) + join("a2", "192.0.2.11", sessions: 8))
        #expect(table.setReachable(service: 0, member: "a1", false))
        #expect(!table.setReachable(service: 0, member: "a1", false), "no change the second time")
        #expect(table.snapshot.choose(service: 0, ipv6: false, spread: 0)?.name == "a2")
        #expect(table.snapshot.reachableCount(service: 0) == 1)
        table.setReachable(service: 0, member: "a2", false)
        #expect(
            table.snapshot.choose(service: 0, ipv6: false, spread: 0) == nil,
            "none reachable: the caller falls back")
        table.setReachable(service: 0, member: "a1", true)
        #expect(table.snapshot.choose(service: 0, ipv6: false, spread: 0)?.name == "a1")
    }

    @Test func eachFamilyChoosesAmongMembersWithSuchAnAddress() {
        let table = self.table
        table.apply(join("a1", "192.0.2.10", sessions: 1) + join("a2", "2001:db8::11", sessions: 3))
        #expect(table.snapshot.choose(service: 0, ipv6: false, spread: 0)?.name == "a1")
        #expect(table.snapshot.choose(service: 0, ipv6: true, spread: 0)?.name == "a2")
        table.apply([MemberChange(service: 0, member: "a1", operation: .deleteAddresses(ipv6: false))])
        #expect(table.snapshot.choose(service: 0, ipv6: false, spread: 0) == nil)
    }
}

@Suite("Member names and RFC 2136 member updates")
struct MemberUpdateTests {
    let services = [www, mail]
    let key = DomainName("www-members.")!

    func name(_ text: String) -> MemberName? {
        DomainName(text)!.lowercased().wire.withUnsafeBytes { [www, mail].classify($0) }
    }

    @Test func namesAreClassifiedWithoutConfusingLookalikes() {
        #expect(name("www.njust.edu.any.") == .service(0))
        #expect(name("_members.www.njust.edu.any.") == .membersNode(0))
        #expect(name("a1._members.www.njust.edu.any.") == .member(0, label: 1..<3))
        #expect(name("x.a1._members.www.njust.edu.any.") == .below(0))
        #expect(name("a1._members.mail.njust.edu.any.") == .member(1, label: 1..<3))
        #expect(name("x_members.www.njust.edu.any.") == nil, "the suffix starts at a label boundary")
        #expect(name("njust.edu.any.") == nil)
    }

    /// An UPDATE as nsupdate sends it: zone section, no prerequisites, the update records.
    func update(zone: String = "any.", prerequisites: [ResourceRecord] = [], _ records: [ResourceRecord])
        -> ReceivedMessage
    {
        var bytes: [UInt8] = [0x12, 0x34, 0x28, 0x00, 0, 1]
        bytes += [UInt8(prerequisites.count >> 8), UInt8(prerequisites.count & 0xFF)]
        bytes += [UInt8(records.count >> 8), UInt8(records.count & 0xFF), 0, 0]
        bytes += DomainName(zone)!.wire + [0, 6, 0, 1]
        for record in prerequisites + records {
            bytes += record.owner.wire
            bytes += [UInt8(record.type.rawValue >> 8), UInt8(record.type.rawValue & 0xFF)]
            bytes += [UInt8(record.rrClass.rawValue >> 8), UInt8(record.rrClass.rawValue & 0xFF)]
            bytes +=
                [0, 0, 0, 30, UInt8(record.rdata.count >> 8), UInt8(record.rdata.count & 0xFF)] + record.rdata
        }
        return try! ReceivedMessage(bytes)
    }

    func record(_ owner: String, _ type: RecordType, _ rrClass: DNSClass = .internet, _ rdata: [UInt8])
        -> ResourceRecord
    {
        ResourceRecord(owner: DomainName(owner)!, type: type, rrClass: rrClass, ttl: 30, rdata: rdata)
    }

    func changes(_ message: ReceivedMessage, key: DomainName? = DomainName("www-members.")!)
        -> Result<[MemberChange], MemberUpdate.Refusal>
    {
        MemberUpdate.changes(
            in: message, key: key, services: services, isServedZone: { $0 == DomainName("any.")! })
    }

    @Test func joinReportAndLeaveAreRead() throws {
        let sessions: [UInt8] = [10] + Array("sessions=4".utf8)
        let joined = try changes(
            update([
                record("A1._members.www.njust.edu.any.", .a, .internet, [192, 0, 2, 10]),
                record("a1._members.www.njust.edu.any.", .txt, .internet, sessions),
            ])
        ).get()
        #expect(
            joined == [
                MemberChange(service: 0, member: "a1", operation: .addAddress(IPAddress("192.0.2.10")!)),
                MemberChange(service: 0, member: "a1", operation: .setSessions(4)),
            ])
        let left = try changes(update([record("a1._members.www.njust.edu.any.", .any, .any, [])])).get()
        #expect(left == [MemberChange(service: 0, member: "a1", operation: .deleteMember)])
    }

    @Test(arguments: [
        (
            "unsigned", nil as String?, "a1._members.www.njust.edu.any.", RecordType.a,
            [UInt8]([192, 0, 2, 10]), RCode.refused
        ),
        (
            "another service's key", "mail-members.", "a1._members.www.njust.edu.any.", .a, [192, 0, 2, 10],
            .refused
        ),
        ("the service name itself", "www-members.", "www.njust.edu.any.", .a, [192, 0, 2, 10], .refused),
        ("another type", "www-members.", "a1._members.www.njust.edu.any.", .mx, [0, 10, 0], .refused),
        (
            "a TXT that is not a count", "www-members.", "a1._members.www.njust.edu.any.", .txt,
            [3] + Array("abc".utf8), .refused
        ),
        ("outside the zone", "www-members.", "a1._members.www.example.", .a, [192, 0, 2, 10], .notZone),
    ])
    func refusals(
        _ why: String, _ key: String?, _ owner: String, _ type: RecordType, _ rdata: [UInt8], _ rcode: RCode
    ) {
        let result = changes(
            update([record(owner, type, .internet, rdata)]), key: key.flatMap(DomainName.init))
        guard case .failure(let refusal) = result else {
            Issue.record("\(why): accepted")
            return
        }
        #expect(refusal.rcode == rcode, "\(why): \(refusal.reason)")
    }

    @Test func aZoneNotServedIsNotAuthAndPrerequisitesAreRefused() {
        guard case .failure(let notServed) = changes(update(zone: "example.", [])) else {
            Issue.record("accepted")
            return
        }
        #expect(notServed.rcode == .notAuth)
        let prerequisite = record("a1._members.www.njust.edu.any.", .any, .any, [])
        guard case .failure(let refused) = changes(update(prerequisites: [prerequisite], [])) else {
            Issue.record("accepted")
            return
        }
        #expect(refused.rcode == .refused)
    }

    @Test func oneBadRecordRefusesTheWholeUpdate() {
        let result = changes(
            update([
                record("a1._members.www.njust.edu.any.", .a, .internet, [192, 0, 2, 10]),
                record("www.njust.edu.any.", .a, .internet, [192, 0, 2, 10]),
            ]))
        guard case .failure = result else {
            Issue.record("accepted")
            return
        }
    }
}
