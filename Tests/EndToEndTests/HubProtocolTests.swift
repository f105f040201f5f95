import Foundation
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
                let viewer = try client.connect(port: hub.port, path: path("spin", "viewer"))
                let (welcome, snapshot) = try expectWelcome(viewer)
                #expect(welcome["class"] == .string("spin"))
                #expect(welcome["role"] == .string("viewer"))
                #expect(welcome["participant"] == nil)
                #expect(welcome["mode"] == .string("all"))
                #expect(welcome["last_seq"] == nil || welcome["last_seq"] == .null)
                #expect((welcome["budget_ms"]?.int ?? 0) > 0)
                #expect(abs((welcome["ht"]?.int ?? 0) - nowMs()) < 60_000, "hub time is Unix ms")
                #expect(snapshot == [])

                let latest = try client.connect(port: hub.port, path: path("spin", "viewer", mode: "latest"))
                #expect(try expectWelcome(latest).welcome["mode"] == .string("latest"))

                let publisher = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "ann"))
                let pub = try expectWelcome(publisher).welcome
                #expect(pub["role"] == .string("publisher"))
                #expect(pub["participant"] == .string("ann"))
                #expect(pub["mode"] == nil)
                #expect(pub["last_seq"] == .null, "a publishing connection's welcome says last_seq, null at first")

                let participant = try client.connect(
                    port: hub.port, path: path("spin", "participant", participant: "ben"))
                let (part, partSnapshot) = try expectWelcome(participant)
                #expect(part["role"] == .string("participant"))
                #expect(part["participant"] == .string("ben"))
                #expect(part["mode"] == .string("all"))
                #expect(part["last_seq"] == .null)
                #expect(
                    partSnapshot?.contains { $0["p"] == .string("ann") } == true,
                    "ann is connected, so she is in the class")
            }
        }

        @Test func lastSeqIsTheHighestAcceptedSeqAfterReconnect() throws {
            try HubProcess.with { hub in
                // A viewer keeps the class alive while the device is away.
                let viewer = try client.connect(port: hub.port, path: path("spin", "viewer"))
                try expectWelcome(viewer)
                let first = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "dev"))
                #expect(try expectWelcome(first).welcome["last_seq"] == .null)
                for seq in UInt32(1)...5 {
                    first.send(WireSample(seq: seq, ts: nowMs(), bpm: 100 + UInt8(seq)))
                }
                #expect(try first.sync().filter { $0.t == "error" } == [])
                _ = try waitForSample(viewer, p: "dev", seq: 5)
                first.close()
                try first.waitClosed()
                _ = try waitFor("leave", p: "dev", on: viewer)

                let second = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "dev"))
                #expect(try expectWelcome(second).welcome["last_seq"] == .int(5))
                // The device resends what it is unsure of: old seqs are duplicates, the new one goes through.
                second.send(WireSample(seq: 5, ts: nowMs(), bpm: 105))
                second.send(WireSample(seq: 6, ts: nowMs(), bpm: 106))
                let errors = try second.sync().filter { $0.t == "error" }
                #expect(errors.map { $0["code"] } == [.string("duplicate")])
                #expect(errors.first?.seq == 5)
                let (sample, _) = try waitForSample(viewer, p: "dev", seq: 6)
                #expect(sample["bpm"] == .int(106))
            }
        }

        @Test func snapshotShowsALateViewerWhoIsHere() throws {
            try HubProcess.with { hub in
                let early = try client.connect(port: hub.port, path: path("spin", "viewer"))
                try expectWelcome(early)
                let alice = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "alice"))
                try expectWelcome(alice)
                alice.sendText(hello(name: "Alice", hrmax: 190, hrrest: 55))
                alice.send(WireSample(seq: 1, ts: nowMs(), bpm: 120))
                alice.send(WireSample(seq: 2, ts: nowMs(), bpm: 130, rr: [470]))
                let bob = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "bob"))
                try expectWelcome(bob)
                #expect(try bob.sync().isEmpty)
                _ = try waitForSample(early, p: "alice", seq: 2)

                let late = try client.connect(port: hub.port, path: path("spin", "viewer"))
                let entries = try #require(try expectWelcome(late).snapshot)
                #expect(entries.compactMap { $0["p"]?.string }.sorted() == ["alice", "bob"])
                let a = try #require(entries.first { $0["p"] == .string("alice") })
                #expect(a["name"] == .string("Alice"))
                #expect(a["hrmax"] == .int(190))
                let last = try #require(a["last"])
                #expect(last["p"] == .string("alice"))
                #expect(last["seq"] == .int(2))
                #expect(last["bpm"] == .int(130))
                #expect(last["rr"] == .array([.int(470)]))
                #expect(last["pct"] == .int(68))  // 130 / 190 = 68.4 %
                #expect(last["zone"] == .int(2))
                let b = try #require(entries.first { $0["p"] == .string("bob") })
                #expect(b["last"] == nil || b["last"] == .null)
                #expect(b["name"] == nil)
            }
        }

        @Test func joinThenLeaveClosed() throws {
            try HubProcess.with { hub in
                let viewer = try client.connect(port: hub.port, path: path("spin", "viewer"))
                try expectWelcome(viewer)
                let carol = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "carol"))
                try expectWelcome(carol)
                carol.sendText(hello(name: "Carol", hrmax: 180, hrrest: 50))
                let (join, skipped) = try viewer.waitFor("join carol with a name") { message in
                    message.is("join", p: "carol") && message["name"] != nil ? message : nil
                }
                #expect(join["name"] == .string("Carol"))
                #expect(join["hrmax"] == .int(180))
                #expect(join["hrrest"] == .int(50))
                for message in skipped where !message.is("join", p: "carol") {
                    Issue.record("unexpected message before carol's join: \(message)")
                }
                carol.close()
                try carol.waitClosed()
                let (leave, _) = try waitFor("leave", p: "carol", on: viewer)
                #expect(leave["reason"] == .string("closed"))
            }
        }

        // MARK: - Samples

        @Test func hrIsRelayedWithRtsPctAndZone() throws {
            try HubProcess.with(["--budget-ms", "60000"]) { hub in
                let viewer = try client.connect(port: hub.port, path: path("spin", "viewer"))
                try expectWelcome(viewer)
                let dana = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "dana"))
                try expectWelcome(dana)

                // Before any hello the hub does not know hrmax: no pct, no zone.
                let t0 = nowMs()
                let first = WireSample(seq: 1, ts: t0, bpm: 150, rr: [800, 810], contact: true, ee: 12)
                dana.send(first)
                let (relayed, _) = try waitForSample(viewer, p: "dana", seq: 1)
                let t1 = nowMs()
                #expect(WireSample(relayed) == first)
                let rts = try #require(relayed["rts"]?.int)
                #expect(rts >= t0 - 1 && rts <= t1 + 1, "rts is the hub's receive time")
                #expect(relayed["pct"] == nil)
                #expect(relayed["zone"] == nil)

                dana.sendText(hello(name: "Dana", hrmax: 200))
                // (bpm, pct, zone): halves round up (119/200 = 59.5 % → 60 %), zone bounds 60/70/80/90, bpm 0 has none.
                let cases: [(UInt8, Int64?, Int64?)] = [
                    (150, 75, 3), (119, 60, 2), (117, 59, 1), (180, 90, 5), (179, 90, 5), (161, 81, 4), (0, nil, nil),
                ]
                for (index, (bpm, _, _)) in cases.enumerated() {
                    dana.send(WireSample(seq: UInt32(index + 2), ts: nowMs(), bpm: bpm, contact: bpm != 0))
                }
                for (index, (bpm, pct, zone)) in cases.enumerated() {
                    let seq = UInt32(index + 2)
                    let (sample, skipped) = try waitForSample(viewer, p: "dana", seq: seq)
                    #expect(sample["bpm"] == .int(Int64(bpm)))
                    #expect(sample["pct"]?.int == pct, "pct of bpm \(bpm) with hrmax 200")
                    #expect(sample["zone"]?.int == zone, "zone of bpm \(bpm) with hrmax 200")
                    #expect(skipped.filter { $0.t == "hr" }.isEmpty, "samples arrive in seq order")
                }
            }
        }

        @Test func pingIsAnsweredWithPong() throws {
            try HubProcess.with { hub in
                for (index, role) in ["viewer", "publisher", "participant"].enumerated() {
                    let conn = try client.connect(
                        port: hub.port, path: path("spin", role, participant: role == "viewer" ? nil : "p\(index)"))
                    try expectWelcome(conn)
                    let ct = nowMs()
                    conn.sendText(#"{"t":"ping","id":42,"ct":\#(ct)}"#)
                    let (pong, _) = try conn.waitFor("pong 42") { $0.t == "pong" && $0["id"] == .int(42) ? $0 : nil }
                    #expect(pong["ct"] == .int(ct))
                    #expect(abs((pong["ht"]?.int ?? 0) - ct) < 60_000, "ht is Unix ms")

                    conn.sendText(#"{"t":"ping","id":"abc-1"}"#)
                    let (echo, _) = try conn.waitFor("pong abc-1") {
                        $0.t == "pong" && $0["id"] == .string("abc-1") ? $0 : nil
                    }
                    #expect(echo["ct"] == nil || echo["ct"] == .null, "no ct in, no ct out")
                    #expect(echo["ht"]?.int != nil)
                }
            }
        }

        // MARK: - Rejections

        @Test func everyRejectionLeavesTheConnectionOpen() throws {
            try HubProcess.with { hub in
                let viewer = try client.connect(port: hub.port, path: path("spin", "viewer"))
                try expectWelcome(viewer)
                let pub = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "eve"))
                try expectWelcome(pub)

                func rejected(_ conn: Conn, _ frame: String) throws -> WireMessage? {
                    conn.sendText(frame)
                    let errors = try conn.sync().filter { $0.t == "error" }
                    #expect(errors.count == 1, "one error for \(frame)")
                    return errors.first
                }

                #expect(try rejected(pub, "{not json")?["code"] == .string("bad_json"))
                #expect(try rejected(pub, "[1,2,3]")?["code"] == .string("bad_json"))
                #expect(try rejected(pub, #"{"seq":1}"#)?["code"] == .string("bad_json"))
                let bpm = try rejected(pub, #"{"t":"hr","seq":10,"ts":\#(nowMs()),"bpm":300}"#)
                #expect(bpm?["code"] == .string("bad_field"))
                #expect(bpm?["msg"]?.string?.contains("bpm") == true, "names the field: \(bpm?.description ?? "")")
                #expect(bpm?.seq == 10)
                let hrmax = try rejected(pub, #"{"t":"hello","hrmax":500}"#)
                #expect(hrmax?["code"] == .string("bad_field"))
                #expect(hrmax?["msg"]?.string?.contains("hrmax") == true, "names the field: \(hrmax?.description ?? "")")
                #expect(try rejected(pub, #"{"t":"dance"}"#)?["code"] == .string("unknown_type"))
                let viewerHR = #"{"t":"hr","seq":11,"ts":\#(nowMs()),"bpm":90}"#
                #expect(try rejected(viewer, viewerHR)?["code"] == .string("not_allowed"))

                pub.send(WireSample(seq: 1, ts: nowMs(), bpm: 91))
                #expect(try pub.sync().filter { $0.t == "error" } == [])
                let duplicate = try rejected(pub, WireSample(seq: 1, ts: nowMs(), bpm: 92).json)
                #expect(duplicate?["code"] == .string("duplicate"))
                #expect(duplicate?.seq == 1)

                // Still open, and the rejected messages changed nothing: the viewer got only seq 1, bpm 91,
                // and still sees no profile for eve (the bad hello was dropped whole).
                pub.send(WireSample(seq: 2, ts: nowMs(), bpm: 93))
                let (last, skipped) = try waitForSample(viewer, p: "eve", seq: 2)
                #expect(last["bpm"] == .int(93))
                #expect(last["pct"] == nil, "the rejected hello set no hrmax")
                let others = skipped.filter { $0.t == "hr" }
                #expect(others.map(\.seq) == [1])
                #expect(others.map { $0["bpm"] } == [.int(91)])
            }
        }

        @Test func oversizedFrameClosesWith1009() throws {
            try HubProcess.with { hub in
                let pub = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "fat"))
                try expectWelcome(pub)
                // Under the 4096-byte limit: fine (unknown fields are ignored).
                let padding = String(repeating: "x", count: 3900)
                pub.sendText(#"{"t":"ping","id":1,"pad":"\#(padding)"}"#)
                #expect(try pub.sync().filter { $0.t == "error" } == [])
                // Over it: closed with 1009.
                pub.sendText(#"{"t":"ping","id":2,"pad":"\#(padding)\#(padding)"}"#)
                #expect(try pub.waitClosed() == 1009)
                // The hub is fine.
                let next = try client.connect(port: hub.port, path: path("spin", "viewer"))
                try expectWelcome(next)
            }
        }

        @Test func takeoverClosesTheOldSocketWith4009AndIsNotALeave() throws {
            try HubProcess.with { hub in
                let viewer = try client.connect(port: hub.port, path: path("spin", "viewer"))
                try expectWelcome(viewer)
                let old = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "gus"))
                try expectWelcome(old)
                old.sendText(hello(name: "Gus"))
                old.send(WireSample(seq: 1, ts: nowMs(), bpm: 100))
                _ = try waitForSample(viewer, p: "gus", seq: 1)

                let new = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "gus"))
                #expect(try expectWelcome(new).welcome["last_seq"] == .int(1))
                let close = try old.waitClose()
                #expect(close.code == 4009, "reason: \(close.reason)")
                new.send(WireSample(seq: 2, ts: nowMs(), bpm: 101))
                let (_, skipped) = try waitForSample(viewer, p: "gus", seq: 2)
                // A leave, if any, would come when the hub finishes closing the old socket: wait until it has (the
                // class holds the viewer and the new socket), then a barrier on the viewer brings what that queued.
                try waitForConnections(hub, classID: "spin", count: 2)
                let later = try viewer.sync()
                for message in skipped + later where message.p == "gus" {
                    #expect(message.t != "leave", "a takeover is not a leave: \(message)")
                    #expect(message.t != "join", "a takeover is not a join: \(message)")
                }
                // The real leave still comes, once, when the new socket closes.
                new.close()
                let (leave, before) = try waitFor("leave", p: "gus", on: viewer)
                #expect(leave["reason"] == .string("closed"))
                #expect(before.allSatisfy { $0.t != "leave" })
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
                let viewer = try client.connect(port: hub.port, path: path("spin", "viewer"))
                try expectWelcome(viewer)
            }
        }

        // MARK: - Subprotocols

        @Test func binaryPublisherToBinaryAndJSONViewers() throws {
            try HubProcess.with(["--budget-ms", "60000"]) { hub in
                let binaryViewer = try client.connect(
                    port: hub.port, path: path("spin", "viewer"), subprotocols: ["hrhub.v1.bin"])
                #expect(binaryViewer.subprotocol == "hrhub.v1.bin")
                try expectWelcome(binaryViewer)  // control messages stay JSON text frames
                let jsonViewer = try client.connect(
                    port: hub.port, path: path("spin", "viewer"), subprotocols: ["hrhub.v1.json"])
                #expect(jsonViewer.subprotocol == "hrhub.v1.json")
                try expectWelcome(jsonViewer)
                let pub = try client.connect(
                    port: hub.port, path: path("spin", "publisher", participant: "hal"),
                    subprotocols: ["chat.v2", "hrhub.v1.bin"])
                #expect(pub.subprotocol == "hrhub.v1.bin")
                try expectWelcome(pub)
                pub.sendText(hello(name: "Hal", hrmax: 200))

                let sent = [
                    WireSample(seq: 1, ts: nowMs(), bpm: 140, rr: [700, 710, 720], contact: true, ee: 300),
                    WireSample(seq: 2, ts: nowMs(), bpm: 0, contact: false),
                    WireSample(seq: 3, ts: nowMs(), bpm: 141),
                ]
                for sample in sent { pub.sendBinary(sample) }
                #expect(try pub.sync().filter { $0.t == "error" } == [])

                var received: [BinaryRelayedSample] = []
                let deadline = ContinuousClock.now + TestClient.defaultTimeout
                while received.count < sent.count {
                    switch try binaryViewer.nextFrame(timeout: max(.zero, deadline - ContinuousClock.now)) {
                    case .samples(let samples): received += samples
                    case .messages(let messages):
                        #expect(messages.filter { $0.t == "hr" }.isEmpty, "samples come as binary frames")
                    }
                }
                #expect(received.map(\.p) == ["hal", "hal", "hal"])
                #expect(received.map(\.sample) == sent)

                for sample in sent {
                    let (json, _) = try waitForSample(jsonViewer, p: "hal", seq: sample.seq)
                    #expect(WireSample(json) == sample)
                    let binary = received.first { $0.sample.seq == sample.seq }
                    #expect(json["rts"]?.int == binary?.rts)
                }
            }
        }

        // MARK: - Shutdown

        @Test func sigtermClosesClientsWith1001() throws {
            let hub = try HubProcess()
            let viewer = try client.connect(port: hub.port, path: path("spin", "viewer"))
            try expectWelcome(viewer)
            let pub = try client.connect(port: hub.port, path: path("spin", "publisher", participant: "ivy"))
            try expectWelcome(pub)
            #expect(try hub.stop() == 0, "stderr: \(hub.stderr.suffix(2000))")
            #expect(try viewer.waitClosed() == 1001)
            #expect(try pub.waitClosed() == 1001)
        }
    }
}
