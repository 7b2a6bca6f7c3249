/// A request that cannot be carried out as asked (a flag's value, or flags
/// that conflict), found by library code on a command's behalf: the command
/// line reports it as it reports its own usage errors (exit status 2).
public struct UsageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
