/// A Jinja template in the subset chat templates use (docs/chat.md lists it),
/// rendered as Hugging Face's transformers renders it: jinja2 with
/// `trim_blocks=True, lstrip_blocks=True`, loop controls, no autoescaping.
/// Everything is checked when the template is read: syntax, and that every
/// tag, filter and test is one this interpreter has, so an unsupported
/// construct is refused by name and line before anything is rendered.
public struct Template {
    let nodes: [Node]

    public init(_ source: String) throws {
        nodes = try Parser.parse(source)
        try Template.check(nodes, inLoop: false)
    }

    /// The text the template produces with `variables` (and the globals
    /// `raise_exception`, `namespace`, `range`, `dict`, `strftime_now`).
    public func render(_ variables: [String: TemplateValue]) throws -> String {
        let globals = Scope(parent: nil)
        globals.variables = Interpreter.globals()
        let top = Scope(parent: globals)
        top.variables = variables
        var out = ""
        _ = try Interpreter().render(nodes, top, into: &out)
        return out
    }

    static func check(_ nodes: [Node], inLoop: Bool) throws {
        for node in nodes {
            switch node {
            case .text: break
            case .output(let e): try check(e)
            case .conditional(let branches, let otherwise):
                for b in branches { try check(b.condition); try check(b.body, inLoop: inLoop) }
                try check(otherwise, inLoop: inLoop)
            case .loop(let loop):
                try check(loop.iterable)
                if let f = loop.filter { try check(f) }
                try check(loop.body, inLoop: true)
                try check(loop.otherwise, inLoop: inLoop)
            case .assign(_, let e, _): try check(e)
            case .assignBlock(_, let body, let filters, _):
                try check(body, inLoop: inLoop)
                try filters.forEach(check)
            case .macro(let m):
                for p in m.parameters { if let d = p.defaultValue { try check(d) } }
                try check(m.body, inLoop: false)
            case .filterBlock(let filters, let body):
                try filters.forEach(check)
                try check(body, inLoop: inLoop)
            case .breakLoop(let line), .continueLoop(let line):
                if !inLoop { throw TemplateError("'{% break %}' and '{% continue %}' belong inside a for loop", line: line) }
            }
        }
    }

    static func check(_ f: FilterCall) throws {
        guard Interpreter.filters.contains(f.name) else { throw TemplateError("unsupported Jinja construct: filter '\(f.name)'", line: f.line) }
        try f.arguments.forEach(check)
        try f.keywords.map(\.1).forEach(check)
    }

    static func check(_ e: Expression) throws {
        switch e {
        case .literal, .name: break
        case .list(let items), .tuple(let items): try items.forEach(check)
        case .dict(let pairs, _): for (k, v) in pairs { try check(k); try check(v) }
        case .attribute(let o, _, _): try check(o)
        case .index(let o, let i, _): try check(o); try check(i)
        case .slice(let o, let a, let b, let c, _): try check(o); for x in [a, b, c] { if let x { try check(x) } }
        case .call(let f, let args, let kws, _): try check(f); try args.forEach(check); try kws.map(\.1).forEach(check)
        case .filter(let v, let f): try check(v); try check(f)
        case .test(let v, let name, let args, _, let line):
            guard Interpreter.tests.contains(name) else { throw TemplateError("unsupported Jinja construct: test '\(name)'", line: line) }
            try check(v); try args.forEach(check)
        case .not(let x), .negate(let x, _): try check(x)
        case .binary(_, let a, let b, _), .and(let a, let b), .or(let a, let b): try check(a); try check(b)
        case .conditional(let a, let c, let b): try check(a); try check(c); if let b { try check(b) }
        }
    }
}

/// One turn of a conversation.
public struct ChatMessage: Equatable, Sendable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

/// A model's chat template: turns a conversation into the text the model was trained on.
public struct ChatTemplate {
    public let source: String
    let template: Template

    public init(_ source: String) throws {
        self.source = source
        template = try Template(source)
    }

    /// The conversation as transformers' `apply_chat_template` renders it: the template sees
    /// `messages` (each with `role` and `content`), `add_generation_prompt`, `tools` and
    /// `documents` (none), and the special tokens given (`bos_token`, `eos_token`, …; a
    /// token the model lacks is left out, so the template sees it undefined).
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, specialTokens: [String: String] = [:]) throws -> String {
        var variables: [String: TemplateValue] = [
            "messages": .list(messages.map { .dict(TemplateDictionary([("role", .string($0.role)), ("content", .string($0.content))])) }),
            "add_generation_prompt": .bool(addGenerationPrompt),
            "tools": .none,
            "documents": .none,
        ]
        for (name, token) in specialTokens { variables[name] = .string(token) }
        return try template.render(variables)
    }
}
