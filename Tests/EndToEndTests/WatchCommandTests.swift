import Foundation
import Testing

extension EndToEnd {
    /// `hrprobe watch`, run as a process against `hrhub --demo`.
    @Suite struct WatchCommandTests {
        /// Runs `hrprobe` with `arguments`; returns exit status, stdout and stderr. Kills it after `timeout`.
        static func runProbe(_ arguments: [String], timeout: Duration = .seconds(30)) throws -> (Int32, String, String)
        {
            let process = Process()
            process.executableURL = try Executables.probe()
            process.arguments = arguments
            let out = Pipe()
            let err = Pipe()
            let stdout = PipeLog()
            let stderr = PipeLog()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            stdout.drain(out)
            stderr.drain(err)
            let exited = DispatchSemaphore(value: 0)
            process.terminationHandler = { _ in exited.signal() }
            try process.run()
            guard exited.wait(timeout: .now() + timeout.dispatchInterval) == .success else {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw TestClientError.timeout("hrprobe \(arguments) to exit; stdout: \(stdout.text)")
            }
            // The pipes' last bytes may still be on their way to the readability handlers.
            stdout.waitForEnd(timeout: .seconds(5))
            stderr.waitForEnd(timeout: .seconds(5))
            return (process.terminationStatus, stdout.text, stderr.text)
        }

        /// A loopback port nobody listens on: bound to port 0, read back, closed.
        static func unusedPort() -> Int? {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
                }
            }
            return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
        }

        @Test(arguments: [false, true])
        func watchOnceListsTheDemoRiders(binary: Bool) throws {
            try HubProcess.with(["--demo"]) { hub in
                let (status, output, errors) = try Self.runProbe(
                    ["watch", "--once", "\(hub.baseURL)/v1/classes/demo"] + (binary ? ["--binary"] : []))
                #expect(status == 0, "stderr: \(errors)")
                let lines = output.split(separator: "\n").map(String.init)
                #expect(lines.first?.hasPrefix("class demo · ") == true, "header: \(lines.first ?? "")")
                #expect(!output.contains("\u{1B}["), "no ANSI escapes when stdout is not a terminal")

                // Rows follow the headings; read each row's BPM cell at the heading's column.
                let headings = try #require(lines.firstIndex { $0.hasPrefix("RIDER") }, "headings in:\n\(output)")
                let heading = lines[headings]
                let bpmEnd = try #require(heading.range(of: "BPM")).upperBound
                let bpmColumn = heading.distance(from: heading.startIndex, to: bpmEnd)
                var bpms: [Int] = []
                for row in lines[(headings + 1)...] where row.count >= bpmColumn {
                    let cell = row.prefix(bpmColumn).suffix(4).trimmingCharacters(in: .whitespaces)
                    if let bpm = Int(cell) { bpms.append(bpm) }
                }
                #expect(bpms.count >= 3, "at least a few riders with a bpm:\n\(output)")
                #expect(bpms.allSatisfy { (25...250).contains($0) }, "plausible bpm values: \(bpms)")
                let riders = lines[0].split(separator: "·")[1].split(separator: " ").first.flatMap { Int($0) }
                #expect((riders ?? 0) >= 3, "rider count in the header: \(lines[0])")
            }
        }

        @Test func watchExitsWith2WhenItCannotConnect() throws {
            // A port that was just free: nothing listens there.
            let port = try #require(Self.unusedPort())
            let (status, output, errors) = try Self.runProbe(["watch", "--once", "ws://127.0.0.1:\(port)/v1/classes/x"])
            #expect(status == 2, "stdout: \(output)")
            #expect(errors.contains("cannot connect"), "a clear message: \(errors)")

            // A refused handshake (bad class id) is "cannot connect" too.
            try HubProcess.with { hub in
                let (status, _, errors) = try Self.runProbe(["watch", "--once", "\(hub.baseURL)/v1/classes/no!pe"])
                #expect(status == 2)
                #expect(errors.contains("cannot connect"), "a clear message: \(errors)")
            }
        }
    }
}
