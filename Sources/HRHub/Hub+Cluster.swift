import HRCluster
import HRCore
import HRProtocol
import LWSTransport

/// Cluster mode (docs/CLUSTER.md): samples accepted here go out once per class per loop pass, samples and
/// presence of other hubs come in, hubs silent for `ClusterLink.hubTimeoutMs` are forgotten (their riders leave
/// with `timeout`). Everything here runs on the service thread; NATS handlers only post.
extension Hub {
    /// Subscribes to the other hubs' heartbeats and announces this hub. Service thread, at start.
    func startCluster(now: Int64) {
        guard let cluster else { return }
        relay.exportsAccepted = true
        do {
            cluster.hubsSubscription = try cluster.connection.subscribe(ClusterSubjects.allHubs, handler: messageHandler())
        } catch {
            logger.error("cluster: cannot subscribe to \(ClusterSubjects.allHubs): \(error)")
        }
        cluster.wasConnected = cluster.connection.isConnected
        if !cluster.wasConnected {
            logger.warning("cluster unreachable at start: serving this hub's clients, retrying NATS in the background")
        }
        clusterHeartbeat(now: now)
    }

    /// After each event: posts one cluster pass for this loop pass when samples wait or connections changed.
    func scheduleClusterPass() {
        guard let cluster, !cluster.passScheduled,
            relay.hasAccepted || relay.connectionCount != cluster.connectionsAtLastPass
        else { return }
        cluster.passScheduled = true
        server.post { [weak self] in self?.clusterPass() }
    }

    /// Publishes what devices here had accepted (one message per class, encoded once) and follows interest:
    /// subscribes to the classes this hub now has connections in, and drops the others.
    func clusterPass() {
        guard let cluster else { return }
        cluster.passScheduled = false
        let now = HubClock.nowMs()
        for (classID, samples) in relay.takeAccepted() {
            var start = 0
            while start < samples.count {
                let end = min(samples.count, start + SampleBatch.maxSamples)
                let batch = SampleBatch(origin: cluster.hubID, classID: classID, samples: Array(samples[start..<end]))
                if cluster.connection.publish(ClusterSubjects.samples(classID: classID), batch.encoded()) {
                    cluster.published += 1
                }
                start = end
            }
        }
        guard relay.connectionCount != cluster.connectionsAtLastPass else { return }
        cluster.connectionsAtLastPass = relay.connectionCount
        followInterest(cluster, now: now)
        announce(cluster)
    }

    private func followInterest(_ cluster: ClusterLink, now: Int64) {
        let wanted = relay.classesInUse
        for (classID, subscription) in cluster.classSubscriptions where !wanted.contains(classID) {
            subscription.cancel()
            cluster.classSubscriptions[classID] = nil
        }
        for (classID, subscription) in cluster.recordSubscriptions where !wanted.contains(classID) {
            subscription.cancel()
            cluster.recordSubscriptions[classID] = nil
        }
        var newRecordSubscriptions: [String] = []
        if record?.store is JetStreamRecordStore {
            for classID in wanted where cluster.recordSubscriptions[classID] == nil {
                do {
                    cluster.recordSubscriptions[classID] = try cluster.connection.subscribe(
                        RecordSubjects.classSamples(classID), handler: recordHandler(cluster))
                    newRecordSubscriptions.append(classID)
                } catch {
                    logger.error("cluster: cannot subscribe to the record of class \(classID): \(error)")
                }
            }
        }
        var added = !newRecordSubscriptions.isEmpty
        for classID in wanted where cluster.classSubscriptions[classID] == nil {
            do {
                cluster.classSubscriptions[classID] = try cluster.connection.subscribe(
                    ClusterSubjects.samples(classID: classID), handler: messageHandler())
                added = true
            } catch {
                logger.error("cluster: cannot subscribe to class \(classID): \(error)")
            }
        }
        guard added else { return }
        // The subscriptions are registered at the server before this pass ends, so a client's next message (a
        // ping) proves they are: one round trip to NATS, only when interest grew, bounded.
        cluster.connection.flush(timeoutMs: ClusterLink.subscribeFlushMs)
        // Whatever was stored between the room's first read of the record and the subscription: read it again (the
        // standings count each sample once).
        for classID in newRecordSubscriptions { relay.catchUpStandings(classID: classID, now: now) }
        // A class new here sees the riders the other hubs announced last (not only from their next heartbeat).
        for (hub, announcement) in cluster.announcements {
            relay.applyPresence(of: hub, announcement.classes, now: now)
        }
    }

    private func announce(_ cluster: ClusterLink) {
        let leaving = cluster.leaving
        let announcement = Announcement(
            hub: cluster.hubID, leaving: leaving, classes: leaving ? [:] : relay.localPresence(),
            viewers: leaving ? [:] : relay.localViewers())
        if cluster.connection.publish(ClusterSubjects.hub(cluster.hubID), announcement.encoded()) {
            cluster.published += 1
        }
    }

    /// What a subscription does with a message, on a libnats thread: hands it to the service thread.
    private func messageHandler() -> @Sendable (String, [UInt8]) -> Void {
        let server = self.server
        return { [weak self] subject, payload in
            guard let hub = self else { return }
            server.post { hub.clusterReceived(subject: subject, payload) }
        }
    }

    /// What a record subscription does with a message, on a libnats thread: decodes it and hands the samples to the
    /// service thread, one posted job per burst.
    private func recordHandler(_ cluster: ClusterLink) -> @Sendable (String, [UInt8]) -> Void {
        let server = self.server
        let inbox = cluster.recorded
        return { [weak self] subject, payload in
            guard let ids = RecordSubjects.parse(subject),
                let sample = try? RecordMessage.decode(payload, classID: ids.classID, participant: ids.participant)
            else {
                inbox.malformed.add(1, ordering: .relaxed)
                return
            }
            guard inbox.add(sample), let hub = self else { return }
            server.post { hub.clusterRecorded() }
        }
    }

    /// Samples the shared record stored (any hub's): into the standings. Service thread.
    func clusterRecorded() {
        guard let cluster else { return }
        let samples = cluster.recorded.take()
        let now = HubClock.nowMs()
        relay.recordedInCluster(samples, now: now)
    }

    /// A message from NATS, on the service thread.
    func clusterReceived(subject: String, _ payload: [UInt8]) {
        guard let cluster else { return }
        let now = HubClock.nowMs()
        cluster.received += 1
        do throws(ClusterWireError) {
            if subject.hasPrefix("hrhub.v1.hub.") {
                let announcement = try Announcement.decode(payload)
                guard announcement.hub != cluster.hubID else { return }
                if announcement.leaving {
                    cluster.announcements[announcement.hub] = nil
                    cluster.lastHeardMs[announcement.hub] = nil
                    relay.forgetHub(announcement.hub, reason: .closed, now: now)
                } else {
                    cluster.announcements[announcement.hub] = announcement
                    cluster.lastHeardMs[announcement.hub] = now
                    relay.applyPresence(of: announcement.hub, announcement.classes, now: now)
                }
            } else {
                let batch = try SampleBatch.decode(payload)
                guard batch.origin != cluster.hubID else { return }
                cluster.lastHeardMs[batch.origin] = now
                relay.receiveRemote(batch.samples, classID: batch.classID, fromHub: batch.origin, now: now)
            }
        } catch {
            cluster.malformed += 1
            logger.warning("cluster: dropped a malformed message on \(subject): \(error)")
        }
    }

    /// From the timer: announces this hub every `heartbeatMs`, forgets hubs silent for `hubTimeoutMs`, and logs
    /// when NATS becomes unreachable or reachable again (then re-announces at once).
    func clusterHeartbeat(now: Int64) {
        guard let cluster, now >= cluster.nextHeartbeatMs else { return }
        cluster.nextHeartbeatMs = now + ClusterLink.heartbeatMs
        let connected = cluster.connection.isConnected
        if connected != cluster.wasConnected {
            cluster.wasConnected = connected
            if connected {
                logger.notice("cluster reachable again: exchanging presence")
            } else {
                logger.error("cluster unreachable: serving this hub's clients only, retrying NATS")
            }
        }
        for (hub, heard) in cluster.lastHeardMs where now - heard >= ClusterLink.hubTimeoutMs {
            logger.notice("cluster: hub \(hub) silent for \(now - heard) ms, its riders leave")
            cluster.lastHeardMs[hub] = nil
            cluster.announcements[hub] = nil
            relay.forgetHub(hub, reason: .timeout, now: now)
        }
        announce(cluster)
    }

    /// Drain: tells the other hubs this hub's riders leave now (and every announcement after says so too).
    func leaveCluster() {
        guard let cluster else { return }
        cluster.leaving = true
        announce(cluster)
    }

    /// `/v1/classes` and `/v1/classes/live` across the cluster: classes here (their participants already count
    /// riders other hubs announce) and classes only other hubs have; viewers summed over every hub heard from.
    func classSummaries() -> [WebRoutes.ClassSummary] {
        var summaries: [String: WebRoutes.ClassSummary] = [:]
        for local in relay.classSummaries() {
            summaries[local.id] = WebRoutes.ClassSummary(
                id: local.id, connections: local.connections, participants: local.participants, viewers: local.viewers)
        }
        guard let cluster else { return summaries.values.sorted { $0.id < $1.id } }
        let here = Set(summaries.keys)
        var remoteRiders: [String: Set<String>] = [:]
        var remoteViewers: [String: Int] = [:]
        for announcement in cluster.announcements.values {
            for (classID, riders) in announcement.classes where !here.contains(classID) {
                remoteRiders[classID, default: []].formUnion(riders.map(\.id))
            }
            for (classID, watching) in announcement.viewers { remoteViewers[classID, default: 0] += watching }
        }
        for classID in Set(remoteRiders.keys).union(remoteViewers.keys) {
            var summary = summaries[classID]
                ?? WebRoutes.ClassSummary(
                    id: classID, connections: 0, participants: remoteRiders[classID]?.count ?? 0, viewers: 0)
            summary.viewers += remoteViewers[classID] ?? 0
            summaries[classID] = summary
        }
        return summaries.values.sorted { $0.id < $1.id }
    }

    /// `/healthz` in cluster mode while NATS, or the record stream in it, is unreachable (the hub serves its own
    /// clients and spools what it records).
    var clusterHealth: HTTPResponse? {
        guard let cluster else { return nil }
        if !cluster.connection.isConnected { return .text(200, "degraded: cluster unreachable") }
        if let shared = record?.store as? JetStreamRecordStore, !shared.isStreamReachable {
            return .text(200, "degraded: record stream unreachable, recording into the local spool")
        }
        return nil
    }
}
