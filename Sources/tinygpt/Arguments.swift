import Foundation

/// A user-facing error: printed as one line on stderr, then a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// A small command-line parser: `--name value`, `--name=value`, flags and
/// repeatable options. Every argument must be consumed; `finish()` rejects
/// whatever is left, naming it.
struct Arguments {
    private(set) var remaining: [String]

    init(_ args: [String]) { remaining = args }

    /// True if `--name` is present (and removes it).
    mutating func flag(_ name: String) -> Bool {
        if let i = remaining.firstIndex(of: "--" + name) {
            remaining.remove(at: i)
            return true
        }
        return false
    }

    /// The value of the last `--name value` / `--name=value`, removing all occurrences.
    mutating func option(_ name: String) throws -> String? {
        try options(name).last
    }

    /// Every value given for a repeatable `--name`.
    mutating func options(_ name: String) throws -> [String] {
        var values: [String] = []
        var i = 0
        while i < remaining.count {
            let arg = remaining[i]
            if arg == "--" + name {
                guard i + 1 < remaining.count else { throw CLIError("--\(name) needs a value") }
                values.append(remaining[i + 1])
                remaining.removeSubrange(i...(i + 1))
            } else if arg.hasPrefix("--" + name + "=") {
                values.append(String(arg.dropFirst(name.count + 3)))
                remaining.remove(at: i)
            } else {
                i += 1
            }
        }
        return values
    }

    mutating func int(_ name: String, default value: Int, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard let text = try option(name) else { return value }
        guard let v = Int(text) else { throw CLIError("--\(name) must be an integer, got '\(text)'") }
        guard range.contains(v) else { throw CLIError("--\(name) must be in \(range.lowerBound)...\(range.upperBound), got \(v)") }
        return v
    }

    mutating func double(_ name: String, default value: Double) throws -> Double {
        guard let text = try option(name) else { return value }
        guard let v = Double(text), v.isFinite else { throw CLIError("--\(name) must be a number, got '\(text)'") }
        return v
    }

    /// True if `--name` (with a value or not) is among the arguments left; consumes nothing.
    func has(_ name: String) -> Bool {
        remaining.contains { $0 == "--" + name || $0.hasPrefix("--" + name + "=") }
    }

    /// `--threads N` with the bounds and meaning of train.threads in every
    /// command: 1...1024, or 0 for all cores. Nil when absent or 0.
    mutating func threads() throws -> Int? {
        guard has("threads") else { return nil }
        let n = try int("threads", default: 0, in: 0...1024)
        return n == 0 ? nil : n
    }

    /// The next positional argument, if any.
    mutating func positional() -> String? {
        guard let i = remaining.firstIndex(where: { !$0.hasPrefix("--") }) else { return nil }
        return remaining.remove(at: i)
    }

    /// Rejects any argument nobody consumed.
    func finish() throws {
        if let first = remaining.first {
            throw CLIError("unknown argument '\(first)'")
        }
    }
}
