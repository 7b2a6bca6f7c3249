import Foundation
import Files
import NN

// model.rope_scaling: an object in transformers' vocabulary, or null.
// As a whole: `--set model.rope_scaling={"rope_type":"linear","factor":4}`;
// one member: `--set model.rope_scaling.factor=8` (null starts from {}).

extension RopeScaling {
    /// Member name → (type as documented, read from JSON, write to JSON).
    private struct Member {
        let name: String
        let set: (inout RopeScaling, JSONValue, _ key: String) throws -> Void
        let get: (RopeScaling) -> JSONValue?
        let parseText: (String) -> JSONValue?
    }

    private static func number(_ name: String, _ path: WritableKeyPath<RopeScaling, Double?>) -> Member {
        Member(name: name, set: { s, value, key in
            switch value {
            case .null: s[keyPath: path] = nil
            case .int(let i): s[keyPath: path] = Double(i)
            case .double(let d): s[keyPath: path] = d
            default: throw ConfigError("\(key) must be a number, got \(value.summary)")
            }
        }, get: { $0[keyPath: path].map(JSONValue.double) },
        parseText: { text in
            text == "null" ? .null : isDecimalNumber(text) ? Double(text).flatMap { $0.isFinite ? JSONValue.double($0) : nil } : nil
        })
    }

    private static let members: [Member] = [
        Member(name: "rope_type", set: { s, value, key in
            let names = RopeType.allCases.map(\.rawValue)
            guard case .string(let text) = value, let type = RopeType(rawValue: text) else {
                let got: String
                if case .string(let text) = value { got = "'\(text)'" } else { got = value.summary }
                throw ConfigError("\(key) must be one of \(names.joined(separator: ", ")); got \(got)")
            }
            s.type = type
        }, get: { $0.type.map { .string($0.rawValue) } }, parseText: { .string($0) }),
        number("factor", \.factor),
        Member(name: "original_max_position_embeddings", set: { s, value, key in
            switch value {
            case .null: s.originalMaxPositionEmbeddings = nil
            case .int(let i): s.originalMaxPositionEmbeddings = i
            default: throw ConfigError("\(key) must be an integer, got \(value.summary)")
            }
        }, get: { $0.originalMaxPositionEmbeddings.map(JSONValue.int) },
        parseText: { $0 == "null" ? .null : Int($0).map(JSONValue.int) }),
        number("beta_fast", \.betaFast),
        number("beta_slow", \.betaSlow),
        number("attention_factor", \.attentionFactor),
        number("mscale", \.mscale),
        number("mscale_all_dim", \.mscaleAllDim),
        Member(name: "truncate", set: { s, value, key in
            switch value {
            case .null: s.truncate = nil
            case .bool(let b): s.truncate = b
            default: throw ConfigError("\(key) must be true or false, got \(value.summary)")
            }
        }, get: { $0.truncate.map(JSONValue.bool) }, parseText: { $0 == "true" ? .bool(true) : $0 == "false" ? .bool(false) : $0 == "null" ? .null : nil }),
    ]

    static var memberNames: [String] { members.map(\.name) }

    private static func member(_ name: String, key: String) throws -> Member {
        if let m = members.first(where: { $0.name == name }) { return m }
        throw ConfigError("unknown key '\(key).\(name)'" + suggestion(for: name, among: memberNames))
    }

    /// From a JSON object (transformers' `type` is accepted for `rope_type`, as transformers does).
    public init(json value: JSONValue, key: String) throws {
        guard case .object(let items) = value else {
            throw ConfigError("\(key) must be an object such as {\"rope_type\":\"linear\",\"factor\":4}, or null; got \(value.summary)")
        }
        self.init()
        for (name, item) in items {
            try RopeScaling.member(name == "type" ? "rope_type" : name, key: key).set(&self, item, "\(key).\(name)")
        }
    }

    public var json: JSONValue { .object(RopeScaling.members.compactMap { m in m.get(self).map { (m.name, $0) } }) }

    /// `--set key.member=text`.
    mutating func override(member name: String, text: String, key: String) throws {
        let m = try RopeScaling.member(name, key: key)
        guard let value = m.parseText(text) else {
            let expected = name == "rope_type" ? "one of linear, dynamic, yarn" : name == "truncate" ? "true or false"
                : name == "original_max_position_embeddings" ? "an integer" : "a finite number"
            throw ConfigError("--set \(key).\(name)=\(text): expected \(expected), got '\(text)'")
        }
        try m.set(&self, value, "\(key).\(name)")
    }

    /// Ranges and combinations; `position`, `headSize` and `contextLength` come from the model.
    func validate(key: String, position: String, headSize: Int) throws {
        guard position == "rope" else {
            throw ConfigError("\(key) applies only to model.position = rope (got \(position)); set it to null")
        }
        guard let type else { throw ConfigError("\(key).rope_type is required: one of \(RopeType.allCases.map(\.rawValue).joined(separator: ", "))") }
        guard let factor else { throw ConfigError("\(key).factor is required (a number ≥ 1: how many times the trained length to reach)") }
        guard factor.isFinite, factor >= 1 else { throw ConfigError("\(key).factor must be a finite number ≥ 1, got \(factor)") }
        if type != .yarn {
            let yarnOnly: [(String, Bool)] = [("original_max_position_embeddings", originalMaxPositionEmbeddings != nil),
                                              ("beta_fast", betaFast != nil), ("beta_slow", betaSlow != nil),
                                              ("attention_factor", attentionFactor != nil), ("mscale", mscale != nil),
                                              ("mscale_all_dim", mscaleAllDim != nil), ("truncate", truncate != nil)]
            if let (name, _) = yarnOnly.first(where: { $0.1 }) {
                throw ConfigError("\(key).\(name) applies only to rope_type yarn (got \(type.rawValue))")
            }
        }
        if type == .dynamic, headSize <= 2 {
            throw ConfigError("\(key): rope_type dynamic needs a head size > 2 (its base grows as (…)^(D/(D−2))); got \(headSize)")
        }
        if let n = originalMaxPositionEmbeddings, n < 1 {
            throw ConfigError("\(key).original_max_position_embeddings must be ≥ 1, got \(n)")
        }
        for (name, value) in [("beta_fast", betaFast), ("beta_slow", betaSlow), ("attention_factor", attentionFactor)] {
            if let value, !(value.isFinite && value > 0) { throw ConfigError("\(key).\(name) must be a finite number > 0, got \(value)") }
        }
        for (name, value) in [("mscale", mscale), ("mscale_all_dim", mscaleAllDim)] {
            if let value, !(value.isFinite && value >= 0) { throw ConfigError("\(key).\(name) must be a finite number ≥ 0, got \(value)") }
        }
        if (betaSlow ?? 1) > (betaFast ?? 32) {
            throw ConfigError("\(key).beta_slow (\(betaSlow ?? 1)) must be ≤ beta_fast (\(betaFast ?? 32))")
        }
    }
}

extension ConfigField {
    /// An optional RoPE scaling object (`RopeScaling`); `setMember` handles `--set key.member=value`.
    static func ropeScaling(_ name: String, _ path: WritableKeyPath<Section, RopeScaling?>, _ doc: String) -> ConfigField {
        var field = ConfigField(
            name: name, type: "object or null",
            allowed: "null or {rope_type: linear | dynamic | yarn, factor ≥ 1, …}", doc: doc,
            get: { $0[keyPath: path]?.json ?? .null },
            set: { section, value, key in
                if case .null = value { section[keyPath: path] = nil; return }
                section[keyPath: path] = try RopeScaling(json: value, key: key)
            },
            parseText: { try? JSONParser.parse(Array($0.utf8)) },
            check: { _, _ in })
        field.setMember = { section, member, text, key in
            var scaling = section[keyPath: path] ?? RopeScaling()
            try scaling.override(member: member, text: text, key: key)
            section[keyPath: path] = scaling
        }
        return field
    }
}
