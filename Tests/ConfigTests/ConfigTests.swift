import XCTest
import Foundation
import Config

private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func parse(_ json: String, overrides: [String] = []) throws -> RunConfig {
    try RunConfig.parse(json: Data(json.utf8), source: "test.json", overrides: overrides)
}

/// Asserts that `body` throws a ConfigError whose one-line message contains every fragment.
private func assertConfigError(_ fragments: String..., file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error containing \(fragments)", file: file, line: line)
    } catch let error as ConfigError {
        for fragment in fragments {
            XCTAssertTrue(error.description.contains(fragment), "'\(error.description)' lacks '\(fragment)'", file: file, line: line)
        }
        XCTAssertFalse(error.description.contains("\n"), "error must be one line: \(error.description)", file: file, line: line)
    } catch {
        XCTFail("unexpected error type: \(error)", file: file, line: line)
    }
}

final class ConfigTests: XCTestCase {
    func testDefaults() throws {
        let config = try parse("{}")
        XCTAssertEqual(config, RunConfig())
        XCTAssertNil(config.model.vocabSize)
        XCTAssertEqual(config.model.contextLength, 256)
        XCTAssertEqual(config.model.nLayer, 6)
        XCTAssertEqual(config.model.dModel, 384)
        XCTAssertEqual(config.model.nHead, 6)
        XCTAssertEqual(config.model.kvHeads, 6)
        XCTAssertEqual(config.model.feedForwardSize, 4 * 384)
        XCTAssertEqual(config.model.headSize, 64)
        XCTAssertEqual(config.model.norm, .layerNorm)
        XCTAssertEqual(config.model.normPosition, .pre)
        XCTAssertEqual(config.model.normEps, 1e-5)
        XCTAssertEqual(config.model.position, .learned)
        XCTAssertEqual(config.model.ropeTheta, 10000)
        XCTAssertEqual(config.model.activation, .gelu)
        XCTAssertTrue(config.model.bias)
        XCTAssertEqual(config.model.dropout, 0)
        XCTAssertTrue(config.model.tieEmbeddings)
        XCTAssertNil(config.model.initialization)
        XCTAssertEqual(config.model.initScheme, .gpt2)
        XCTAssertEqual(config.tokenizer.type, .char)
        XCTAssertEqual(config.tokenizer.vocabSize, 512)
        XCTAssertEqual(config.tokenizer.specialTokens, [])
        XCTAssertEqual(config.data.path, "data/corpus.txt")
        XCTAssertEqual(config.data.valFraction, 0.1)
        XCTAssertEqual(config.train.batchSize, 12)
        XCTAssertEqual(config.train.gradAccumSteps, 1)
        XCTAssertEqual(config.train.maxSteps, 2000)
        XCTAssertEqual(config.train.optimizer, .adamw)
        XCTAssertEqual(config.train.lr, 1e-3)
        XCTAssertEqual(config.train.minLR, 1e-4)
        XCTAssertEqual(config.train.warmupSteps, 100)
        XCTAssertEqual(config.train.lrSchedule, .cosine)
        XCTAssertEqual(config.train.beta1, 0.9)
        XCTAssertEqual(config.train.beta2, 0.99)
        XCTAssertEqual(config.train.eps, 1e-8)
        XCTAssertEqual(config.train.weightDecay, 0.1)
        XCTAssertEqual(config.train.momentum, 0.9)
        XCTAssertEqual(config.train.l1, 0)
        XCTAssertEqual(config.train.l2, 0)
        XCTAssertEqual(config.train.gradClip, 1.0)
        XCTAssertEqual(config.train.evalInterval, 250)
        XCTAssertEqual(config.train.evalSteps, 200)
        XCTAssertEqual(config.train.logInterval, 10)
        XCTAssertEqual(config.train.seed, 1337)
        XCTAssertEqual(config.train.threads, 0)
        XCTAssertEqual(config.sample.strategy, .sample)
        XCTAssertEqual(config.sample.maxNewTokens, 200)
        XCTAssertEqual(config.sample.temperature, 0.8)
        XCTAssertEqual(config.sample.topK, 0)
        XCTAssertEqual(config.sample.topP, 1.0)
        XCTAssertEqual(config.sample.minP, 0)
        XCTAssertEqual(config.sample.repetitionPenalty, 1.0)
        XCTAssertEqual(config.sample.noRepeatNgram, 0)
        XCTAssertEqual(config.sample.beamWidth, 4)
        XCTAssertEqual(config.sample.lengthPenalty, 1.0)
        XCTAssertEqual(config.sample.numSamples, 1)
        XCTAssertEqual(config.sample.seed, 1337)
        XCTAssertEqual(config.sample.stop, [])
        XCTAssertTrue(config.sample.stream)
        XCTAssertEqual(config.sample.prompt, "")
        XCTAssertNoThrow(try RunConfig().validate())
    }

    func testPartialSectionsKeepOtherDefaults() throws {
        let config = try parse(#"{"model": {"n_layer": 2}, "sample": {"prompt": "Hi"}}"#)
        XCTAssertEqual(config.model.nLayer, 2)
        XCTAssertEqual(config.model.dModel, 384)
        XCTAssertEqual(config.sample.prompt, "Hi")
        XCTAssertEqual(config.train, TrainConfig())
    }

    func testPresetsLoadAndValidate() throws {
        let names = ["default", "gpt2-style", "llama-style", "shakespeare-char", "sample-greedy", "sample-creative", "sample-beam"]
        for name in names {
            let url = repoRoot.appendingPathComponent("configs/\(name).json")
            XCTAssertNoThrow(try RunConfig.load(from: url), name)
        }
        let llama = try RunConfig.load(from: repoRoot.appendingPathComponent("configs/llama-style.json"))
        XCTAssertEqual(llama.model.norm, .rmsNorm)
        XCTAssertEqual(llama.model.position, .rope)
        XCTAssertEqual(llama.model.activation, .swiglu)
        XCTAssertEqual(llama.model.kvHeads, llama.model.nHead / 2)
        XCTAssertFalse(llama.model.bias)
        XCTAssertEqual(llama.tokenizer.type, .bpe)

        let gpt2 = try RunConfig.load(from: repoRoot.appendingPathComponent("configs/gpt2-style.json"))
        XCTAssertEqual(gpt2.model.kvHeads, gpt2.model.nHead)
        XCTAssertEqual(gpt2.model.norm, .layerNorm)
        XCTAssertEqual(gpt2.tokenizer.type, .bpe)

        let shakespeare = try RunConfig.load(from: repoRoot.appendingPathComponent("configs/shakespeare-char.json"))
        XCTAssertEqual(shakespeare.tokenizer.type, .char)
        XCTAssertEqual([shakespeare.model.nLayer, shakespeare.model.nHead, shakespeare.model.dModel,
                        shakespeare.model.feedForwardSize, shakespeare.model.contextLength], [4, 4, 128, 512, 64])
        XCTAssertFalse(shakespeare.model.bias)
        XCTAssertEqual(shakespeare.data.path, DataConfig().path)

        let defaults = try RunConfig.load(from: repoRoot.appendingPathComponent("configs/default.json"))
        XCTAssertEqual(defaults.train.maxSteps, 2500)
        XCTAssertEqual(defaults.data.path, "data/corpus.txt")
        XCTAssertEqual(defaults.tokenizer.type, .char)

        let beam = try RunConfig.load(from: repoRoot.appendingPathComponent("configs/sample-beam.json"))
        XCTAssertEqual(beam.sample.strategy, .beam)
        XCTAssertEqual(beam.model, ModelConfig())
    }

    func testUnknownKeysSuggestNearest() {
        assertConfigError("unknown key 'model.n_heads'; did you mean 'n_head'?") {
            _ = try parse(#"{"model": {"n_heads": 4}}"#)
        }
        assertConfigError("unknown key 'modle'; did you mean 'model'?") {
            _ = try parse(#"{"modle": {}}"#)
        }
        assertConfigError("unknown key 'train.learning_rate'") {
            _ = try parse(#"{"train": {"learning_rate": 0.1}}"#)
        }
        assertConfigError("test.json") { _ = try parse(#"{"model": {"n_heads": 4}}"#) }
    }

    func testWrongTypesNameKeyExpectedTypeAndValue() {
        assertConfigError("model.n_layer", "integer", "\"six\"") { _ = try parse(#"{"model": {"n_layer": "six"}}"#) }
        assertConfigError("model.n_layer", "integer", "2.5") { _ = try parse(#"{"model": {"n_layer": 2.5}}"#) }
        assertConfigError("model.bias", "true or false", "1") { _ = try parse(#"{"model": {"bias": 1}}"#) }
        assertConfigError("train.lr", "number", "\"fast\"") { _ = try parse(#"{"train": {"lr": "fast"}}"#) }
        assertConfigError("data.path", "string", "3") { _ = try parse(#"{"data": {"path": 3}}"#) }
        assertConfigError("sample.stop", "list of strings", "[1]") { _ = try parse(#"{"sample": {"stop": [1]}}"#) }
        assertConfigError("model.norm", "one of layernorm, rmsnorm", "'batchnorm'") { _ = try parse(#"{"model": {"norm": "batchnorm"}}"#) }
        assertConfigError("model.position", "did you mean 'rope'") { _ = try parse(#"{"model": {"position": "rop"}}"#) }
        assertConfigError("'model' must be an object") { _ = try parse(#"{"model": 3}"#) }
        assertConfigError("must be a JSON object") { _ = try parse("[1, 2]") }
    }

    func testIntegerValuedNumbersAndNullOptionalsAreAccepted() throws {
        let config = try parse(#"{"train": {"lr": 1}, "model": {"vocab_size": null, "n_kv_head": null}}"#)
        XCTAssertEqual(config.train.lr, 1.0)
        XCTAssertNil(config.model.vocabSize)
    }

    func testMalformedJSONNamesFileAndPosition() {
        assertConfigError("test.json", "invalid JSON", "line 2") { _ = try parse("{\n  \"model\": {,}\n}") }
        assertConfigError("test.json", "invalid JSON") { _ = try parse(#"{"model": {"n_layer": 4}"#) }
        assertConfigError("test.json", "duplicate key 'n_layer'") { _ = try parse(#"{"model": {"n_layer": 4, "n_layer": 5}}"#) }
        assertConfigError("test.json", "after the JSON value", "line 1") { _ = try parse(#"{"model": {}} x"#) }
        assertConfigError("cannot read config file") { _ = try RunConfig.load(from: URL(fileURLWithPath: "/nonexistent/tinygpt.json")) }
    }

    /// A default follows the choice that makes it wrong: deepnorm alone takes xavier; only an explicit gpt2 conflicts.
    func testInitDefaultFollowsDeepNorm() throws {
        let deep = try parse("{}", overrides: ["model.norm_position=deepnorm"])
        XCTAssertEqual(deep.model.initScheme, .xavier)
        XCTAssertEqual(deep.resolved().model.initialization, .xavier, "the saved config names the scheme")
        XCTAssertEqual(try parse("{}", overrides: ["model.norm_position=deepnorm", "model.init=kaiming"]).model.initScheme, .kaiming)
        XCTAssertEqual(try parse("{}").resolved().model.initialization, .gpt2)
        XCTAssertEqual(try parse("{}", overrides: ["model.init=xavier", "model.init=null"]).model.initScheme, .gpt2)
        assertConfigError("model.init = gpt2 adds the pre-norm rule") { _ = try parse("{}", overrides: ["model.norm_position=deepnorm", "model.init=gpt2"]) }
        assertConfigError("model.init must be one of gpt2, xavier, kaiming or null; got 'he'") { _ = try parse("{}", overrides: ["model.init=he"]) }
    }

    /// Each rule, broken by one `--set`, must fail naming the field.
    func testEveryValidationRuleFires() {
        let cases: [(String, String)] = [
            ("model.d_model=100", "model.n_head (6) must divide model.d_model (100)"),
            ("model.n_kv_head=4", "model.n_kv_head (4) must divide model.n_head (6)"),
            ("model.n_kv_head=0", "model.n_kv_head"),
            ("model.context_length=0", "model.context_length must be in [1, 1048576], got 0"),
            ("model.n_layer=0", "model.n_layer"),
            ("model.d_model=0", "model.d_model"),
            ("model.n_head=0", "model.n_head"),
            ("model.d_ff=0", "model.d_ff"),
            ("model.dropout=1", "model.dropout must be in [0, 1), got 1.0"),
            ("model.dropout=-0.1", "model.dropout"),
            ("model.norm_eps=0", "model.norm_eps must be > 0"),
            ("model.rope_theta=0", "model.rope_theta"),
            ("model.vocab_size=0", "model.vocab_size"),
            ("tokenizer.vocab_size=0", "tokenizer.vocab_size"),
            ("data.val_fraction=0", "data.val_fraction must be in (0, 1)"),
            ("data.val_fraction=1", "data.val_fraction"),
            ("train.lr=0", "train.lr must be > 0"),
            ("train.min_lr=0.01", "train.min_lr (0.01) must be in [0, train.lr]"),
            ("train.min_lr=-1", "train.min_lr"),
            ("train.batch_size=0", "train.batch_size"),
            ("train.grad_accum_steps=0", "train.grad_accum_steps"),
            ("train.max_steps=0", "train.max_steps"),
            ("train.warmup_steps=-1", "train.warmup_steps"),
            ("train.beta1=1", "train.beta1"),
            ("train.beta2=1.5", "train.beta2"),
            ("train.eps=0", "train.eps"),
            ("train.weight_decay=-0.1", "train.weight_decay"),
            ("train.grad_clip=-1", "train.grad_clip"),
            ("train.eval_interval=0", "train.eval_interval"),
            ("train.eval_steps=0", "train.eval_steps"),
            ("train.log_interval=0", "train.log_interval"),
            ("train.threads=-1", "train.threads"),
            ("train.momentum=1", "train.momentum"),
            ("train.l1=-1", "train.l1"),
            ("train.l2=-1", "train.l2"),
            ("sample.temperature=-1", "sample.temperature"),
            ("sample.top_k=-1", "sample.top_k"),
            ("sample.top_p=0", "sample.top_p must be in (0, 1]"),
            ("sample.top_p=1.1", "sample.top_p"),
            ("sample.min_p=1", "sample.min_p"),
            ("sample.beam_width=0", "sample.beam_width"),
            ("sample.max_new_tokens=-1", "sample.max_new_tokens"),
            ("sample.repetition_penalty=0", "sample.repetition_penalty"),
            ("sample.no_repeat_ngram=-1", "sample.no_repeat_ngram"),
            ("sample.num_samples=0", "sample.num_samples"),
            // Upper bounds: far beyond memory, but products of sizes cannot overflow.
            ("train.batch_size=1048577", "train.batch_size must be in [1, 1048576], got 1048577"),
            ("model.d_model=4611686018427387904", "model.d_model must be in [1, 1048576]"),
            ("train.threads=1025", "train.threads must be in [0, 1024]"),
        ]
        for (override, message) in cases {
            assertConfigError(message) { _ = try parse("{}", overrides: [override]) }
        }
        // rope with an odd head size: 6 heads × 5 = 30.
        assertConfigError("model.position = rope needs an even head size", "30 / 6 = 5") {
            _ = try parse("{}", overrides: ["model.d_model=30", "model.position=rope"])
        }
        XCTAssertNoThrow(try parse("{}", overrides: ["model.d_model=60", "model.position=rope"]))
        // Boundaries that are allowed.
        XCTAssertNoThrow(try parse("{}", overrides: ["train.min_lr=0.001", "train.warmup_steps=2000", "train.grad_clip=0",
                                                     "sample.temperature=0", "sample.top_p=1", "model.n_kv_head=1"]))
    }

    func testNonFiniteNumbersAreRejected() {
        var config = RunConfig()
        config.sample.lengthPenalty = .nan
        assertConfigError("sample.length_penalty must be a finite number") { try config.validate() }
        assertConfigError("sample.length_penalty") { _ = try config.jsonData() }
        assertConfigError("--set train.lr=inf") { _ = try parse("{}", overrides: ["train.lr=inf"]) }
    }

    func testSetOverridesEachType() throws {
        let config = try parse(#"{"model": {"n_layer": 2}}"#, overrides: [
            "model.n_layer=6", "train.lr=3e-4", "model.bias=false", "data.path=corpus/x=y.txt",
            "sample.stop=a,b", "tokenizer.special_tokens=[\"<|end|>\", \"x,y\"]", "model.norm=rmsnorm",
            "model.vocab_size=100", "model.d_ff=null", "sample.prompt=",
        ])
        XCTAssertEqual(config.model.nLayer, 6)
        XCTAssertEqual(config.train.lr, 3e-4)
        XCTAssertFalse(config.model.bias)
        XCTAssertEqual(config.data.path, "corpus/x=y.txt")
        XCTAssertEqual(config.sample.stop, ["a", "b"])
        XCTAssertEqual(config.tokenizer.specialTokens, ["<|end|>", "x,y"])
        XCTAssertEqual(config.model.norm, .rmsNorm)
        XCTAssertEqual(config.model.vocabSize, 100)
        XCTAssertNil(config.model.dFF)
        XCTAssertEqual(config.sample.prompt, "")
        XCTAssertEqual(try parse("{}", overrides: ["sample.stop="]).sample.stop, [])
        XCTAssertEqual(try parse("{}", overrides: ["tokenizer.eos_token_ids=2, 7"]).tokenizer.eosTokenIds, [2, 7])
        XCTAssertEqual(try parse("{}", overrides: ["tokenizer.eos_token_ids=[0]"]).tokenizer.eosTokenIds, [0])
        XCTAssertEqual(try parse("{}", overrides: ["tokenizer.eos_token_ids="]).tokenizer.eosTokenIds, [])
        XCTAssertEqual(try parse("{}", overrides: ["tokenizer.bos_token_id=1"]).tokenizer.bosTokenId, 1)
        // Later overrides win.
        XCTAssertEqual(try parse("{}", overrides: ["model.n_layer=2", "model.n_layer=3"]).model.nLayer, 3)
    }

    func testSetRejectsUnknownFieldsAndBadValues() {
        assertConfigError("--set model.n_heads=4: unknown key 'model.n_heads'; did you mean 'n_head'?") { _ = try parse("{}", overrides: ["model.n_heads=4"]) }
        assertConfigError("unknown key 'trian'; did you mean 'train'?") { _ = try parse("{}", overrides: ["trian.lr=1"]) }
        assertConfigError("--set model.n_layer=six", "integer", "'six'") { _ = try parse("{}", overrides: ["model.n_layer=six"]) }
        assertConfigError("--set train.lr=fast", "number") { _ = try parse("{}", overrides: ["train.lr=fast"]) }
        assertConfigError("--set model.bias=yes", "boolean") { _ = try parse("{}", overrides: ["model.bias=yes"]) }
        assertConfigError("model.activation must be one of") { _ = try parse("{}", overrides: ["model.activation=softplus"]) }
        assertConfigError("--set sample.stop=[1", "list of strings") { _ = try parse("{}", overrides: ["sample.stop=[1"]) }
        assertConfigError("sample.stop must be a list of strings") { _ = try parse("{}", overrides: ["sample.stop=[1]"]) }
        assertConfigError("must look like section.field=value") { _ = try parse("{}", overrides: ["model.n_layer"]) }
        assertConfigError("--set tokenizer.eos_token_ids=2,x", "list of integers") { _ = try parse("{}", overrides: ["tokenizer.eos_token_ids=2,x"]) }
        // Special ids are checked against the vocabulary where it is known.
        assertConfigError("tokenizer.eos_token_ids: 100 is not a token id of this model (model.vocab_size is 100: ids 0..<100)") {
            _ = try parse("{}", overrides: ["model.vocab_size=100", "tokenizer.eos_token_ids=2,100"])
        }
        assertConfigError("tokenizer.bos_token_id: 120 is not a token id") { _ = try parse("{}", overrides: ["model.vocab_size=100", "tokenizer.bos_token_id=120"]) }
        XCTAssertEqual(try parse("{}", overrides: ["model.vocab_size=100", "tokenizer.eos_token_ids=99", "tokenizer.bos_token_id=0"]).tokenizer.eosTokenIds, [99])
        assertConfigError("tokenizer.eos_token_ids must be a list of integers") { _ = try parse("{}", overrides: ["tokenizer.eos_token_ids=[\"2\"]"]) }
        assertConfigError("tokenizer.eos_token_ids: every id must be in [0, 16777216), got -1") { _ = try parse("{}", overrides: ["tokenizer.eos_token_ids=-1"]) }
        assertConfigError("must look like section.field") { _ = try parse("{}", overrides: ["n_layer=4"]) }
    }

    func testResolvedJSONRoundTrips() throws {
        var config = try parse("{}", overrides: ["model.vocab_size=65", "sample.stop=\"q\",\\n", "sample.prompt=He said \"hi\"\n",
                                                 "train.lr=3e-4", "model.norm_eps=1e-6", "tokenizer.special_tokens=[\"<|endoftext|>\"]"])
        config.model.activation = .swiglu
        config.lora = LoRAConfig()  // the optional sections, written only when present
        config.ppo = PPOConfig(); config.grpo = GRPOConfig(); config.reward = RewardConfig()
        let data = try config.jsonData()
        let back = try RunConfig.parse(json: data, source: "config.json")
        XCTAssertEqual(back, config.resolved())
        XCTAssertEqual(back.model.nKVHead, 6)
        XCTAssertEqual(back.model.dFF, 1536)
        XCTAssertEqual(try back.jsonData(), data, "encoding is stable")

        let text = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("{\n  \"model\": {\n    \"vocab_size\": 65,\n"), text)
        // The other PEFT sections exclude lora (one method per run): each is written alone below.
        let alone: Set<String> = ["adapter", "prefix_tuning", "prompt_tuning"]
        for field in RunConfig.documentedFields where !alone.contains(field.section) {
            XCTAssertTrue(text.contains("\"\(field.name)\": "), "missing \(field.key)")
        }
        // Sections appear in their fixed order.
        let positions = RunConfig.sectionNames.filter { !alone.contains($0) }.map { text.range(of: "\"\($0)\": {")!.lowerBound }
        XCTAssertEqual(positions, positions.sorted())
        for section in alone.sorted() {
            var one = config
            one.lora = nil
            switch section {
            case "adapter": one.adapter = AdapterConfig()
            case "prefix_tuning": one.prefixTuning = PrefixTuningConfig()
            default: one.promptTuning = PromptTuningConfig()
            }
            let written = try one.jsonData()
            XCTAssertEqual(try RunConfig.parse(json: written, source: section), one.resolved(), section)
            let json = String(decoding: written, as: UTF8.self)
            for field in RunConfig.documentedFields where field.section == section {
                XCTAssertTrue(json.contains("\"\(field.name)\": "), "missing \(field.key)")
            }
        }

        // An unset vocabulary size survives as null.
        let defaults = try RunConfig.parse(json: try RunConfig().jsonData(), source: "x")
        XCTAssertEqual(defaults, RunConfig().resolved())
        XCTAssertNil(defaults.model.vocabSize)
    }

    func testPresetsRoundTrip() throws {
        for name in ["default", "gpt2-style", "llama-style", "shakespeare-char", "sample-creative", "sft", "dpo"] {
            let config = try RunConfig.load(from: repoRoot.appendingPathComponent("configs/\(name).json"))
            XCTAssertEqual(try RunConfig.parse(json: config.jsonData(), source: name), config.resolved(), name)
        }
    }

    func testFieldTableIsDocumented() throws {
        let fields = RunConfig.documentedFields
        XCTAssertEqual(Set(fields.map(\.key)).count, fields.count)
        XCTAssertEqual(fields.filter { $0.section == "model" }.count, 28)
        XCTAssertEqual(fields.filter { $0.section == "train" }.count, 32)
        XCTAssertEqual(fields.filter { $0.section == "sample" }.count, 17)
        for field in fields { XCTAssertFalse(field.doc.isEmpty, field.key) }

        let docs = try String(contentsOf: repoRoot.appendingPathComponent("docs/config.md"), encoding: .utf8)
        let reference = RunConfig.referenceMarkdown()
        XCTAssertTrue(docs.contains(reference),
                      "docs/config.md is out of date with the field table; paste this reference in:\n\n\(reference)")
        for field in fields { XCTAssertTrue(docs.contains("| `\(field.name)` |"), field.key) }
    }

    /// Issue 28's options: each bad value is one line naming the field, the value and what is allowed.
    func testCurriculumOptionsRefuseBadValues() {
        assertConfigError("train.label_smoothing must be in [0, 1), got 1.0") { _ = try parse("{}", overrides: ["train.label_smoothing=1"]) }
        assertConfigError("train.label_smoothing must be in [0, 1), got -0.1") { _ = try parse("{}", overrides: ["train.label_smoothing=-0.1"]) }
        assertConfigError("train.label_smoothing (0.1)", "dpo") {
            _ = try parse("{}", overrides: ["train.label_smoothing=0.1", "train.objective=dpo"])
        }
        assertConfigError("model.attention = prefix_lm", "sft or dpo", "train.objective is lm") {
            _ = try parse("{}", overrides: ["model.attention=prefix_lm"])
        }
        assertConfigError("model.attention must be one of causal, prefix_lm; got 'prefix'") { _ = try parse("{}", overrides: ["model.attention=prefix"]) }
        assertConfigError("model.swish_beta must be > 0 or \"learnable\" with activation swish, got 0.0") {
            _ = try parse("{}", overrides: ["model.activation=swish", "model.swish_beta=0"])
        }
        assertConfigError("model.swish_beta", "swiglu, got -1.0") { _ = try parse("{}", overrides: ["model.activation=swiglu", "model.swish_beta=-1"]) }
        assertConfigError("--set model.swish_beta=fast: expected number or \"learnable\"") { _ = try parse("{}", overrides: ["model.swish_beta=fast"]) }
        assertConfigError("model.swish_beta must be a number or \"learnable\", got") { _ = try parse(#"{"model": {"swish_beta": "fast"}}"#) }
        assertConfigError("sample.min_new_tokens (300) must not exceed sample.max_new_tokens (200)") {
            _ = try parse("{}", overrides: ["sample.min_new_tokens=300"])
        }
        assertConfigError("sample.min_new_tokens must be in [0, 1000000], got -1") { _ = try parse("{}", overrides: ["sample.min_new_tokens=-1"]) }
        assertConfigError("model.relative_attention_max_distance (16) must exceed model.relative_attention_num_buckets / 2 (32 / 2)") {
            _ = try parse("{}", overrides: ["model.position=t5", "model.relative_attention_max_distance=16"])
        }
        assertConfigError("model.relative_attention_num_buckets must be in [2, 4096], got 1") {
            _ = try parse("{}", overrides: ["model.relative_attention_num_buckets=1"])
        }
        // Allowed: the boundaries, β where it does not apply, prefix-LM with a split, and the options together.
        XCTAssertNoThrow(try parse("{}", overrides: ["train.label_smoothing=0.999", "sample.min_new_tokens=200", "model.swish_beta=-1"]))
        XCTAssertNoThrow(try parse("{}", overrides: ["model.attention=prefix_lm", "train.objective=sft", "model.position=t5",
                                                     "model.activation=swiglu", "model.swish_beta=learnable", "model.zero_init_output=true"]))
        XCTAssertNoThrow(try parse("{}", overrides: ["model.attention=prefix_lm", "train.objective=dpo"]))
    }

    /// The options default to what tinygpt did before them, and round-trip through the resolved config.
    func testCurriculumOptionsDefaultToNothingAndRoundTrip() throws {
        let defaults = try parse("{}")
        XCTAssertEqual(defaults.model.attention, .causal)
        XCTAssertEqual(defaults.model.swishBeta, .fixed(1))
        XCTAssertFalse(defaults.model.zeroInitOutput)
        XCTAssertEqual(defaults.train.labelSmoothing, 0)
        XCTAssertEqual(defaults.sample.minNewTokens, 0)
        XCTAssertEqual(defaults.model.feedForwardActivation.activation, .gelu)
        for overrides in [["model.swish_beta=learnable", "model.activation=swiglu"], ["model.swish_beta=1.5", "model.activation=swish"],
                          ["model.position=t5", "model.relative_attention_num_buckets=8", "model.relative_attention_max_distance=20"],
                          ["model.attention=prefix_lm", "train.objective=sft", "train.label_smoothing=0.1"],
                          ["model.zero_init_output=true", "model.activation=glu"], ["sample.min_new_tokens=5"]] {
            let config = try parse("{}", overrides: overrides)
            XCTAssertEqual(try RunConfig.parse(json: config.jsonData(), source: "resolved"), config.resolved(), "\(overrides)")
        }
        let learned = try parse("{}", overrides: ["model.swish_beta=learnable", "model.activation=swiglu"])
        XCTAssertTrue(String(decoding: try learned.jsonData(), as: UTF8.self).contains(#""swish_beta": "learnable""#))
        XCTAssertEqual(learned.model.feedForwardActivation.learnedBeta, true)
        XCTAssertEqual(try parse("{}", overrides: ["model.swish_beta=2", "model.activation=swiglu"]).model.feedForwardActivation.activation,
                       .swish(beta: 2))
    }
}
