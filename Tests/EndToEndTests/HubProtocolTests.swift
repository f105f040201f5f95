import Foundation
import HRProtocol
import Testing

extension EndToEnd {
    /// The wire contract of PROTOCOL.md, one rule per test, against a fresh hub each time.
    @Suite struct HubProtocolTests {
        let client: TestClient

        init() throws {
            client = try TestClient.get()
        }

        // MARK: - Connecting

        @Test func welcomeForEveryRole() throws {
            try HubProcess.with { hub in
                let viewer = try client.connect(port: hub.port, path: path("spin", .viewer))
                let (welcome, snapshot) = try expectWelcome(viewer)
                #expect(welcome.classID == "spin")
                #expect(welcome.role == .viewer)
                #expect(welcome.participant == nil)
                #expect(welcome.mode == .all)
                #expect(welcome.lastSeq == nil)
                #expect(welcome.budgetMs > 0)
                #expect(abs(welcome.ht - nowMs()) < 60_000, "hub time is Unix ms")
                #expect(snapshot == [])

                let latest = try client.connect(port: hub.port, path: path("spin", .viewer, mode: .latest))
                #expect(try expectWelcome(latest).welcome.mode == .latest)

                let publisher = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "ann"))
                let pub = try expectWelcome(publisher).welcome
                #expect(pub.role == .publisher)
                #expect(pub.participant == "ann")
                #expect(pub.mode == nil)
                #expect(pub.lastSeq == nil)

                let participant = try client.connect(
                    port: hub.port, path: path("spin", .participant, participant: "ben"))
                let (part, partSnapshot) = try expectWelcome(participant)
                #expect(part.role == .participant)
                #expect(part.participant == "ben")
                #expect(part.mode == .all)
                #expect(part.lastSeq == nil)
                #expect(partSnapshot?.map(\.p).contains("ann") == true, "ann is connected, so she is in the class")
            }
        }

        @Test func lastSeqIsTheHighestAcceptedSeqAfterReconnect() throws {
            try HubProcess.with { hub in
                // A viewer keeps the class alive while the device is away.
                let viewer = try client.connect(port: hub.port, path: path("spin", .viewer))
                try expectWelcome(viewer)
                let first = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "dev"))
                #expect(try expectWelcome(first).welcome.lastSeq == nil)
                for seq in UInt32(1)...5 {
                    first.send(.hr(Sample(seq: seq, ts: nowMs(), bpm: 100 + UInt8(seq))))
                }
                #expect(try first.sync().compactMap(\.error) == [])
                _ = try waitForSample(viewer, p: "dev", seq: 5)
                first.close()
                try first.waitClosed()
                _ = try viewer.waitFor("leave dev") { message -> Bool? in
                    if case .leave("dev", _) = message { return true }
                    return nil
                }

                let second = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "dev"))
                #expect(try expectWelcome(second).welcome.lastSeq == 5)
                // The device resends what it is unsure of: old seqs are duplicates, the new one goes through.
                second.send(.hr(Sample(seq: 5, ts: nowMs(), bpm: 105)))
                second.send(.hr(Sample(seq: 6, ts: nowMs(), bpm: 106)))
                let errors = try second.sync().compactMap(\.error)
                #expect(errors.map(\.code) == [.duplicate])
                #expect(errors.first?.seq == 5)
                let (sample, _) = try waitForSample(viewer, p: "dev", seq: 6)
                #expect(sample.sample.bpm == 106)
            }
        }

        @Test func snapshotShowsALateViewerWhoIsHere() throws {
            try HubProcess.with { hub in
                let early = try client.connect(port: hub.port, path: path("spin", .viewer))
                try expectWelcome(early)
                let alice = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "alice"))
                try expectWelcome(alice)
                alice.send(.hello(Profile(name: "Alice", hrmax: 190, hrrest: 55)))
                alice.send(.hr(Sample(seq: 1, ts: nowMs(), bpm: 120)))
                alice.send(.hr(Sample(seq: 2, ts: nowMs(), bpm: 130, rr: [470])))
                let bob = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "bob"))
                try expectWelcome(bob)
                #expect(try bob.sync().isEmpty)
                _ = try waitForSample(early, p: "alice", seq: 2)

                let late = try client.connect(port: hub.port, path: path("spin", .viewer))
                let entries = try #require(try expectWelcome(late).snapshot)
                #expect(entries.map(\.p).sorted() == ["alice", "bob"])
                let a = try #require(entries.first { $0.p == "alice" })
                #expect(a.profile.name == "Alice")
                #expect(a.profile.hrmax == 190)
                let last = try #require(a.last)
                #expect(last.p == "alice")
                #expect(last.sample.seq == 2)
                #expect(last.sample.bpm == 130)
                #expect(last.sample.rr == [470])
                #expect(last.pct == 68)  // 130 / 190 = 68.4 %
                #expect(last.zone == 2)
                let b = try #require(entries.first { $0.p == "bob" })
                #expect(b.last == nil)
                #expect(b.profile.name == nil)
            }
        }

        @Test func joinThenLeaveClosed() throws {
            try HubProcess.with { hub in
                let viewer = try client.connect(port: hub.port, path: path("spin", .viewer))
                try expectWelcome(viewer)
                let carol = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "carol"))
                try expectWelcome(carol)
                carol.send(.hello(Profile(name: "Carol", hrmax: 180, hrrest: 50)))
                let (profile, skipped) = try viewer.waitFor("join carol with a name") { message -> Profile? in
                    guard case .join("carol", let profile) = message, profile.name != nil else { return nil }
                    return profile
                }
                #expect(profile == Profile(name: "Carol", hrmax: 180, hrrest: 50))
                for message in skipped {
                    if case .join("carol", _) = message { continue }
                    Issue.record("unexpected message before carol's join: \(message)")
                }
                carol.close()
                try carol.waitClosed()
                let (reason, _) = try viewer.waitFor("leave carol") { message -> LeaveReason? in
                    guard case .leave("carol", let reason) = message else { return nil }
                    return reason
                }
                #expect(reason == .closed)
            }
        }

        // MARK: - Samples

        @Test func hrIsRelayedWithRtsPctAndZone() throws {
            try HubProcess.with { hub in
                let viewer = try client.connect(port: hub.port, path: path("spin", .viewer))
                try expectWelcome(viewer)
                let dana = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "dana"))
                try expectWelcome(dana)

                // Before any hello the hub does not know hrmax: no pct, no zone.
                let t0 = nowMs()
                let first = Sample(seq: 1, ts: t0, bpm: 150, rr: [800, 810], contact: true, ee: 12)
                dana.send(.hr(first))
                let (relayed, _) = try waitForSample(viewer, p: "dana", seq: 1)
                let t1 = nowMs()
                #expect(relayed.sample == first)
                #expect(relayed.rts >= t0 - 1 && relayed.rts <= t1 + 1, "rts is the hub's receive time")
                #expect(relayed.pct == nil)
                #expect(relayed.zone == nil)

                dana.send(.hello(Profile(name: "Dana", hrmax: 200)))
                // (bpm, pct, zone): halves round up (119/200 = 59.5 % → 60 %), zone bounds 60/70/80/90, bpm 0 has none.
                let cases: [(UInt8, Int?, Int?)] = [
                    (150, 75, 3), (119, 60, 2), (117, 59, 1), (180, 90, 5), (179, 90, 5), (161, 81, 4), (0, nil, nil),
                ]
                for (index, (bpm, _, _)) in cases.enumerated() {
                    dana.send(.hr(Sample(seq: UInt32(index + 2), ts: nowMs(), bpm: bpm, contact: bpm != 0)))
                }
                for (index, (bpm, pct, zone)) in cases.enumerated() {
                    let seq = UInt32(index + 2)
                    let (sample, skipped) = try waitForSample(viewer, p: "dana", seq: seq)
                    #expect(sample.sample.bpm == bpm)
                    #expect(sample.pct == pct, "pct of bpm \(bpm) with hrmax 200")
                    #expect(sample.zone == zone, "zone of bpm \(bpm) with hrmax 200")
                    #expect(skipped.compactMap(\.sample).isEmpty, "samples arrive in seq order")
                }
            }
        }

        @Test func pingIsAnsweredWithPong() throws {
            try HubProcess.with { hub in
                for (index, role) in Role.allCases.enumerated() {
                    let conn = try client.connect(
                        port: hub.port, path: path("spin", role, participant: role.publishes ? "p\(index)" : nil))
                    try expectWelcome(conn)
                    let ct = nowMs()
                    conn.send(.ping(id: .number(42), ct: ct))
                    let (pong, _) = try conn.waitFor("pong 42") { message -> (Int64?, Int64)? in
                        guard case .pong(.number(42), let ct, let ht) = message else { return nil }
                        return (ct, ht)
                    }
                    #expect(pong.0 == ct)
                    #expect(abs(pong.1 - ct) < 60_000, "ht is Unix ms")

                    conn.send(.ping(id: .string("abc-1"), ct: nil))
                    let (echo, _) = try conn.waitFor("pong abc-1") { message -> Int64?? in
                        guard case .pong(.string("abc-1"), let ct, _) = message else { return nil }
                        return .some(ct)
                    }
                    #expect(echo == nil, "no ct in, no ct out")
                }
            }
        }

        // MARK: - Rejections

        @Test func everyRejectionLeavesTheConnectionOpen() throws {
            try HubProcess.with { hub in
                let viewer = try client.connect(port: hub.port, path: path("spin", .viewer))
                try expectWelcome(viewer)
                let pub = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "eve"))
                try expectWelcome(pub)

                func rejected(_ conn: Conn, _ frame: String) throws -> ProtocolError? {
                    conn.sendText(frame)
                    let errors = try conn.sync().compactMap(\.error)
                    #expect(errors.count == 1, "one error for \(frame)")
                    return errors.first
                }

                #expect(try rejected(pub, "{not json")?.code == .badJSON)
                #expect(try rejected(pub, "[1,2,3]")?.code == .badJSON)
                #expect(try rejected(pub, #"{"seq":1}"#)?.code == .badJSON)
                let bpm = try rejected(pub, #"{"t":"hr","seq":10,"ts":\#(nowMs()),"bpm":300}"#)
                #expect(bpm?.code == .badField)
                #expect(bpm?.message.contains("bpm") == true, "names the field: \(bpm?.message ?? "")")
                #expect(bpm?.seq == 10)
                let hrmax = try rejected(pub, #"{"t":"hello","hrmax":500}"#)
                #expect(hrmax?.code == .badField)
                #expect(hrmax?.message.contains("hrmax") == true, "names the field: \(hrmax?.message ?? "")")
                #expect(try rejected(pub, #"{"t":"dance"}"#)?.code == .unknownType)
                let viewerHR = #"{"t":"hr","seq":11,"ts":\#(nowMs()),"bpm":90}"#
                #expect(try rejected(viewer, viewerHR)?.code == .notAllowed)

                pub.send(.hr(Sample(seq: 1, ts: nowMs(), bpm: 91)))
                #expect(try pub.sync().compactMap(\.error) == [])
                let again = ClientFrameEncoder.json(.hr(Sample(seq: 1, ts: nowMs(), bpm: 92)))
                let duplicate = try rejected(pub, String(decoding: again, as: UTF8.self))
                #expect(duplicate?.code == .duplicate)
                #expect(duplicate?.seq == 1)

                // Still open, and the rejected messages changed nothing: the viewer got only seq 1, bpm 91,
                // and still sees no profile for eve (the bad hello was dropped whole).
                pub.send(.hr(Sample(seq: 2, ts: nowMs(), bpm: 93)))
                let (last, skipped) = try waitForSample(viewer, p: "eve", seq: 2)
                #expect(last.sample.bpm == 93)
                #expect(last.pct == nil, "the rejected hello set no hrmax")
                let others = skipped.compactMap(\.sample)
                #expect(others.map(\.sample.seq) == [1])
                #expect(others.map(\.sample.bpm) == [91])
            }
        }

        @Test func oversizedFrameClosesWith1009() throws {
            try HubProcess.with { hub in
                let pub = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "fat"))
                try expectWelcome(pub)
                // Under the 4096-byte limit: fine (unknown fields are ignored).
                let padding = String(repeating: "x", count: 3900)
                pub.sendText(#"{"t":"ping","id":1,"pad":"\#(padding)"}"#)
                #expect(try pub.sync().compactMap(\.error) == [])
                // Over it: closed with 1009.
                pub.sendText(#"{"t":"ping","id":2,"pad":"\#(padding)\#(padding)"}"#)
                #expect(try pub.waitClosed() == 1009)
                // The hub is fine.
                let next = try client.connect(port: hub.port, path: path("spin", .viewer))
                try expectWelcome(next)
            }
        }

        @Test func takeoverClosesTheOldSocketWith4009AndIsNotALeave() throws {
            try HubProcess.with { hub in
                let viewer = try client.connect(port: hub.port, path: path("spin", .viewer))
                try expectWelcome(viewer)
                let old = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "gus"))
                try expectWelcome(old)
                old.send(.hello(Profile(name: "Gus")))
                old.send(.hr(Sample(seq: 1, ts: nowMs(), bpm: 100)))
                _ = try waitForSample(viewer, p: "gus", seq: 1)

                let new = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "gus"))
                #expect(try expectWelcome(new).welcome.lastSeq == 1)
                let close = try old.waitClose()
                #expect(close.code == 4009, "reason: \(close.reason)")
                new.send(.hr(Sample(seq: 2, ts: nowMs(), bpm: 101)))
                let (_, skipped) = try waitForSample(viewer, p: "gus", seq: 2)
                // Give the hub time to finish the old socket's close handshake, then drain the viewer.
                Thread.sleep(forTimeInterval: 0.3)
                let later = try viewer.sync()
                for message in skipped + later {
                    switch message {
                    case .leave("gus", _): Issue.record("a takeover is not a leave: \(message)")
                    case .join("gus", _): Issue.record("a takeover is not a join: \(message)")
                    default: break
                    }
                }
                // The real leave still comes, once, when the new socket closes.
                new.close()
                let (reason, before) = try viewer.waitFor("leave gus") { message -> LeaveReason? in
                    guard case .leave("gus", let reason) = message else { return nil }
                    return reason
                }
                #expect(reason == .closed)
                #expect(before.allSatisfy { if case .leave = $0 { false } else { true } })
            }
        }

        @Test func httpRejectionsFailTheHandshake() throws {
            try HubProcess.with { hub in
                let bad: [(String, [String])] = [
                    ("/v1/classes/spin/ws?role=coach", []),
                    ("/v1/classes/spin/ws", []),
                    ("/v1/classes/bad%21id/ws?role=viewer", []),
                    ("/v1/classes/\(String(repeating: "a", count: 65))/ws?role=viewer", []),
                    ("/v1/classes/spin/ws?role=publisher", []),
                    ("/v1/classes/spin/ws?role=participant", []),
                    ("/v1/classes/spin/ws?role=publisher&participant=no%20spaces", []),
                    ("/v1/classes/spin/ws?role=viewer&participant=zed", []),
                    ("/v1/classes/spin/ws?role=viewer&mode=sometimes", []),
                    ("/v1/nowhere/ws?role=viewer", []),
                    ("/v1/classes/spin/ws?role=viewer", ["chat.v2"]),
                ]
                for (path, subprotocols) in bad {
                    do {
                        let conn = try client.connect(port: hub.port, path: path, subprotocols: subprotocols)
                        Issue.record("\(path) \(subprotocols): accepted (subprotocol \(conn.subprotocol ?? "none"))")
                        conn.close()
                    } catch TestClientError.connectFailed(let code, let reason) {
                        #expect(code == nil, "\(path): no close code without a WebSocket")
                        // lws 4.1 says "HS: ws upgrade response not 101".
                        #expect(
                            reason.contains("101") || reason.lowercased().contains("upgrade"),
                            "\(path): the client says why: \(reason)")
                    } catch {
                        Issue.record("\(path): \(error)")
                    }
                }
                // The hub is unharmed.
                let viewer = try client.connect(port: hub.port, path: path("spin", .viewer))
                try expectWelcome(viewer)
            }
        }

        // MARK: - Subprotocols

        @Test func binaryPublisherToBinaryAndJSONViewers() throws {
            try HubProcess.with { hub in
                let binaryViewer = try client.connect(
                    port: hub.port, path: path("spin", .viewer), subprotocols: [WireFormat.binary.rawValue])
                #expect(binaryViewer.subprotocol == WireFormat.binary.rawValue)
                try expectWelcome(binaryViewer)  // control messages stay JSON text frames
                let jsonViewer = try client.connect(
                    port: hub.port, path: path("spin", .viewer), subprotocols: [WireFormat.json.rawValue])
                #expect(jsonViewer.subprotocol == WireFormat.json.rawValue)
                try expectWelcome(jsonViewer)
                let pub = try client.connect(
                    port: hub.port, path: path("spin", .publisher, participant: "hal"),
                    subprotocols: ["chat.v2", WireFormat.binary.rawValue])
                #expect(pub.subprotocol == WireFormat.binary.rawValue)
                try expectWelcome(pub)
                pub.send(.hello(Profile(name: "Hal", hrmax: 200)))

                let sent = [
                    Sample(seq: 1, ts: nowMs(), bpm: 140, rr: [700, 710, 720], contact: true, ee: 300),
                    Sample(seq: 2, ts: nowMs(), bpm: 0, contact: false),
                    Sample(seq: 3, ts: nowMs(), bpm: 141),
                ]
                for sample in sent { pub.sendBinary(sample) }
                #expect(try pub.sync().compactMap(\.error) == [])

                var received: [RelayedSample] = []
                let deadline = ContinuousClock.now + TestClient.defaultTimeout
                while received.count < sent.count {
                    switch try binaryViewer.nextFrame(timeout: max(.zero, deadline - ContinuousClock.now)) {
                    case .samples(let samples): received += samples
                    case .messages(let messages):
                        #expect(messages.compactMap(\.sample).isEmpty, "samples come as binary frames")
                    }
                }
                #expect(received.map(\.p) == ["hal", "hal", "hal"])
                #expect(received.map(\.sample) == sent)

                for sample in sent {
                    let (json, _) = try waitForSample(jsonViewer, p: "hal", seq: sample.seq)
                    #expect(json.sample == sample)
                    let binary = received.first { $0.sample.seq == sample.seq }
                    #expect(json.rts == binary?.rts)
                }
            }
        }

        // MARK: - Shutdown

        @Test func sigtermClosesClientsWith1001() throws {
            let hub = try HubProcess()
            let viewer = try client.connect(port: hub.port, path: path("spin", .viewer))
            try expectWelcome(viewer)
            let pub = try client.connect(port: hub.port, path: path("spin", .publisher, participant: "ivy"))
            try expectWelcome(pub)
            #expect(try hub.stop() == 0, "stderr: \(hub.stderr.suffix(2000))")
            #expect(try viewer.waitClosed() == 1001)
            #expect(try pub.waitClosed() == 1001)
        }
    }
}
