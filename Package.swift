// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "anydns",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "anydns", targets: ["anydns"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
    ],
    targets: [
        // libldns (NLnet Labs), used only to read zone files: never on the query path.
        .systemLibrary(
            name: "CLDNS",
            pkgConfig: "ldns",
            providers: [.apt(["libldns-dev"])]
        ),
        // The one cryptography stack, Debian's OpenSSL 3 (libssl-dev): HMAC for TSIG, SipHash-2-4
        // for cookies and the rate limiting table, random keys (docs/ARCHITECTURE.md says why one).
        .target(name: "CAnydnsCrypto"),
        // What Swift cannot reach by itself: recvmmsg/sendmmsg batches, malloc_trim, prefetch.
        .target(name: "CAnydnsSystem"),
        // DNS wire format: names, header, message reader and writer, EDNS. Standard library only.
        .target(name: "DNSWire"),
        // Zone files through libldns, semantic checks, immutable lookup snapshots.
        .target(name: "DNSZone", dependencies: ["DNSWire", "CLDNS", "CAnydnsSystem"]),
        // TSIG keys and message authentication (RFC 8945), address/key access control lists.
        .target(
            name: "DNSAuth",
            dependencies: ["DNSWire", "CAnydnsCrypto"]
        ),
        // Defences under attack: DNS cookies (RFC 7873, RFC 9018), the response rate limiting
        // table, the load meter. Lock-free, nothing allocated per query.
        .target(name: "DNSGuard", dependencies: ["DNSAuth", "CAnydnsCrypto", "CAnydnsSystem"]),
        // The `.any` member table: anycast services, their members (joined and reported through
        // RFC 2136 updates), reachability, the least-sessions choice. A snapshot of its own, so a
        // member change never rebuilds a zone.
        .target(name: "Members", dependencies: ["DNSWire", "DNSAuth"]),
        // What the transports, the responder, transfers and the zone lifecycle pass to each other:
        // the query's context, an allowed transfer, a command for the zone lifecycle, where
        // snapshots of the zones come from. Values only.
        .target(name: "ServingTypes", dependencies: ["DNSWire", "DNSZone", "DNSAuth"]),
        // Query bytes in, response bytes out (RFC 1034 §4.3.2 and friends). No I/O.
        .target(
            name: "DNSResponder",
            dependencies: ["ServingTypes", "DNSWire", "DNSZone", "DNSAuth", "DNSGuard", "Members"]),
        // Zone transfers as messages: the AXFR/IXFR producer, request builders, the reader of
        // transfer answers (RFC 5936, RFC 1995, RFC 1996). No I/O.
        .target(name: "DNSXfr", dependencies: ["ServingTypes", "DNSWire", "DNSZone", "DNSAuth"]),
        // Non-blocking UDP and TCP listeners on Dispatch.
        .target(
            name: "DNSTransport",
            dependencies: [
                "ServingTypes", "DNSResponder", "DNSXfr", "DNSAuth", "DNSGuard", "DNSZone", "CAnydnsSystem",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The life of every zone, whatever its source: loading files, keeping the previous
        // version on failure, secondary refresh and expiry, transfers in, NOTIFY out, stored
        // copies, journals and timers, the registry of zones and the store the transports read.
        .target(
            name: "ZoneLifecycle",
            dependencies: [
                "ServingTypes", "DNSWire", "DNSZone", "DNSAuth", "DNSXfr", "CAnydnsSystem",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The YAML configuration: the schema, a reader that names every key path in its errors, one
        // file per section; sections are read straight into the features' own settings types.
        .target(name: "AnydnsConfig", dependencies: ["DNSWire", "DNSAuth", "DNSGuard", "Yams"]),
        // Health states, self-probe, metrics, management HTTP: what the BGP announcer relies on.
        .target(
            name: "Operations",
            dependencies: [
                "DNSWire", "DNSZone", "DNSAuth", "DNSResponder", "DNSTransport", "CAnydnsSystem", "DNSXfr",
                "ZoneLifecycle", "DNSGuard", "Members", "ServingTypes",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        // What a running site is told to do: the configuration, the environment and the command
        // line resolved into each module's runtime settings, so the executable only wires.
        .target(
            name: "SiteSettings",
            dependencies: [
                "AnydnsConfig", "DNSAuth", "DNSGuard", "DNSResponder", "DNSTransport", "DNSWire", "DNSZone",
                "Members",
                "Operations", "ZoneLifecycle",
            ]
        ),
        .executableTarget(
            name: "anydns",
            dependencies: [
                "DNSWire", "DNSZone", "DNSResponder", "DNSTransport", "AnydnsConfig", "Operations", "DNSAuth",
                "ZoneLifecycle", "DNSGuard", "Members", "ServingTypes", "SiteSettings",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Fuzz targets (libFuzzer; see README "Fuzzing"). Built with -D FUZZING they export
        // LLVMFuzzerTestOneInput; without it each is a replay tool run by FuzzReplayTests.
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"),
        .executableTarget(
            name: "FuzzQuery",
            dependencies: [
                "FuzzSupport", "DNSWire", "DNSZone", "DNSAuth", "DNSGuard", "DNSResponder", "DNSXfr",
                "Members", "ServingTypes",
            ],
            path: "Fuzz/FuzzQuery", exclude: ["zones"]),
        .executableTarget(
            name: "FuzzZoneFile", dependencies: ["FuzzSupport", "DNSWire", "DNSZone"],
            path: "Fuzz/FuzzZoneFile"),
        .executableTarget(
            name: "FuzzConfig", dependencies: ["FuzzSupport", "AnydnsConfig"], path: "Fuzz/FuzzConfig"),
        // Shared test support: query builders, a response decoder, temporary zone files.
        .target(
            name: "TestSupport", dependencies: ["DNSWire", "DNSZone", "CLDNS"], path: "Tests/TestSupport"),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire", "TestSupport"]),
        .testTarget(name: "DNSZoneTests", dependencies: ["DNSZone", "DNSWire", "TestSupport"]),
        .testTarget(
            name: "DNSResponderTests",
            dependencies: [
                "DNSResponder", "DNSZone", "DNSWire", "DNSAuth", "DNSGuard", "Members", "ServingTypes",
                "TestSupport",
            ]),
        .testTarget(name: "AnydnsConfigTests", dependencies: ["AnydnsConfig", "DNSAuth", "DNSGuard"]),
        .testTarget(name: "DNSAuthTests", dependencies: ["DNSAuth", "DNSWire", "TestSupport"]),
        .testTarget(name: "DNSGuardTests", dependencies: ["DNSGuard", "DNSAuth", "CAnydnsCrypto"]),
        .testTarget(name: "MembersTests", dependencies: ["Members", "DNSWire", "DNSAuth"]),
        .testTarget(
            name: "ZoneLifecycleTests",
            dependencies: [
                "ZoneLifecycle", "DNSXfr", "DNSZone", "DNSWire", "DNSAuth", "ServingTypes", "TestSupport",
            ]),
        .testTarget(name: "FuzzReplayTests", dependencies: ["FuzzQuery", "FuzzZoneFile", "FuzzConfig"]),
        .testTarget(
            name: "OperationsTests",
            dependencies: ["Operations", "ZoneLifecycle", "DNSZone", "DNSWire", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
