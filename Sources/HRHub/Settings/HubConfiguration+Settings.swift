import Logging

extension HubConfiguration {
    /// Every hub setting, in the order `--help` and docs/OPERATIONS.md list them. One entry per setting; its
    /// default is the initial value of its field. To add one: a field in `HubConfiguration` (its name is the
    /// setting's name in camel case), an entry here, then `hrhub settings --markdown` into docs/OPERATIONS.md.
    /// A `choice` takes any `String` enum that is `CaseIterable`, so `--sync normal|full` is an enum and an entry.
    static let settings: [Setting] = [
        .text("host", \.host, unit: "address", "address to listen on"),
        .integer("port", \.port, 0...65535, "TCP port; 0 picks a free one"),
        .presence(
            "reuse-port", \.reusePort,
            "share the port with other hub processes (SO_REUSEPORT; the kernel spreads connections over them); "
                + "join them with --nats so every class is whole on each (scripts/multi-hub)"),
        .text(
            "tls-cert", \.tlsCert, unit: "file",
            "PEM certificate; with `tls-key` the port speaks only TLS (wss://, https://)"),
        .text("tls-key", \.tlsKey, unit: "file", "PEM private key of `tls-cert`"),
        .text(
            "jwt-secret", \.jwtSecret, unit: "secret",
            "HMAC-SHA256 secret for access tokens (the environment is the usual way to pass it); none: an open hub"),
        .list(
            "allowed-origins", \.allowedOrigins, none: "any",
            "browser `Origin`s allowed to upgrade; others get HTTP 403. Clients that send no `Origin` (devices, "
                + "servers) are not affected"),
        .integer(
            "max-message-bytes", \.maxMessageBytes, 64...1_048_576, unit: "bytes", deprecated: ["max-frame-bytes"],
            "largest client message, all its frames together; a larger one closes the connection with 1009"),
        .integer(
            "max-connections", \.maxConnections, 1...Int.max,
            "open WebSocket connections in total; more are closed with 4029"),
        .integer(
            "max-connections-per-address", \.maxConnectionsPerAddress, 1...Int.max,
            "open connections per remote address (a gym behind one NAT address is still far below); more: 4029"),
        .integer(
            "max-classes", \.maxClasses, 1...Int.max,
            "classes at once; a connection that would create one more is closed with 4029"),
        .integer(
            "max-participants-per-class", \.maxParticipantsPerClass, 1...Int.max,
            "participants a class remembers (a live-streamed class can have thousands); a new one beyond: 4029"),
        .integer(
            "max-errors", \.maxErrors, 1...Int.max,
            "rejected messages one connection may cause (duplicates excepted) before it is closed with 4029"),
        .number(
            "max-sample-rate", \.maxSampleRate, 0.001...100_000, unit: "/s",
            "samples per second per participant; the token bucket holds 60 s worth"),
        .integer(
            "handshake-timeout-ms", \.handshakeTimeoutMs, 1...Int.max, unit: "ms",
            "time for the HTTP request and upgrade (whole seconds, rounded up)"),
        .integer(
            "idle-timeout-ms", \.idleTimeoutMs, 1...Int.max, unit: "ms",
            "a connection silent this long gets a WebSocket ping; silent half as long again, it is dropped"),
        .integer(
            "budget-ms", \.budgetMs, 1...3_600_000, unit: "ms",
            "latency budget per class: older samples are named in a `late` gap, not sent"),
        .toggle("jitter", \.jitter, "per-participant jitter buffer (off: release on arrival)"),
        .integer(
            "tick-ms", \.tickMs, 0...10_000, unit: "ms",
            "the class tick: each class sends what is due on this grid of the hub clock, one frame per viewer "
                + "per tick; adds at most one tick to the lag (0: every sample when due)"),
        .number(
            "max-frame-rate", \.maxFrameRate, 0...100_000, unit: "/s",
            "deprecated (the class tick replaced it): a rate R > 0 sets `tick-ms` to 1000/R unless that is set"),
        .integer("queue-max-messages", \.queueMaxMessages, 1...Int.max, "per-client backlog bound (beyond the newest tick) before drop-oldest"),
        .integer(
            "queue-max-bytes", \.queueMaxBytes, 256...Int.max, unit: "bytes",
            "per-client queue bound in bytes before drop-oldest"),
        .integer(
            "slow-consumer-ms", \.slowConsumerMs, 1...Int.max, unit: "ms",
            "a client whose queue stays full this long is closed with 4008"),
        .integer("stale-after-ms", \.staleAfterMs, 1...Int.max, unit: "ms", "silence before a rider is marked `stale`"),
        .integer(
            "class-linger-ms", \.classLingerMs, 1...Int.max, unit: "ms",
            "an empty class (and every participant's `last_seq`) is forgotten after this long"),
        .integer(
            "drain-timeout-ms", \.drainTimeoutMs, 1...Int.max, unit: "ms", deprecated: ["drain-timeout"],
            "longest graceful drain on SIGTERM/SIGINT; then the hub exits whatever is left"),
        .toggle(
            "record", \.record,
            "keep the class record (acks, durable dedupe, uploads, `GET …/record`); off: no ack, nothing kept"),
        .text(
            "data-dir", \.dataDir, unit: "directory",
            "where the record's file `record.sqlite3` lives (created if missing); with --nats, the spool in `spool/`"),
        .choice(
            "sync", \.sync,
            "`normal`: committed samples survive a crash of the hub; `full`: also a power cut (an fsync per commit)"),
        .integer(
            "retention-days", \.retentionDays, 1...36_500, unit: "days",
            "classes whose newest sample is older than this are deleted from the record (checked hourly); with --nats, "
                + "the record stream keeps each sample this long"),
        .integer(
            "board-interval-ms", \.boardIntervalMs, 1...3_600_000, unit: "ms",
            "a viewing connection gets at most one `board` (leaderboard) message per this long"),
        .zonePoints(
            "zone-points", \.zonePoints,
            "points a minute in zones 1 to 5 earns on the leaderboard: five whole numbers 0…1000, comma-separated"),
        .choice("log-level", \.logLevel, "least severe log message written to stderr"),
        .presence("demo", \.demo, "run the simulated class `demo` (riders with realistic heart-rate curves)"),
        .integer("demo-riders", \.demoRiders, 1...100, "riders in the demo class"),
        .integer(
            "demo-first", \.demoFirst, 0...100,
            "the demo class's first rider this hub runs (hubs of a cluster each run a share: scripts/cluster-demo)"),
        .list(
            "nats", \.nats, none: "no cluster",
            "NATS servers (`nats://HOST:PORT`) of a cluster of hubs: classes are shared with every hub on them"),
        .text("hub-id", \.hubId, unit: "id", "this hub's name in the cluster (default: host name and pid)"),
        .integer(
            "nats-replicas", \.natsReplicas, 1...5,
            "replicas of the cluster's record stream in JetStream (3 on a 3-node NATS cluster); with --nats"),
    ]
}
