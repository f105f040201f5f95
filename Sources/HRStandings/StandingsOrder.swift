/// Riders in rank order: points (units) descending, ties by participant id ascending in byte order.
///
/// An order-statistic list of two levels: rider indices sorted in blocks of at most `maxBlock`, each block a small
/// contiguous array. Moving a rider is two binary searches (over the blocks' last riders, then inside a block) and a
/// shift of at most `maxBlock` indices, whatever the class size; rank, the rider at a rank and neighbours add a sum
/// over the block sizes before it (40 to 80 blocks at 20,000 riders). Chosen over a pointer-based balanced tree for
/// locality (a search touches a few contiguous arrays); the costs measured are in bench/RESULTS.md, "Standings".
struct StandingsOrder: Sendable {
    /// A block is split in two when it grows past this, and merged with a neighbour below `minBlock`.
    static let maxBlock = 512
    static let minBlock = 64

    /// Per rider index: the current units, the id's bytes 0..<8 and 8..<16 as big-endian integers (zero padded:
    /// their order is the ids' byte order as far as they reach; ids are never empty and hold no NUL) and the id.
    private(set) var units: [Int64] = []
    private var idHead: [UInt64] = []
    private var idNext: [UInt64] = []
    private(set) var ids: [String] = []
    /// The riders in rank order, cut into blocks; no block is empty.
    private var blocks: [[Int32]] = []

    /// How many riders are ranked.
    var count: Int { ids.count }

    /// Adds a rider with 0 units and returns their index (indices are dense, in order of arrival).
    mutating func add(id: String) -> Int32 {
        let rider = Int32(ids.count)
        ids.append(id)
        units.append(0)
        idHead.append(Self.bigEndian(id.utf8.prefix(8)))
        idNext.append(Self.bigEndian(id.utf8.dropFirst(8).prefix(8)))
        insert(rider)
        return rider
    }

    /// Gives `rider` new units and moves them to their new rank.
    mutating func setUnits(_ newUnits: Int64, of rider: Int32) {
        guard units[Int(rider)] != newUnits else { return }
        let (block, index) = locate(rider)
        units[Int(rider)] = newUnits
        // Still between the same neighbours: no move (the usual case: one second of riding overtakes nobody).
        let entries = blocks[block]
        let previous = index > 0 ? entries[index - 1] : (block > 0 ? blocks[block - 1].last : nil)
        let next =
            index + 1 < entries.count ? entries[index + 1] : (block + 1 < blocks.count ? blocks[block + 1].first : nil)
        if previous.map({ precedes($0, rider) }) ?? true, next.map({ precedes(rider, $0) }) ?? true {
            return
        }
        remove(at: block, index)
        insert(rider)
    }

    /// Whether rider `a` ranks before rider `b`.
    @inline(__always)
    func precedes(_ a: Int32, _ b: Int32) -> Bool {
        let ua = units[Int(a)]
        let ub = units[Int(b)]
        if ua != ub { return ua > ub }
        let ha = idHead[Int(a)]
        let hb = idHead[Int(b)]
        if ha != hb { return ha < hb }
        let na = idNext[Int(a)]
        let nb = idNext[Int(b)]
        if na != nb { return na < nb }
        return ids[Int(a)].utf8.lexicographicallyPrecedes(ids[Int(b)].utf8)
    }

    /// Up to 8 bytes as a big-endian integer, zero padded on the right.
    private static func bigEndian(_ bytes: Substring.UTF8View.SubSequence) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 56
        for byte in bytes {
            value |= UInt64(byte) << shift
            shift &-= 8
        }
        return value
    }

    /// 0-based rank of `rider`.
    func rank(of rider: Int32) -> Int {
        let (block, index) = locate(rider)
        var rank = index
        for earlier in 0..<block {
            rank += blocks[earlier].count
        }
        return rank
    }

    /// Up to `limit` riders from 0-based rank `offset` on, in rank order.
    func riders(from offset: Int, limit: Int) -> [Int32] {
        var result: [Int32] = []
        guard offset < count, limit > 0 else { return result }
        result.reserveCapacity(min(limit, count - offset))
        var skip = offset
        for block in blocks {
            if skip >= block.count {
                skip -= block.count
                continue
            }
            let take = min(block.count - skip, limit - result.count)
            result.append(contentsOf: block[skip..<skip + take])
            skip = 0
            if result.count == limit { break }
        }
        return result
    }

    /// Every rider in rank order.
    func all() -> [Int32] {
        var result: [Int32] = []
        fill(&result)
        return result
    }

    /// Every rider in rank order, into `result` (its storage reused).
    func fill(_ result: inout [Int32]) {
        result.removeAll(keepingCapacity: true)
        result.reserveCapacity(count)
        for block in blocks {
            result.append(contentsOf: block)
        }
    }

    /// The first position whose rider does not rank before `rider` (for a ranked rider: their own position).
    /// Past the end of the last block when `rider` ranks after everyone.
    private func locate(_ rider: Int32) -> (block: Int, index: Int) {
        guard !blocks.isEmpty else { return (0, 0) }
        let block = blocks.partitioningIndex { !precedes($0[$0.count - 1], rider) }
        if block == blocks.count {
            return (block - 1, blocks[block - 1].count)
        }
        return (block, blocks[block].partitioningIndex { !precedes($0, rider) })
    }

    private mutating func insert(_ rider: Int32) {
        guard !blocks.isEmpty else {
            blocks = [[rider]]
            return
        }
        let (block, index) = locate(rider)
        blocks[block].insert(rider, at: index)
        if blocks[block].count > Self.maxBlock {
            split(block)
        }
    }

    private mutating func remove(at block: Int, _ index: Int) {
        blocks[block].remove(at: index)
        if blocks[block].isEmpty {
            blocks.remove(at: block)
        } else if blocks[block].count < Self.minBlock, blocks.count > 1 {
            let left = block + 1 < blocks.count ? block : block - 1
            blocks[left].append(contentsOf: blocks[left + 1])
            blocks.remove(at: left + 1)
            if blocks[left].count > Self.maxBlock {
                split(left)
            }
        }
    }

    private mutating func split(_ block: Int) {
        let middle = blocks[block].count / 2
        let upper = Array(blocks[block][middle...])
        blocks[block].removeSubrange(middle...)
        blocks.insert(upper, at: block + 1)
    }
}
