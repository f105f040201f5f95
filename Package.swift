// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "HRHub",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hrhub", targets: ["HRHub"]),
        .executable(name: "hrprobe", targets: ["HRProbe"]),
        .library(name: "HRProtocol", targets: ["HRProtocol"]),
        .library(name: "HRCore", targets: ["HRCore"]),
        .library(name: "LWSTransport", targets: ["LWSTransport"]),
        .library(name: "HRProbeCore", targets: ["HRProbeCore"]),
        .library(name: "HRRecord", targets: ["HRRecord"]),
        .library(name: "HRStandings", targets: ["HRStandings"]),
        .library(name: "HRCluster", targets: ["HRCluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // The C library, seen through a tiny shim of static inline wrappers (macros Swift cannot import).
        .systemLibrary(
            name: "CLibWebSockets",
            pkgConfig: "libwebsockets",
            providers: [.apt(["libwebsockets-dev", "libssl-dev"])]
        ),
        // Wire types and codecs. No I/O, no C.
        .target(name: "HRProtocol"),
        // The relay's logic as plain, deterministic state. Time comes in as a parameter.
        .target(
            name: "HRCore",
            dependencies: [
                "HRProtocol",
                "HRStandings",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        // Points and ranks from the class record: per-rider tallies, the ranking, board and summary content. Pure.
        .target(name: "HRStandings", dependencies: ["HRProtocol"]),
        // Tokens: HS256 JWTs (HMAC from swift-crypto) and who may connect where.
        .target(
            name: "HRAuth",
            dependencies: ["HRProtocol", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Realistic heart-rate traces, shared by the hub's demo class and the probe.
        .target(name: "HRSimulation", dependencies: ["HRProtocol"]),
        // The only module that touches C: libwebsockets server and client contexts.
        .target(
            name: "LWSTransport",
            dependencies: [
                "CLibWebSockets",
                "HRProtocol",  // FrameBuffer: frames are written from the relay's buffers in place
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The class record: the RecordStore protocol, the embedded SQLite store and an in-memory double.
        // SQLite's C API, seen through a one-function shim (a macro Swift cannot import).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "HRRecord",
            dependencies: ["HRProtocol", "CSQLite", .product(name: "DequeModule", package: "swift-collections")]
        ),
        // libnats (the NATS C client) as a system library; no shims needed so far (see shim.h).
        .systemLibrary(name: "CNats", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),
        // The cluster bus: a NATS connection and JetStream (the only code here that touches C), the messages hubs
        // exchange, and the class record in a JetStream stream.
        .target(
            name: "HRCluster",
            dependencies: [
                "CNats", "HRCore", "HRProtocol", "HRRecord", .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .executableTarget(
            name: "HRHub",
            dependencies: [
                "HRProtocol", "HRCore", "HRSimulation", "LWSTransport", "HRAuth", "HRRecord", "HRStandings",
                "HRCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // The class screen's script, a file of its own (served at /assets/class.js); `swift build` puts it in
            // HRHub_HRHub.resources/ next to the binary, where WebAssets reads it at start.
            resources: [.copy("Web/class.js")]
        ),
        // hrprobe's receive path without I/O: the frame scanner, per-stream accounting and lag histograms (a library
        // so bench/ can measure it).
        .target(
            name: "HRProbeCore",
            dependencies: ["HRProtocol", .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .executableTarget(
            name: "HRProbe",
            dependencies: [
                "HRProtocol", "HRSimulation", "LWSTransport", "HRProbeCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .testTarget(name: "HRProtocolTests", dependencies: ["HRProtocol"]),
        .testTarget(name: "HRAuthTests", dependencies: ["HRAuth", "HRProtocol"]),
        .testTarget(name: "HRCoreTests", dependencies: ["HRCore", "HRProtocol", "HRStandings"]),
        // The cluster's wire codec, the NATS connection and the JetStream record, against a real nats-server.
        .testTarget(name: "HRClusterTests", dependencies: ["HRCluster", "HRCore", "HRProtocol", "HRRecord"]),
        .testTarget(name: "HRStandingsTests", dependencies: ["HRStandings", "HRProtocol"]),
        .testTarget(name: "HRSimulationTests", dependencies: ["HRSimulation"]),
        // hrprobe's pure logic (stream accounting, SLO, reports, clock offset), through `@testable import`.
        .testTarget(name: "HRProbeTests", dependencies: ["HRProbe", "HRProbeCore", "HRProtocol"]),
        // hrhub's settings table and what is derived from it (flags, variables, file keys, docs).
        .testTarget(
            name: "HRHubTests",
            dependencies: [
                "HRHub", "HRCore", "HRProtocol", "HRRecord", "HRStandings",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The class record's stores; the crash test runs RecordCrashWriter and kills it mid-run.
        .testTarget(name: "HRRecordTests", dependencies: ["HRRecord", "HRProtocol"]),
        // Appends samples to a SQLiteRecordStore, printing each acked seq, until killed (HRRecordTests' crash test).
        .executableTarget(
            name: "RecordCrashWriter", dependencies: ["HRRecord", "HRProtocol"], path: "Tests/RecordCrashWriter"
        ),
        .testTarget(name: "EndToEndTests", dependencies: ["LWSTransport"]),
        // The transport's HTTP side against a test delegate, over raw sockets: bodies, deferred and streamed answers.
        .testTarget(
            name: "LWSTransportTests",
            dependencies: ["LWSTransport", "HRProtocol", .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
