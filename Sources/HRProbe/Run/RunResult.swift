import HRProbeCore

/// What a run measured: the raw material of the table, the JSON report, the hgrm and the plot.
struct RunResult {
    /// One class's share.
    struct ClassResult {
        var id: String
        var counts = StreamCounts()
        var lag = LagDistribution(digits: .two)
    }

    /// A sample lost without a gap, for the report.
    struct Unexplained: Equatable {
        var classID: String
        var viewer: Int
        var participant: String
        var seq: UInt32
    }

    /// End-to-end lag, corrected for coordinated omission: delivery − intended send time (normal viewers).
    var lag = LagDistribution()
    /// Delivery − the moment the probe actually wrote the sample (what a closed-loop tool would report).
    var uncorrected = LagDistribution()
    /// The probe's own send lag: actual write − intended send time.
    var send = LagDistribution()
    /// Per sample, its slowest normal viewer's lag: when the whole class had it.
    var fanOut = LagDistribution()
    /// Write → the hub's `rts` (network and the hub's read; `rts` has 1 ms resolution).
    var ingress = LagDistribution()
    /// The hub's `rts` → delivery (jitter buffer, queue, write, network).
    var egress = LagDistribution()
    /// End-to-end lag seen by the slow viewers (`--slow-viewers`), kept apart.
    var slowLag = LagDistribution()
    /// Each stream's final RFC 3550 jitter, µs (one value per stream).
    var streamJitter = LagDistribution()
    /// With `--device-model firmware`: a sample's write → the `ack` covering it.
    var ack = LagDistribution()
    /// A sample's write → the first `board` on a screen that counts it (`BoardStaleness`), every screen, measured
    /// window.
    var boardStaleness = LagDistribution()
    /// A participant's own sample's write → the first `board` on its own connection after the sample's ack (exact).
    var ownBoardStaleness = LagDistribution()
    /// `board` messages that arrived in the measured window, their bytes, and the connections they arrived on.
    var boardsReceived = 0
    var boardBytes = 0
    var boardScreens = Set<Int>()
    /// With `--device-model firmware`: per rider, captured against recorded and delivered (nil without it), and
    /// why the record could not be read.
    var ledgers: [RiderLedger]?
    var recordFailure: String?
    /// With `--device-model firmware`: uploads answered 200, and failed uploads by why (`HTTP 503`, an error).
    var uploads = 0
    /// Silent links the devices dropped (nothing heard while a written sample waited for its ack).
    var deadLinks = 0
    var uploadFailures: [String: Int] = [:]

    /// Accounting of the normal viewers' streams, and of the slow viewers' streams.
    var counts = StreamCounts()
    var slowCounts = StreamCounts()
    var classes: [ClassResult] = []
    var unexplainedExamples: [Unexplained] = []

    /// Samples written in the measured window, samples resent after a reconnect (whole run).
    var samplesSent = 0
    var samplesResent = 0
    /// Relayed samples received (whole run, every viewer).
    var samplesReceived = 0
    /// Samples of riders the probe does not know (another probe's, a demo class's).
    var foreignSamples = 0
    /// Hub frames the probe could not read.
    var malformedFrames = 0
    /// `error` messages from the hub, by code.
    var hubErrors: [String: Int] = [:]
    /// Connections that ended while the run needed them, by close code (`none` without a code).
    var unexpectedCloses: [String: Int] = [:]
    var connectFailures = 0
    var firstConnectError: String?
    var reconnects = 0
    /// Connections open when sending began, and the most open at once.
    var openAtStart = 0
    var peakOpen = 0
    /// From the first connect call to the start of sending (every connection welcomed, or the connect timeout), µs.
    var connectUs: Int64 = 0

    /// The hub's clock against ours.
    var clock = HubClockEstimator()
    /// CPU the probe used over the run and its peak memory, and the run's wall time.
    var cpu = ProcessResources.Usage(userUs: 0, systemUs: 0, maxRSSKiB: 0)
    var wallUs: Int64 = 0
    /// The measured window as the machine saw it: deliveries that arrived in it, the probe's CPU and, with
    /// `--server-pid`, the relay's CPU and memory at its start and end (and its memory before the first connection).
    var window = Window()
    /// The class budget the hub announced in `welcome`, ms.
    var budgetMs: Int?
    /// Why the run could not be measured (exit status 2), or nil.
    var failure: String?
    /// Stopped early by SIGINT/SIGTERM.
    var interrupted = false
    /// The drain ended at its time limit with some viewers still owed samples (see `pendingAtEnd`).
    var drainTimedOut = false

    /// Share of owed samples lost (conflation excluded), normal and slow viewers together.
    var lossFraction: Double {
        var all = counts
        all.add(slowCounts)
        return all.expected == 0 ? 0 : Double(all.lost) / Double(all.expected)
    }

    /// Unexplained losses, normal and slow viewers together.
    var unexplained: Int { counts.unexplained + slowCounts.unexplained }

    /// Marks at the start and the end of the measured window.
    struct Window {
        struct Mark {
            var us: Int64
            var received: Int
            var probe: ProcessResources.Usage
            var server: ProcessResources.ProcessSample?
        }

        var start: Mark?
        var end: Mark?
        /// The relay's memory before the probe opened anything.
        var serverBefore: ProcessResources.ProcessSample?
        /// Connections open at the end of the window.
        var openAtEnd = 0
    }
}

extension RunResult {
    /// Adds what another session of the same run measured (`--threads`: each session runs a share of the classes,
    /// `RunPlan.shares`, in this order): distributions bucket by bucket, counts summed, classes appended.
    ///
    /// The run's shared facts stay this session's (the first's): the measured window's times and the CPU and memory
    /// read at its marks (the process's and the relay's, the same whoever reads them), and the clock estimate; the
    /// deliveries counted at the marks are summed. `connectionOffset` is how many connections the sessions before
    /// `other` had (the screens that got boards are counted by connection). The caller sets `cpu` for the process.
    mutating func merge(_ other: RunResult, connectionOffset: Int) {
        lag.add(other.lag)
        uncorrected.add(other.uncorrected)
        send.add(other.send)
        fanOut.add(other.fanOut)
        ingress.add(other.ingress)
        egress.add(other.egress)
        slowLag.add(other.slowLag)
        streamJitter.add(other.streamJitter)
        ack.add(other.ack)
        boardStaleness.add(other.boardStaleness)
        ownBoardStaleness.add(other.ownBoardStaleness)
        boardsReceived += other.boardsReceived
        boardBytes += other.boardBytes
        boardScreens.formUnion(other.boardScreens.map { $0 + connectionOffset })
        if let theirs = other.ledgers { ledgers = (ledgers ?? []) + theirs }
        recordFailure = recordFailure ?? other.recordFailure
        uploads += other.uploads
        deadLinks += other.deadLinks
        uploadFailures.merge(other.uploadFailures, uniquingKeysWith: +)
        counts.add(other.counts)
        slowCounts.add(other.slowCounts)
        classes += other.classes
        unexplainedExamples = Array((unexplainedExamples + other.unexplainedExamples).prefix(20))
        samplesSent += other.samplesSent
        samplesResent += other.samplesResent
        samplesReceived += other.samplesReceived
        foreignSamples += other.foreignSamples
        malformedFrames += other.malformedFrames
        hubErrors.merge(other.hubErrors, uniquingKeysWith: +)
        unexpectedCloses.merge(other.unexpectedCloses, uniquingKeysWith: +)
        connectFailures += other.connectFailures
        firstConnectError = firstConnectError ?? other.firstConnectError
        reconnects += other.reconnects
        openAtStart += other.openAtStart
        peakOpen += other.peakOpen
        connectUs = max(connectUs, other.connectUs)
        if clock.offsetUs == nil { clock = other.clock }
        wallUs = max(wallUs, other.wallUs)
        window.merge(other.window)
        budgetMs = budgetMs ?? other.budgetMs
        failure = failure ?? other.failure
        interrupted = interrupted || other.interrupted
        drainTimedOut = drainTimedOut || other.drainTimedOut
    }
}

extension RunResult.Window {
    /// Another session's window of the same run: its deliveries at the marks and its open connections added.
    mutating func merge(_ other: RunResult.Window) {
        func merged(_ mine: Mark?, _ theirs: Mark?) -> Mark? {
            guard var mark = mine else { return theirs }
            mark.received += theirs?.received ?? 0
            return mark
        }
        start = merged(start, other.start)
        end = merged(end, other.end)
        serverBefore = serverBefore ?? other.serverBefore
        openAtEnd += other.openAtEnd
    }
}
