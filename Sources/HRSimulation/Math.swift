#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few C math functions the simulation needs, gathered so that no other file imports the C library.
enum Math {
    /// e raised to the power `x`.
    static func exp(_ x: Double) -> Double { cExp(x) }
    /// The natural logarithm of `x`.
    static func log(_ x: Double) -> Double { cLog(x) }
    /// The cosine of `x` (radians).
    static func cos(_ x: Double) -> Double { cCos(x) }
    /// The sine of `x` (radians).
    static func sin(_ x: Double) -> Double { cSin(x) }
}

// File-level wrappers, so the names inside `Math` do not shadow the C functions they call.
private func cExp(_ x: Double) -> Double { exp(x) }
private func cLog(_ x: Double) -> Double { log(x) }
private func cCos(_ x: Double) -> Double { cos(x) }
private func cSin(_ x: Double) -> Double { sin(x) }
