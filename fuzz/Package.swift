// swift-tools-version: 6.1
// The libFuzzer target for HRProtocol's decoders, in its own package: its `LLVMFuzzerTestOneInput` entry point
// and libFuzzer's `main` cannot live in the root package's normal `swift build` / `swift test`.
// Build and run it with `fuzz/run SECONDS` (docs/ROBUSTNESS.md).
import Foundation
import PackageDescription

// A path dependency's identity is the last component of its path, so it is the name of the directory the
// repository was checked out into (`main`, `hrhub`, …), not the root manifest's `name`. Work it out.
let rootIdentity = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent

let package = Package(
    name: "HRHubFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzProtocol",
            dependencies: [.product(name: "HRProtocol", package: rootIdentity)]
        )
    ],
    swiftLanguageModes: [.v6]
)
