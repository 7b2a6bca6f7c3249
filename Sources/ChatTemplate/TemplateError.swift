/// A template that cannot be read or rendered: the reason and the template line it concerns.
public struct TemplateError: Error, CustomStringConvertible, Equatable {
    public let message: String
    /// 1-based line in the template; nil when no line applies.
    public let line: Int?
    /// Raised by the template itself (`raise_exception`), not a fault of the template.
    public let raisedByTemplate: Bool

    init(_ message: String, line: Int?, raisedByTemplate: Bool = false) {
        self.message = message; self.line = line; self.raisedByTemplate = raisedByTemplate
    }

    public var description: String {
        if raisedByTemplate { return "the chat template refuses this conversation (line \(line ?? 0)): \(message)" }
        return line.map { "chat template line \($0): \(message)" } ?? "chat template: \(message)"
    }
}
