import HRCore
import HRProtocol
import HRSimulation

/// The class `demo`: simulated riders that live inside the hub and publish through the relay exactly as
/// real devices do (same dedupe, jitter buffer and fan-out), so a newcomer sees the hub work at once.
final class DemoClass {
    static let classID = "demo"

    private var devices: [DeviceSimulator]
    private let ids: [ClientID]

    init(riders: Int, seed: UInt64, startMs: Int64) {
        devices = DeviceSimulator.group(
            count: riders, seed: seed, workout: .short(durationMs: 300_000, repeats: true), startMs: startMs)
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
            for sample in devices[index].samples(through: now) {
                relay.receive(ids[index], .hr(sample), now: now)
            }
        }
    }
}
