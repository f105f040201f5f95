import Testing

@testable import HRSimulation

@Suite struct WorkoutTests {
    @Test func standardClassIsFortyFiveMinutesOfIntervals() {
        let plan = Workout.standard
        #expect(plan.durationMs == 45 * 60_000)
        #expect(!plan.repeats)
        #expect(plan.segments.first?.kind == .warmUp)
        #expect(plan.segments.last?.kind == .coolDown)
        let work = plan.segments.filter { $0.kind == .work }
        let recovery = plan.segments.filter { $0.kind == .recovery }
        #expect(work.count >= 4)
        #expect(recovery.count >= work.count - 1)
        #expect(work.allSatisfy { $0.startIntensity > 0.75 })
        #expect(recovery.allSatisfy { $0.startIntensity < 0.6 })
    }

    @Test func intensityFollowsTheSegments() {
        let plan = Workout.standard
        for (index, segment) in plan.segments.enumerated() {
            let start = plan.startMs(ofSegment: index)
            #expect(plan.segmentIndex(at: start) == index)
            #expect(plan.segmentIndex(at: start + segment.durationMs - 1) == index)
            let middle = plan.intensity(at: start + segment.durationMs / 2)
            #expect(abs(middle - (segment.startIntensity + segment.endIntensity) / 2) < 1e-9)
        }
        for time in stride(from: Int64(-60_000), through: 50 * 60_000, by: 7_000) {
            let intensity = plan.intensity(at: time)
            #expect(intensity >= 0 && intensity <= 1)
        }
    }

    @Test func aPlanThatDoesNotRepeatHoldsItsEnds() {
        let plan = Workout.standard
        #expect(plan.intensity(at: -5_000) == plan.segments[0].startIntensity)
        #expect(plan.intensity(at: plan.durationMs + 3_600_000) == plan.segments.last?.endIntensity)
        #expect(plan.segmentIndex(at: plan.durationMs * 2) == plan.segments.count - 1)
    }

    @Test func shortPlanLoops() {
        let plan = Workout.short(durationMs: 180_000)
        #expect(plan.durationMs == 180_000)
        #expect(plan.repeats)
        #expect(plan.segments.filter { $0.kind == .work }.count == 2)
        #expect(plan.segments.first?.kind == .warmUp && plan.segments.last?.kind == .coolDown)
        #expect(Workout.short().durationMs == 240_000)
        for time in stride(from: Int64(0), to: 180_000, by: 1_000) {
            #expect(plan.intensity(at: time) == plan.intensity(at: time + 3 * 180_000))
        }
        // The loop closes without a jump: the cool-down ends where the warm-up starts.
        #expect(abs(plan.intensity(at: 179_999) - plan.intensity(at: 180_000)) < 0.01)
    }

    @Test func customIntervals() {
        let plan = Workout.intervals(
            warmUpMs: 60_000, workIntensities: [0.8, 0.9], workMs: 30_000, recoveryMs: 20_000, coolDownMs: 40_000)
        #expect(plan.segments.map(\.kind) == [.warmUp, .work, .recovery, .work, .coolDown])
        #expect(plan.durationMs == 180_000)
        #expect(plan.intensity(at: 60_000) == 0.8)
        #expect(plan.intensity(at: 115_000) == 0.9)
    }

    @Test func intensitiesAreClamped() {
        let segment = Workout.Segment(kind: .work, durationMs: 1_000, startIntensity: -1, endIntensity: 3)
        #expect(segment.startIntensity == 0)
        #expect(segment.endIntensity == 1)
    }
}
