import Foundation
import Config
import Tokenizer
import ChatTemplate
import Generate

/// A model as the server answers with it: its name in the API, tokenizer,
/// chat template, end tokens, context window, and a factory of one-row
/// logits sources (one per slot).
public struct ServedModel {
    public let name: String
    public let tokenizer: any Tokenizer
    public let chatTemplate: ChatTemplate?
    /// `bos_token` and `eos_token` as the template sees them.
    public let specialTokens: [String: String]
    public let endTokens: Set<Int32>
    /// What an empty completion prompt starts from.
    public let startToken: Int32
    public let contextWindow: Int
    public let makeSource: () throws -> any LogitsSource

    public init(name: String, tokenizer: any Tokenizer, chatTemplate: ChatTemplate?, endTokenIds: [Int], beginTokenId: Int?,
                makeSource: @escaping () throws -> any LogitsSource) throws {
        let probe = Generator(source: try makeSource(), tokenizer: tokenizer, endTokenIds: endTokenIds, beginTokenId: beginTokenId)
        self.name = name
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        specialTokens = ChatSession.specialTokens(tokenizer: tokenizer, endTokenIds: endTokenIds, beginTokenId: beginTokenId)
        endTokens = probe.endTokens
        startToken = probe.startToken()
        contextWindow = probe.contextWindow
        self.makeSource = makeSource
    }

    /// An opened checkpoint under `model` (its stored model config, rope_scaling perhaps changed) and an optional
    /// `context` window; `name` is what /v1/models lists (the checkpoint directory's name by default).
    public init(_ language: LanguageModel, model: ModelConfig, context: Int?, name: String? = nil) throws {
        var template: ChatTemplate?
        if let source = language.chatTemplate {
            do { template = try ChatTemplate(source) } catch {
                throw ServeError("\(language.directory.path): its chat template cannot be read: \(error)")
            }
        }
        _ = try language.checkedWindow(model, context: context, batch: 1)
        let d = language.directory  // a run directory resolves to its best/ or latest/: the run's name
        let fallback = ["best", "latest"].contains(d.lastPathComponent) ? d.deletingLastPathComponent().lastPathComponent : d.lastPathComponent
        try self.init(name: name ?? fallback, tokenizer: language.tokenizer, chatTemplate: template,
                      endTokenIds: language.config.tokenizer.eosTokenIds, beginTokenId: language.config.tokenizer.bosTokenId,
                      makeSource: { try language.logitsSource(model: model, context: context, sequences: 1) })
    }
}
