/// Stops with `message` if `condition` is false: the one check for
/// programmer errors (shape mismatches and the like) in every module.
/// Unlike `precondition`, it stays in -Ounchecked builds (Kernels is built
/// so) and prints its message in optimised builds too. User input is
/// validated before it gets here and reported as a thrown error instead.
@inlinable
public func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                    file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}
