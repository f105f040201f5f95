import HRCore
import HRProtocol
import HRSimulation

/// The class `demo`: simulated riders that live inside the hub and publish through the relay exactly as
/// real devices do (same dedupe, jitter buffer and fan-out), so a newcomer sees the hub work at once.
final class DemoClass {
    static let classID = "demo"

    private var devices: [DeviceSimulator]
    private let ids: [ClientID]

    /// How far into the workout the class is when the hub starts: past the warm-up, so a newcomer who opens
    /// the screen sees riders spread over the zones at once instead of a minute of grey.
    static let headStartMs: Int64 = 150_000

    /// `riders` riders of the seeded class, starting at its rider `first` (hubs of a cluster each run a share).
    init(riders: Int, first: Int = 0, seed: UInt64, startMs: Int64) {
        devices = Array(
            DeviceSimulator.group(
                count: first + riders, seed: seed, workout: .short(durationMs: 300_000, repeats: true),
                startMs: startMs - Self.headStartMs
            ).dropFirst(first))
        // Run the head start silently: those samples were "before the hub", nobody should see them late.
        for index in devices.indices { _ = devices[index].samples(through: startMs) }
        // Virtual connection ids live far above the transport's, which count up from 1.
        ids = (0..<riders).map { ClientID((1 << 62) + UInt64($0)) }
    }

    /// Connects every rider and says hello.
    func start(in relay: Relay, now: Int64) {
        for (index, device) in devices.enumerated() {
            let request = ConnectRequest(classID: Self.classID, role: .publisher, participant: device.participantID)
            relay.open(ids[index], request: request, format: .json, now: now, isVirtual: true)
            relay.receive(ids[index], .hello(device.profile), now: now)
        }
    }

    /// Publishes every sample that came due since the last call.
    func advance(in relay: Relay, now: Int64) {
        for index in devices.indices {
            for var sample in devices[index].samples(through: now) {
                // Captured as it is published: inside the hub there is no network, so the relay's jitter
                // buffer should see none (the housekeeping tick would otherwise look like 100 ms of jitter).
                sample.ts = now
                relay.receive(ids[index], .hr(sample), now: now)
            }
        }
    }
}
