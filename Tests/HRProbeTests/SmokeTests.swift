import Testing

@testable import HRProbe

@Test func probeModuleLoads() {
    #expect(Bool(true))
}
