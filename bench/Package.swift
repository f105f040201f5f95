// swift-tools-version: 6.1
// Micro-benchmarks of HRHub's hot paths (ordo-one/benchmark). Run them with `bench/micro` (see MICRO.md).
import PackageDescription

let package = Package(
    name: "HRHubBench",
    platforms: [.macOS(.v15)],
    products: [
        // The class record's commit throughput and append → completion latency (bench/RecordBench/main.swift).
        .executable(name: "record-bench", targets: ["RecordBench"])
    ],
    dependencies: [
        // The hub itself: HRProtocol's codecs, HRCore's relay and hrprobe's receive path (HRProbeCore), through their
        // public API only.
        .package(name: "HRHub", path: ".."),
        // MallocInterposer: malloc/free counts per iteration (mallocCountTotal) on Swift 6.3 without jemalloc.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HRHubBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HRProtocol", package: "HRHub"),
                .product(name: "HRCore", package: "HRHub"),
                .product(name: "HRProbeCore", package: "HRHub"),
                .product(name: "HRStandings", package: "HRHub"),
            ],
            path: "Benchmarks/HRHubBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RecordBench",
            dependencies: [
                .product(name: "HRRecord", package: "HRHub"),
                .product(name: "HRProtocol", package: "HRHub"),
            ],
            path: "RecordBench"
        ),
    ],
    swiftLanguageModes: [.v6]
)
