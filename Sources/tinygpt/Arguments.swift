import Foundation

/// A user-facing error: printed as one line on stderr, then a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// One flag of a command: its name, the value it takes (none for a switch),
/// its default and one line of help. `Arguments` reads only declared flags,
/// and `--help` prints the same declarations, so the two cannot disagree.
struct Flag {
    enum Kind { case toggle, value(String), repeatable(String) }
    let name: String
    let kind: Kind
    let defaultValue: String?
    let help: String

    /// A switch: `--name`.
    init(_ name: String, _ help: String) {
        (self.name, kind, defaultValue, self.help) = (name, .toggle, nil, help)
    }

    /// `--name VALUE` (the last one given counts).
    init(_ name: String, _ value: String, default defaultValue: CustomStringConvertible? = nil, _ help: String) {
        (self.name, kind, self.defaultValue, self.help) = (name, .value(value), defaultValue.map { "\($0)" }, help)
    }

    /// `--name VALUE`, any number of times.
    static func repeatable(_ name: String, _ value: String, _ help: String) -> Flag {
        Flag(name: name, kind: .repeatable(value), help: help)
    }

    private init(name: String, kind: Kind, help: String) {
        (self.name, self.kind, defaultValue, self.help) = (name, kind, nil, help)
    }

    /// `--threads N` with the bounds and meaning of train.threads in every command.
    static let threads = Flag("threads", "N", "worker threads, 1...1024, 0 for all (default: all cores)")
    static let json = Flag("json", "one JSON object instead of text")
    static let force = Flag("force", "replace an existing output")
    static let config = Flag("config", "FILE", "run config (docs/config.md)")
    static let set = Flag.repeatable("set", "k=v", "override a config field, e.g. --set train.max_steps=500")

    /// The flag as the options table shows it: `--name VALUE` (`...` when repeatable).
    var synopsis: String {
        switch kind {
        case .toggle: return "--" + name
        case .value(let v): return "--\(name) \(v)"
        case .repeatable(let v): return "--\(name) \(v) ..."
        }
    }
}

/// A command's flags, declared once, with the prose of its help around them.
struct CommandFlags {
    /// The command as typed after `tinygpt` ("sample", "bench train").
    let command: String
    /// Each way to call it, after the command name, e.g. "--checkpoint DIR [options]".
    let forms: [String]
    /// What the command does (before the options table).
    var about: String = ""
    let flags: [Flag]
    /// Semantics, examples and references (after the options table).
    var notes: String = ""

    var help: String {
        var lines = forms.enumerated().map { i, form in (i == 0 ? "usage: " : "       ") + "tinygpt \(command) \(form)" }
        if !about.isEmpty { lines += ["", about] }
        if !flags.isEmpty {
            lines += ["", "options:"]
            let width = min(24, flags.map(\.synopsis.count).max() ?? 0)
            for f in flags {
                let name = f.synopsis.padding(toLength: max(width, f.synopsis.count), withPad: " ", startingAt: 0)
                lines.append("  \(name)  \(f.help)\(f.defaultValue.map { " (default \($0))" } ?? "")")
            }
        }
        if !notes.isEmpty { lines += ["", notes] }
        return lines.joined(separator: "\n")
    }

    /// The arguments to read against these flags, or nil when `--help` (or `-h`)
    /// asked for the help, which is then printed.
    func parse(_ args: [String]) -> Arguments? {
        if args.contains("--help") || args.contains("-h") {
            print(help)
            return nil
        }
        return Arguments(args, flags: self)
    }
}

/// Reads `--name value`, `--name=value`, switches and repeatable options,
/// each of them declared in the command's `CommandFlags`. Every argument
/// must be consumed; `finish()` rejects whatever is left, naming it.
struct Arguments {
    private(set) var remaining: [String]
    private let declared: [String: Flag]
    private let command: String

    init(_ args: [String], flags: CommandFlags) {
        remaining = args
        declared = Dictionary(flags.flags.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        command = flags.command
    }

    /// The declaration of `--name`; reading an undeclared flag is a programming error.
    private func declaration(_ name: String) -> Flag {
        guard let flag = declared[name] else { preconditionFailure("tinygpt \(command) reads --\(name), which its flag table does not declare") }
        return flag
    }

    /// True if the command's table declares `--name`.
    func declares(_ name: String) -> Bool { declared[name] != nil }

    /// True if `--name` is present (and removes it).
    mutating func flag(_ name: String) -> Bool {
        _ = declaration(name)
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
        _ = declaration(name)
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

    /// `--name VALUE`; absent, the table's default.
    mutating func value(_ name: String) throws -> String {
        guard let text = try option(name) ?? declaration(name).defaultValue else { preconditionFailure("--\(name) declares no default") }
        return text
    }

    /// `--name N` in `range`; absent, the table's default.
    mutating func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        let text = try value(name)
        guard let v = Int(text) else { throw CLIError("--\(name) must be an integer, got '\(text)'") }
        guard range.contains(v) else { throw CLIError("--\(name) must be in \(range.lowerBound)...\(range.upperBound), got \(v)") }
        return v
    }

    /// `--name X`, a finite number; absent, the table's default.
    mutating func double(_ name: String) throws -> Double {
        let text = try value(name)
        guard let v = Double(text), v.isFinite else { throw CLIError("--\(name) must be a number, got '\(text)'") }
        return v
    }

    /// `--name N`, an integer ≥ 1; nil when absent.
    mutating func positiveInt(_ name: String) throws -> Int? {
        try option(name).map { text -> Int in
            guard let n = Int(text), n >= 1 else { throw CLIError("--\(name) must be an integer ≥ 1, got '\(text)'") }
            return n
        }
    }

    /// True if `--name` (with a value or not) is among the arguments left; consumes nothing.
    func has(_ name: String) -> Bool {
        _ = declaration(name)
        return remaining.contains { $0 == "--" + name || $0.hasPrefix("--" + name + "=") }
    }

    /// `--threads N` with the bounds and meaning of train.threads in every
    /// command: 1...1024, or 0 for all cores. Nil when absent or 0.
    mutating func threads() throws -> Int? {
        guard has("threads") else { return nil }
        guard let text = try option("threads") else { return nil }
        guard let n = Int(text) else { throw CLIError("--threads must be an integer, got '\(text)'") }
        guard (0...1024).contains(n) else { throw CLIError("--threads must be in 0...1024, got \(n)") }
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

/// `--group-size N` of quantize and bench sample: an integer, which the quantizer checks against the rows.
func groupSize(_ text: String?) throws -> Int? {
    try text.map { text -> Int in
        guard let g = Int(text) else { throw CLIError("--group-size must be an integer ≥ 1, got '\(text)'") }
        return g
    }
}
