import HRProbeCore
import HRSimulation

/// The scenarios: the reconnect storm, slow viewers, and the progress line.
extension LoadSession {
    /// Runs what is due in the scenarios.
    func runScenarios(now: Int64) {
        if let storm = plan.storm, !stormDone, now >= measureStartUs + storm.atUs {
            stormDone = true
            dropPublishers(fraction: storm.fraction)
        }
    }

    /// Drops that share of the open publishing connections at once, without a close handshake.
    private func dropPublishers(fraction: Double) {
        var candidates = connections.indices.filter { connections[$0].kind.publishes && connections[$0].isOpen }
        var picker = SplitMix64(seed: plan.seed, stream: 0x5354_4F52)  // "STOR"
        let count = Int((Double(candidates.count) * fraction).rounded())
        for i in 0..<min(count, candidates.count) {
            let j = i + Int(picker.next() % UInt64(candidates.count - i))
            candidates.swapAt(i, j)
            let index = candidates[i]
            guard let id = connections[index].id else { continue }
            connections[index].dropping = true
            client.abort(id)
        }
        logger.info("reconnect storm", metadata: ["dropped": "\(count)"])
    }

    /// A slow viewer alternates: reading paused for about two seconds, then reading for a fifth of a second.
    func toggleSlowReading(_ index: Int, now: Int64) {
        guard stage == .running, let id = connections[index].id, connections[index].isOpen else { return }
        let paused = !connections[index].readingPaused
        connections[index].readingPaused = paused
        client.setReceiving(id, !paused)
        let span = paused ? Self.slowPauseUs + Int64(rng.unit() * 500_000) : Self.slowReadUs
        queue.push(DueQueue.Event(dueUs: now + span, kind: .slowToggle, index: index))
    }

    /// Updates the progress line (once a second).
    func reportProgress(now: Int64) {
        defer {
            recentLag.reset()
            sentSinceProgress = 0
            receivedSinceProgress = 0
        }
        guard let progress else { return }
        let usage = ProcessResources.usage()
        let cpuUs = usage.userUs + usage.systemUs - startUsage.userUs - startUsage.systemUs
        let elapsed = max(1, now - startedUs)
        var phase = stage.rawValue
        if stage == .running {
            phase = now < measureStartUs ? "warm-up" : "measuring"
        }
        let total = plan.warmupUs + plan.durationUs
        let intoRun = stage == .connecting ? 0 : max(0, now - sendStartUs)
        var counts = StreamCounts()
        for stream in streams { counts.add(stream.counts) }
        progress.update(
            ProgressLine.Snapshot(
                phase: phase, elapsedUs: intoRun, totalUs: total,
                open: connections.count(where: \.isOpen), connections: connections.count,
                sentPerSecond: sentSinceProgress, receivedPerSecond: receivedSinceProgress,
                p99Us: recentLag.count > 0 ? recentLag.valueUs(at: 99) : nil,
                lost: counts.lost, unexplained: counts.unexplained,
                errors: result.hubErrors.values.reduce(0, +) + result.connectFailures
                    + result.unexpectedCloses.values.reduce(0, +),
                cpuPercent: Double(cpuUs) / Double(elapsed) * 100))
    }
}
