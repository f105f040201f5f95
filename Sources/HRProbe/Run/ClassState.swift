/// One class of the run, as the session tracks it.
struct ClassState {
    let id: String
    /// Global index of its first rider; its riders are `riderBase ..< riderBase + riders`.
    let riderBase: Int
    let riders: Int
    /// Index of its first stream; stream (slot, rider) is `streamBase + slot * riders + rider`.
    let streamBase: Int
    /// Connection index of each viewing slot.
    var viewerConnections: [Int] = []
    /// Normal (not slow) viewing connections open now: how many deliveries complete a sample's fan-out.
    var openNormalViewers = 0

    /// The stream index of (viewing slot, rider in class).
    func stream(slot: Int, rider: Int) -> Int { streamBase + slot * riders + rider }
}
