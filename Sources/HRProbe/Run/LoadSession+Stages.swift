import Foundation
import HRProbeCore
import HRProtocol
import HRSimulation
import LWSTransport
import Logging

/// The stages of a run after connecting: sending (the schedules start), draining, closing, and finishing
/// (the streams are closed and the result completed).
extension LoadSession {
    /// Starts the schedules: the first sample of every rider is due at `startUs` (the next whole second at least
    /// 300 ms after the last session of the run connected: `SendingStart`), plus its phase and ramp offsets; the
    /// warm-up and the measured window follow.
    func beginSending(now: Int64, startUs: Int64) {
        sendStartUs = startUs
        measureStartUs = sendStartUs + plan.warmupUs
        measureEndUs = measureStartUs + plan.durationUs
        result.openAtStart = connections.count(where: \.isOpen)
        result.connectUs = now - startedUs
        stage = .running
        guard plan.role.publishes else { return }
        var seeds = SplitMix64(seed: plan.seed, stream: 0x5249_4445)  // "RIDE"
        var phases = SplitMix64(seed: plan.seed, stream: 0x5048_4153)  // "PHAS"
        let workout = Workout.short(durationMs: 240_000, repeats: true)
        let schedule = plan.schedule
        // The device's own cadence setting (it is given each due time) and its contact losses per unit of time,
        // not per sample: at 400 Hz a per-sample chance tuned for 1 Hz would drop contact every 2.5 s.
        let defaults = DeviceSimulator.Configuration()
        let configuration = DeviceSimulator.Configuration(
            sampleIntervalMs: max(1, Int64((schedule.periodUs / 1_000).rounded())),
            contactLossProbability: min(1, defaults.contactLossProbability * schedule.periodUs / 1e6))
        // Phases in whole ms when the period allows it, so a period of whole ms keeps every due time (and `ts`)
        // on a whole ms, as before; below 1 ms, in µs.
        let phaseGrainUs: Double = schedule.periodUs >= 1_000 ? 1_000 : 1
        // Ramp ranks interleave the classes, so classes fill evenly.
        let perClass = plan.ridersPerClass
        // A session with a share of the classes draws what the riders before its first class would have drawn, so
        // every rider gets the same trace and phase whatever the number of threads (`--ramp` takes no share).
        for _ in 0..<(plan.firstClass * perClass) {
            _ = seeds.next()
            if plan.phase != .aligned { _ = phases.unit() }
            _ = seeds.next()
        }
        for r in riders.indices {
            let deviceSeed = seeds.next()
            let phaseUs =
                plan.phase == .aligned
                ? 0 : Int64((phases.unit() * schedule.periodUs / phaseGrainUs).rounded(.down) * phaseGrainUs)
            let rank = riders[r].indexInClass * classes.count + riders[r].classIndex
            var firstIndex: Int64 = 0
            if let ramp = plan.ramp {
                guard let startUs = ramp.startUs(rank: rank, of: riders.count) else { continue }
                // Ramped riders keep their phase within the period in which they start.
                firstIndex = schedule.lastIndex(atOrBefore: startUs)
            }
            riders[r].originUs = sendStartUs + phaseUs
            riders[r].firstIndex = firstIndex
            riders[r].nextIndex = firstIndex
            let firstUs = riders[r].dueUs(index: firstIndex, schedule)
            let firstMs = firstUs / 1_000
            let intoWorkoutMs = Int64(Double(seeds.next() % 240_000))
            var device = DeviceSimulator(
                participantID: ParticipantNumbering.id(riders[r].indexInClass), seed: deviceSeed, workout: workout,
                startMs: firstMs - intoWorkoutMs, configuration: configuration)
            if let trace = plan.trace {
                // Each rider at its own point of the recording, from its seed.
                let shiftMs = Int64(deviceSeed % UInt64(trace.durationMs))
                device.replay = TraceReplay(trace: trace, startMs: firstMs, shiftMs: shiftMs)
            }
            riders[r].device = device
            riders[r].firstSeq = device.nextSeq
            riders[r].sending = true
            queue.push(DueQueue.Event(dueUs: firstUs, kind: .sample, index: r))
        }
        startFirmware(now: now)
        if plan.role == .both {
            streams.reserveCapacity(classes.count * plan.viewingPerClass * perClass)
            for k in classes.indices {
                for connection in classes[k].viewerConnections {
                    let listening = connections[connection].welcomed
                    for r in 0..<perClass {
                        let rider = riders[classes[k].riderBase + r]
                        let owed = listening && rider.sending && owes(connection, rider: classes[k].riderBase + r)
                        streams.append(StreamAccount(expectFrom: owed ? rider.firstSeq : nil))
                    }
                }
            }
        }
    }

    func beginDraining(now: Int64) {
        guard stage == .running else { return }
        stage = .draining
        measureEndUs = min(measureEndUs, now)
        if result.window.start != nil {
            result.window.end = markWindow(now: now)
            result.window.openAtEnd = connections.count(where: \.isOpen)
        }
        for r in riders.indices { riders[r].sending = false }
        // Slow viewers read freely from now on, so what the hub still holds for them arrives or is named in a gap.
        for index in connections.indices where connections[index].readingPaused {
            connections[index].readingPaused = false
            if let id = connections[index].id { client.setReceiving(id, true) }
        }
        // A correct hub has delivered or named every sample within its budget once the viewer reads; slow viewers
        // get three seconds more (a reader that stopped with a full window may wait on TCP's persist timer).
        let budgetUs = Int64(result.budgetMs ?? 800) * 1_000
        let slowUs: Int64 = plan.slowViewerFraction > 0 ? 3_000_000 : 0
        // Devices also wait for their last acks and uploads (an outage may end during the drain).
        let firmwareUs: Int64 = plan.firmware ? 15_000_000 : 0
        drainUntilUs = now + (plan.drainUs ?? max(budgetUs + 700_000 + slowUs, firmwareUs))
    }

    func beginClosing(now: Int64) {
        guard stage != .closing && stage != .done else { return }
        if stage == .connecting { arrive(now: now) }  // the other sessions need not wait for this one
        stage = .closing
        closeUntilUs = now + 1_000_000
        for connection in connections {
            if let id = connection.id { client.close(id, code: 1000, reason: "probe done") }
        }
    }

    func fail(_ reason: String, now: Int64) {
        if result.failure == nil { result.failure = reason }
        beginClosing(now: now)
    }

    /// Whether every open viewer has seen (or been told about) every rider's last written sample.
    func isDrained() -> Bool {
        guard plan.role == .both, !plan.firmware || firmwareDrained else { return false }
        for k in classes.indices {
            for (slot, connection) in classes[k].viewerConnections.enumerated() where connections[connection].isOpen {
                for r in 0..<classes[k].riders where owes(connection, rider: classes[k].riderBase + r) {
                    guard let last = riders[classes[k].riderBase + r].lastWrittenSeq else { continue }
                    guard let newest = streams[classes[k].stream(slot: slot, rider: r)].newestSeq,
                        !RiderState.isAfter(last, newest)
                    else { return false }
                }
            }
        }
        return true
    }

    /// Ends the run: every stream is finished against the last seq its rider published, and the counts go into
    /// the result.
    func finishRun() {
        guard stage != .done else { return }
        stage = .done
        for k in classes.indices {
            for (slot, connection) in classes[k].viewerConnections.enumerated() {
                let slow = connections[connection].slow
                for r in 0..<classes[k].riders {
                    let index = classes[k].stream(slot: slot, rider: r)
                    guard index < streams.count else { continue }
                    let rider = riders[classes[k].riderBase + r]
                    // The last seq the hub surely accepted: what was written on a connection still open, else
                    // the newest any viewer saw (samples written into a dropped socket may never have arrived).
                    let publisherOpen = rider.connection.map { connections[$0].isOpen } ?? false
                    let last = plan.role == .both && publisherOpen ? rider.lastWrittenSeq : rider.lastObservedSeq
                    streams[index].finish(lastSeq: last, measuredFrom: rider.measuredFrom)
                    let stream = streams[index]
                    if slow {
                        result.slowCounts.add(stream.counts)
                    } else {
                        result.counts.add(stream.counts)
                        result.classes[k].counts.add(stream.counts)
                    }
                    if !slow && stream.counts.delivered > 1 {
                        result.streamJitter.record(Int64(stream.jitter.valueUs))
                    }
                    if let seq = stream.firstUnexplained, result.unexplainedExamples.count < 20 {
                        result.unexplainedExamples.append(
                            RunResult.Unexplained(
                                classID: classes[k].id, viewer: slot, participant: ParticipantNumbering.id(r),
                                seq: seq))
                    }
                }
            }
        }
        client.stop()
    }
}
