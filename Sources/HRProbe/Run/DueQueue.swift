/// A min-heap of timed events: what the probe must do next, and when (µs).
///
/// Open-loop sending keeps one pending event per publisher (its next sample), so the heap holds about as many
/// entries as there are publishers; pushing and popping are O(log n) and allocate nothing once grown.
struct DueQueue {
    /// What an event does.
    enum Kind: UInt8 {
        /// Publisher `index` takes and sends its next sample.
        case sample
        /// Connection `index` opens again after a backoff.
        case reconnect
        /// Slow viewer `index` pauses or resumes reading.
        case slowToggle
    }

    /// One event.
    struct Event: Equatable {
        var dueUs: Int64
        var kind: Kind
        var index: Int
    }

    private var heap: [Event] = []

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    /// The earliest event, without removing it.
    var first: Event? { heap.first }

    mutating func push(_ event: Event) {
        heap.append(event)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].dueUs < heap[parent].dueUs else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest event when it is due at or before `nowUs`.
    mutating func popDue(nowUs: Int64) -> Event? {
        guard let top = heap.first, top.dueUs <= nowUs else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count && heap[left].dueUs < heap[smallest].dueUs { smallest = left }
                if right < heap.count && heap[right].dueUs < heap[smallest].dueUs { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
