/// The parsed template: statements (`Node`) and expressions (`Expression`),
/// each carrying its template line for error messages.
indirect enum Node {
    case text(String)
    case output(Expression)
    case conditional(branches: [(condition: Expression, body: [Node])], otherwise: [Node])
    case loop(Loop)
    case assign(AssignTarget, Expression, line: Int)
    /// `{% set name %}…{% endset %}`: the rendered body, through optional filters.
    case assignBlock(AssignTarget, body: [Node], filters: [FilterCall], line: Int)
    case macro(Macro)
    /// `{% filter name %}…{% endfilter %}`.
    case filterBlock(filters: [FilterCall], body: [Node])
    case breakLoop(line: Int)
    case continueLoop(line: Int)
}

struct Loop {
    let target: AssignTarget
    let iterable: Expression
    let filter: Expression?
    let body: [Node]
    let otherwise: [Node]
    let line: Int
}

struct Macro {
    let name: String
    let parameters: [(name: String, defaultValue: Expression?)]
    let body: [Node]
    let line: Int
}

enum AssignTarget {
    case name(String)
    case names([String])
    /// `ns.member`: a namespace's member.
    case member(object: String, name: String)
}

struct FilterCall {
    let name: String
    let arguments: [Expression]
    let keywords: [(String, Expression)]
    let line: Int
}

indirect enum Expression {
    case literal(TemplateValue)
    case name(String, line: Int)
    case list([Expression])
    case tuple([Expression])
    case dict([(Expression, Expression)], line: Int)
    case attribute(Expression, String, line: Int)
    case index(Expression, Expression, line: Int)
    case slice(Expression, start: Expression?, stop: Expression?, step: Expression?, line: Int)
    case call(Expression, arguments: [Expression], keywords: [(String, Expression)], line: Int)
    case filter(Expression, FilterCall)
    case test(Expression, name: String, arguments: [Expression], negated: Bool, line: Int)
    case not(Expression)
    case negate(Expression, line: Int)
    case binary(String, Expression, Expression, line: Int)
    case and(Expression, Expression)
    case or(Expression, Expression)
    /// `a if condition else b` (`else` may be absent: undefined).
    case conditional(then: Expression, condition: Expression, otherwise: Expression?)
}
