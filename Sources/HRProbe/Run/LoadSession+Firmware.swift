import Foundation
import HRProbeCore
import HRProtocol

/// `--device-model firmware`: each publishing rider is a `DeviceModel` (offline buffer, acks, uploads after an
/// outage), and the run ends by reading the class record and checking it against what the riders captured.
extension LoadSession {
    /// Gives every rider that publishes its device model (when sending starts).
    func startFirmware(now: Int64) {
        guard plan.firmware else { return }
        for r in riders.indices where riders[r].device != nil {
            riders[r].firmware = DeviceModel()
            // Its connection was welcomed before the device existed: the device takes the link as it is.
            if let c = riders[r].connection, connections[c].welcomed {
                _ = riders[r].firmware!.welcomed(lastSeq: nil, budgetMs: result.budgetMs, nowUs: now)
            }
        }
    }

    /// The frame that carries `sample` of rider `r`.
    func sampleFrame(_ sample: Sample, rider r: Int, intendedUs: Int64, replay: Bool) -> OutboundFrame {
        let bytes = plan.binary ? ClientFrameEncoder.binary(sample) : ClientFrameEncoder.json(.hr(sample))
        return OutboundFrame(
            seq: sample.seq, intendedUs: intendedUs, bytes: bytes, kind: plan.binary ? .binary : .text, replay: replay)
    }

    /// A welcome on rider `r`'s connection `index`: the device resends what is newer than `last_seq`, or uploads.
    func firmwareWelcomed(_ index: Int, rider r: Int, lastSeq: UInt32?, now: Int64) {
        let resend = riders[r].firmware!.welcomed(lastSeq: lastSeq, budgetMs: result.budgetMs, nowUs: now)
        for sample in resend {
            let dueUs = riders[r].dueUs(seq: sample.seq, plan.schedule) ?? sample.ts * 1_000
            enqueue(index, sampleFrame(sample, rider: r, intendedUs: dueUs, replay: true))
        }
        maybeUpload(r, now: now)
    }

    /// An `ack` on rider `r`'s connection.
    func firmwareAcked(rider r: Int, seq: UInt32, now: Int64) {
        guard riders[r].firmware != nil else { return }
        let measuredFrom = riders[r].measuredFrom
        riders[r].firmware!.ack(seq, nowUs: now) { seq, us in
            // The measured window only, like the other rows (the warm-up includes connecting's burst).
            if let measuredFrom, Int32(bitPattern: seq &- measuredFrom) >= 0 { result.ack.record(us) }
        }
    }

    /// Rider `r`'s connection died: when to reconnect (the device's backoff).
    func firmwareLinkLost(rider r: Int, now: Int64) -> Int64 {
        riders[r].firmware!.linkLost(nowUs: now, unit: rng.unit())
    }

    /// Starts rider `r`'s upload when one is due (the POST endpoint; one request at a time per rider).
    func maybeUpload(_ r: Int, now: Int64) {
        guard stage != .closing && stage != .done, riders[r].firmware != nil,
            let chunk = riders[r].firmware!.nextUpload(nowUs: now)
        else { return }
        let k = riders[r].classIndex
        let participant = ParticipantNumbering.id(riders[r].indexInClass)
        guard
            let url = HubHTTP.url(plan.hub, path: "/v1/classes/\(classes[k].id)/participants/\(participant)/samples")
        else { return }
        var body: [UInt8] = [UInt8(ascii: "[")]
        for (i, sample) in chunk.enumerated() {
            if i > 0 { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: ClientFrameEncoder.json(.hr(sample)))
        }
        body.append(UInt8(ascii: "]"))
        logger.debug("uploading", metadata: ["rider": "\(r)", "samples": "\(chunk.count)"])
        HubHTTP.post(url, json: body) { [self] answer in
            client.post { [self] in uploadFinished(r, answer) }
        }
    }

    /// The hub answered rider `r`'s upload (or the request failed).
    private func uploadFinished(_ r: Int, _ answer: HubHTTP.Answer) {
        let now = ProbeClock.nowUs()
        struct Accepted: Decodable {
            var accepted: Int
            var duplicates: Int
        }
        if answer.status == 200, let counts = try? JSONDecoder().decode(Accepted.self, from: answer.body) {
            riders[r].firmware!.uploadAnswered(accepted: counts.accepted, duplicates: counts.duplicates)
            result.uploads += 1
            maybeUpload(r, now: now)
        } else {
            riders[r].firmware!.uploadFailed(nowUs: now, unit: rng.unit())
            let why = answer.status.map { "HTTP \($0)" } ?? answer.error ?? "no answer"
            result.uploadFailures[why, default: 0] += 1
            logger.info("upload failed", metadata: ["rider": "\(r)", "why": "\(why)"])
        }
    }

    /// Checks every device ten times a second: a buffer can age past the budget with no new sample, and a link can
    /// die without a close (its socket is then dropped and the device reconnects).
    func checkDevices(now: Int64) {
        guard plan.firmware, now >= nextUploadCheckUs else { return }
        nextUploadCheckUs = now + 100_000
        for r in riders.indices where riders[r].firmware != nil {
            if riders[r].firmware!.linkLooksDead(nowUs: now), let c = riders[r].connection, let id = connections[c].id {
                result.deadLinks += 1
                connections[c].dropping = true  // its close is the device's doing, not the hub's
                client.abort(id)
                logger.info("silent link dropped", metadata: ["rider": "\(r)"])
            }
            maybeUpload(r, now: now)
        }
    }

    /// Anything from the hub on rider `r`'s connection keeps its link alive.
    func firmwareHeard(_ index: Int, now: Int64) {
        guard let r = connections[index].rider, riders[r].firmware != nil else { return }
        riders[r].firmware!.heard(nowUs: now)
    }

    /// Whether every device's buffer is empty (everything acked or uploaded).
    var firmwareDrained: Bool {
        riders.allSatisfy { ($0.firmware?.pending ?? 0) == 0 }
    }

    /// After the run: reads each class's record and sets up every rider's ledger (captured, recorded, per viewer).
    /// Blocks; call it after the client stopped.
    func checkRecord() {
        guard plan.firmware, plan.role == .both else { return }
        struct Row: Decodable {
            var p: String
            var seq: UInt32
        }
        var ledgers: [RiderLedger] = []
        for k in classes.indices {
            var byParticipant: [String: Int] = [:]
            for i in 0..<classes[k].riders {
                let rider = riders[classes[k].riderBase + i]
                guard rider.device != nil else { continue }
                var ledger = RiderLedger(
                    classID: classes[k].id, participant: ParticipantNumbering.id(i), firstSeq: rider.firstSeq,
                    captured: rider.captured, capturedInWindow: rider.capturedInWindow,
                    stillBuffered: rider.firmware?.pending ?? 0)
                for slot in classes[k].viewerConnections.indices {
                    let index = classes[k].stream(slot: slot, rider: i)
                    guard index < streams.count else { continue }
                    ledger.viewers.append(
                        RiderLedger.ViewerShare(owed: rider.capturedInWindow, counts: streams[index].counts))
                }
                byParticipant[ledger.participant] = ledgers.count
                ledgers.append(ledger)
            }
            guard let url = HubHTTP.url(plan.hub, path: "/v1/classes/\(classes[k].id)/record") else { continue }
            let answer = HubHTTP.get(url)
            guard answer.status == 200 || answer.status == 404 else {
                result.recordFailure = "GET \(url.path): " + (answer.status.map { "HTTP \($0)" } ?? answer.error ?? "")
                continue
            }
            guard answer.status == 200 else { continue }  // no record of the class: nothing recorded
            do {
                for row in try JSONDecoder().decode([Row].self, from: answer.body) {
                    if let j = byParticipant[row.p] { ledgers[j].recorded(row.seq) }
                }
            } catch {
                result.recordFailure = "GET \(url.path): not the record's JSON (\(error))"
            }
        }
        result.ledgers = ledgers
    }
}
