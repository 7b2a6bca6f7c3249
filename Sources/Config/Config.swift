import Foundation
import Files
import Kernels
import NN

// The run config: one JSON file with sections model, tokenizer, data, train, sample.
// Each section below is a plain struct (defaults live in its property initializers)
// plus a field table; ConfigFields.swift turns the tables into decoding, `--set`,
// validation, encoding and docs. docs/config.md shows the same tables (a test keeps them in sync).

public enum NormPosition: String, CaseIterable, Sendable { case pre, post, deepnorm }
public enum PositionEncoding: String, CaseIterable, Sendable { case learned, sinusoidal, rope, alibi, t5, none }
public enum ActivationKind: String, CaseIterable, Sendable { case relu, gelu, gelu_tanh, swish, sigmoid, tanh, swiglu, geglu, reglu, glu, relu2 }
/// Which keys a query sees: the earlier positions (causal), or also the whole
/// prompt of a prompt–completion example (prefix_lm: bidirectional over the prompt).
public enum AttentionKind: String, CaseIterable, Sendable { case causal, prefix_lm }
/// Swish's β in x·σ(βx): a fixed number, or learned (one per hidden unit of each feed-forward, from 1).
public enum SwishBeta: Equatable, Sendable {
    case fixed(Double)
    case learnable
}
public enum InitScheme: String, CaseIterable, Sendable { case gpt2, xavier, kaiming }
public enum TokenizerKind: String, CaseIterable, Sendable { case char, bpe, wordpiece, unigram }
public enum SamplingStrategy: String, CaseIterable, Sendable { case greedy, sample, beam }
/// When beam search stops, as transformers' `early_stopping` defines it:
/// `never`, once no open hypothesis can beat the worst of the beam_width best
/// finished ones at its most favourable length; `true`, as soon as beam_width
/// hypotheses have finished; `false`, once none can beat them at its current length.
public enum EarlyStopping: String, CaseIterable, Sendable {
    case never
    case onceWidthFinished = "true"
    case atCurrentLength = "false"
}
/// What training minimises: next-token loss on text (lm), completion-only loss on prompt–completion pairs (sft), DPO on
/// preference pairs, a reward model's Bradley–Terry loss on preference pairs (reward), PPO and GRPO against a reward,
/// or a teacher's softened distribution mixed with the data's cross-entropy (distill, on text or prompt–completion pairs).
public enum TrainingObjective: String, CaseIterable, Sendable {
    case lm, sft, dpo, reward, ppo, grpo, distill

    /// PPO and GRPO: the model learns from its own sampled completions and their rewards.
    public var isPolicyOptimization: Bool { self == .ppo || self == .grpo }
}

/// Upper bounds of the size fields: far beyond what fits in memory, but low
/// enough that products of sizes cannot overflow before the memory check.
let maxWidth: Double = 1_048_576
let maxVocabulary: Double = 16_777_216

public struct ModelConfig: Equatable, Sendable, ConfigSection {
    /// nil: take the vocabulary size from the tokenizer.
    public var vocabSize: Int? = nil
    public var contextLength = 256
    public var nLayer = 6
    public var dModel = 384
    public var nHead = 6
    /// nil: same as `nHead`. Use `kvHeads` for the resolved value.
    public var nKVHead: Int? = nil
    /// nil: 4 · dModel. Use `feedForwardSize` for the resolved value.
    public var dFF: Int? = nil
    public var norm = NormKind.layerNorm
    public var normPosition = NormPosition.pre
    public var normEps = 1e-5
    public var position = PositionEncoding.learned
    public var ropeTheta = 10000.0
    /// nil: plain RoPE. Settable after training (eval, sample, logits, export): it changes no parameter.
    public var ropeScaling: RopeScaling? = nil
    /// T5's relative position buckets and the distance from which they stop growing (position = t5).
    public var relativeAttentionNumBuckets = 32
    public var relativeAttentionMaxDistance = 128
    public var attention = AttentionKind.causal
    public var activation = ActivationKind.gelu
    public var swishBeta = SwishBeta.fixed(1)
    public var bias = true
    public var dropout = 0.0
    public var tieEmbeddings = true
    /// nil: gpt2, or xavier with deepnorm (the DeepNet paper's). Use `initScheme` for the resolved value.
    public var initialization: InitScheme? = nil
    /// Start every residual branch's output projection (attn.out, ffn.down) at zero, whatever `initialization` draws.
    public var zeroInitOutput = false
    /// RMSNorm (no gain) on each head's queries and keys before RoPE and the scores.
    public var qkNorm = false
    /// nil: plain logits; c: c·tanh(logits/c).
    public var logitSoftcap: Double? = nil
    /// Start the untied output head at zero.
    public var zeroInitHead = false
    /// Value residual learning: every layer after the first mixes its values with the first layer's.
    public var valueResidual = false
    /// Value embedding tables added to the values of the first and last this-many layers; 0 = none.
    public var valueEmbeddings = 0

    public init() {}

    public var headSize: Int { dModel / nHead }
    public var kvHeads: Int { nKVHead ?? nHead }
    public var feedForwardSize: Int { dFF ?? 4 * dModel }
    public var initScheme: InitScheme { initialization ?? (normPosition == .deepnorm ? .xavier : .gpt2) }

    static let name = "model"
    static let fields: [ConfigField<ModelConfig>] = [
        .optionalInt("vocab_size", \.vocabSize, .between(1, maxVocabulary), "Vocabulary size; null takes it from the tokenizer."),
        .int("context_length", \.contextLength, .between(1, maxWidth), "Maximum sequence length in tokens (block size)."),
        .int("n_layer", \.nLayer, .between(1, 10_000), "Number of transformer blocks."),
        .int("d_model", \.dModel, .between(1, maxWidth), "Embedding (residual stream) width."),
        .int("n_head", \.nHead, .atLeast(1), "Attention heads; must divide d_model."),
        .optionalInt("n_kv_head", \.nKVHead, .atLeast(1), "Key/value heads; null = n_head (MHA), 1 = MQA, another divisor of n_head = GQA."),
        .optionalInt("d_ff", \.dFF, .between(1, 4 * maxWidth), "Feed-forward hidden width; null = 4 · d_model."),
        .choice("norm", \.norm, "Normalization layer."),
        .choice("norm_position", \.normPosition, "Normalize before (pre) or after (post) each sublayer; deepnorm = post-norm LN(α·x + f(x)) with α = (2N)^(1/4) and value, output and feed-forward weights initialised × (8N)^(−1/4) (DeepNet, Wang et al. 2022)."),
        .number("norm_eps", \.normEps, .greaterThan(0), "Epsilon added inside the normalization."),
        .choice("position", \.position, "Position information: learned table, fixed sinusoids (added to token embeddings × √d_model, as in Vaswani et al.), rotary (rope), ALiBi biases, T5's learned relative position bias (t5: one bias per head per distance bucket, shared by every layer), or none."),
        .number("rope_theta", \.ropeTheta, .greaterThan(0), "RoPE base frequency (used when position = rope)."),
        .ropeScaling("rope_scaling", \.ropeScaling, "RoPE scaling as in transformers: linear (position interpolation), dynamic (NTK-aware, grows past context_length) or yarn (with beta_fast, beta_slow, attention_factor, mscale, mscale_all_dim, original_max_position_embeddings, truncate); null = none. See docs/config.md."),
        .int("relative_attention_num_buckets", \.relativeAttentionNumBuckets, .between(2, 4096), "T5 relative positions (position = t5): buckets of distances; half hold one distance each (0, 1, …), half grow logarithmically up to relative_attention_max_distance (transformers' T5Config name)."),
        .int("relative_attention_max_distance", \.relativeAttentionMaxDistance, .atLeast(2), "T5 relative positions (position = t5): every distance from this one on shares the last bucket; must exceed relative_attention_num_buckets / 2."),
        .choice("attention", \.attention, "causal: each position sees itself and earlier ones; prefix_lm: the prompt of a prompt–completion example is also seen in full by every position (bidirectional over the prompt, causal over the completion); needs train.objective sft or dpo."),
        .choice("activation", \.activation, "Feed-forward activation; relu2 is squared ReLU max(0, x)² (Primer, So et al. 2021); swiglu, geglu, reglu and glu (sigmoid gate, Dauphin et al. 2017) are gated (GLU) variants."),
        .swishBeta("swish_beta", \.swishBeta, "β of Swish x·σ(βx) in activation swish and swiglu (ignored by others): a number > 0 (1 = SiLU), or \"learnable\": one β per hidden unit of each feed-forward, trained from 1."),
        .bool("bias", \.bias, "Biases in linear layers and norms."),
        .number("dropout", \.dropout, .halfOpen(0, 1), "Dropout probability during training."),
        .bool("tie_embeddings", \.tieEmbeddings, "Share the token embedding with the output projection."),
        .optionalChoice("init", \.initialization, "Weight init; gpt2 = normal(0, 0.02) with residual output projections scaled by 1/sqrt(2 · n_layer); null = gpt2, or xavier with norm_position = deepnorm."),
        .bool("zero_init_output", \.zeroInitOutput, "Initialise each block's residual output projections (attn.out, ffn.down) to zero, whatever init draws for the rest: every block starts as the identity."),
        .bool("qk_norm", \.qkNorm, "QK-norm: RMSNorm without a gain over each head's query and key vectors, before RoPE (as the modded-nanogpt speed-run; Dehghani et al. 2023 normalise queries and keys too): bounded scores at any learning rate."),
        .optionalNumber("logit_softcap", \.logitSoftcap, .greaterThan(0), "Logit soft-capping c: logits become c·tanh(logits/c), smoothly bounded in (−c, c) (Gemma 2's final_logit_softcapping; the modded-nanogpt speed-run); null = off."),
        .bool("zero_init_head", \.zeroInitHead, "Start the output head at zero (needs tie_embeddings false), as the modded-nanogpt speed-run: every token starts equally likely."),
        .bool("value_residual", \.valueResidual, "Value residual learning (ResFormer, Zhou et al. 2024): each layer after the first uses λ·v + (1 − λ)·v₁, v₁ the first layer's values, with one learned λ per layer starting at 0.5 (the paper's fixed value; learned as in the modded-nanogpt speed-run)."),
        .int("value_embeddings", \.valueEmbeddings, .atLeast(0), "Value embeddings (modded-nanogpt speed-run): N = this many extra token embedding tables (vocab × n_kv_head·head size), table i added to the values of layer i and of layer n_layer − N + i (a layer in both ranges takes the first); 0 = none, at most n_layer."),
    ]

    func checkCombinations() throws {
        guard dModel % nHead == 0 else {
            throw ConfigError("model.n_head (\(nHead)) must divide model.d_model (\(dModel))")
        }
        guard nHead % kvHeads == 0 else {
            throw ConfigError("model.n_kv_head (\(kvHeads)) must divide model.n_head (\(nHead))")
        }
        if position == .rope, headSize % 2 != 0 {
            throw ConfigError("model.position = rope needs an even head size; d_model / n_head = \(dModel) / \(nHead) = \(headSize)")
        }
        if position == .t5, 2 * relativeAttentionMaxDistance <= relativeAttentionNumBuckets {
            throw ConfigError("model.relative_attention_max_distance (\(relativeAttentionMaxDistance)) must exceed model.relative_attention_num_buckets / 2 (\(relativeAttentionNumBuckets) / 2): the logarithmic buckets span the distances between them")
        }
        if case .fixed(let beta) = swishBeta, beta <= 0, [.swish, .swiglu].contains(activation) {
            throw ConfigError("model.swish_beta must be > 0 or \"learnable\" with activation \(activation.rawValue), got \(beta)")
        }
        if normPosition == .deepnorm, initialization == .gpt2 {
            throw ConfigError("model.norm_position = deepnorm sets its own init gain β = (8·n_layer)^(−1/4); model.init = gpt2 adds the pre-norm rule 1/√(2·n_layer) on residual outputs: use init xavier (the paper's, and the default with deepnorm) or kaiming")
        }
        if zeroInitHead && tieEmbeddings {
            throw ConfigError("model.zero_init_head = true needs model.tie_embeddings = false: a tied head is the token embedding, which would start at zero too")
        }
        if valueEmbeddings > nLayer {
            throw ConfigError("model.value_embeddings (\(valueEmbeddings)) must be in 0...model.n_layer (\(nLayer)): table i serves layer i and layer n_layer − N + i")
        }
        if valueResidual && nLayer < 2 {
            throw ConfigError("model.value_residual = true needs model.n_layer ≥ 2 (it mixes later layers' values with the first layer's); n_layer is \(nLayer)")
        }
        try ropeScaling?.validate(key: "model.rope_scaling", position: position.rawValue, headSize: headSize)
    }
}

public struct TokenizerConfig: Equatable, Sendable, ConfigSection {
    public var type = TokenizerKind.char
    public var vocabSize = 512
    public var specialTokens: [String] = []
    /// The ids that end generation (a model's end-of-text and end-of-turn tokens); empty: the
    /// tokenizer's end-of-text special, found by name (`SpecialTokenNames.endOfText`).
    public var eosTokenIds: [Int] = []
    /// The id a sequence starts with (templates' `bos_token`, an empty prompt); nil: found by name.
    public var bosTokenId: Int? = nil

    public init() {}

    static let name = "tokenizer"
    static let fields: [ConfigField<TokenizerConfig>] = [
        .choice("type", \.type, "char: one token per character; bpe: byte-level BPE; wordpiece: WordPiece (BERT's, ## continuations); unigram: Unigram language model (Kudo 2018, SentencePiece's); the last three trained on the corpus (docs/tokenizer.md)."),
        .int("vocab_size", \.vocabSize, .between(1, maxVocabulary), "Target vocabulary size for bpe, wordpiece and unigram, special tokens included (ignored by char)."),
        .strings("special_tokens", \.specialTokens, "Extra tokens that are never split, e.g. \"<|endoftext|>\"."),
        .integers("eos_token_ids", \.eosTokenIds, .halfOpen(0, Double(maxVocabulary)),
                  "Token ids that end generation (end of text, end of turn), as imported models declare them; empty: the tokenizer's end-of-text special."),
        .optionalInt("bos_token_id", \.bosTokenId, .halfOpen(0, Double(maxVocabulary)),
                     "The beginning-of-sequence token id; null: the tokenizer's <s>/<|endoftext|>-style special, if any."),
    ]
}

public struct DataConfig: Equatable, Sendable, ConfigSection {
    public var path = "data/corpus.txt"
    public var valFraction = 0.1

    public init() {}

    static let name = "data"
    static let fields: [ConfigField<DataConfig>] = [
        .string("path", \.path, "Training data: a UTF-8 text file, or JSON Lines of prompt–completion or preference examples (docs/fine-tuning.md); --data overrides it."),
        .number("val_fraction", \.valFraction, .open(0, 1), "Fraction of the corpus (taken from the end) held out for validation."),
    ]
}

public struct TrainConfig: Equatable, Sendable, ConfigSection {
    public var batchSize = 12
    public var gradAccumSteps = 1
    public var maxSteps = 2000
    public var optimizer = OptimizerKind.adamw
    public var lr = 1e-3
    public var minLR = 1e-4
    public var warmupSteps = 100
    public var lrSchedule = ScheduleKind.cosine
    public var beta1 = 0.9
    public var beta2 = 0.99
    public var eps = 1e-8
    public var weightDecay = 0.1
    public var momentum = 0.9
    public var muonLR = 0.02
    public var muonMomentum = 0.95
    public var muonNesterov = true
    public var l1 = 0.0
    public var l2 = 0.0
    public var gradClip = 1.0
    public var evalInterval = 250
    public var evalSteps = 200
    public var logInterval = 10
    public var seed = 1337
    public var threads = 0
    public var objective = TrainingObjective.lm
    public var dpoBeta = 0.1
    public var labelSmoothing = 0.0
    /// The teacher checkpoint of a distill run; `train --teacher DIR` sets it.
    public var teacher = ""
    public var distillTemperature = 2.0
    public var distillAlpha = 0.5
    /// Steps over which training windows grow from seqLenWarmupStart to the full context; 0 = off.
    public var seqLenWarmupSteps = 0
    public var seqLenWarmupStart = 16

    public init() {}

    static let name = "train"
    static let fields: [ConfigField<TrainConfig>] = [
        .int("batch_size", \.batchSize, .between(1, maxWidth), "Sequences per micro-batch."),
        .int("grad_accum_steps", \.gradAccumSteps, .between(1, maxWidth), "Micro-batches whose gradients are summed per optimizer step."),
        .int("max_steps", \.maxSteps, .atLeast(1), "Optimizer steps to train."),
        .choice("optimizer", \.optimizer, "Optimizer: adamw (decoupled weight decay), adam, sgd with momentum, or muon (Keller Jordan 2024: momentum, then Newton–Schulz orthogonalisation of each 2-D block weight's update, at muon_lr; AdamW at lr for embeddings, head, norms and biases)."),
        .number("lr", \.lr, .greaterThan(0), "Peak learning rate."),
        .number("min_lr", \.minLR, .atLeast(0), "Final learning rate of the schedule; must be ≤ lr."),
        .int("warmup_steps", \.warmupSteps, .atLeast(0), "Linear warmup steps from 0 to lr; a warmup longer than max_steps is shortened to it, with a note."),
        .choice("lr_schedule", \.lrSchedule, "Decay from lr to min_lr after warmup."),
        .number("beta1", \.beta1, .halfOpen(0, 1), "Adam first-moment decay."),
        .number("beta2", \.beta2, .halfOpen(0, 1), "Adam second-moment decay."),
        .number("eps", \.eps, .greaterThan(0), "Adam denominator epsilon."),
        .number("weight_decay", \.weightDecay, .atLeast(0), "Weight decay of matrices and embeddings: decoupled (w ← w − lr·λ·w, lr the scheduled rate, as PyTorch's AdamW; Loshchilov & Hutter's paper scales λ·w by the schedule multiplier η_t alone, so its λ is lr_peak·λ here) with adamw; coupled, added to the gradient as λ·w, with adam and sgd."),
        .number("momentum", \.momentum, .halfOpen(0, 1), "SGD momentum (sgd only)."),
        .number("muon_lr", \.muonLR, .greaterThan(0), "Muon's peak learning rate for the blocks' 2-D weights (optimizer muon); it follows lr's schedule (× lr_t / lr). 0.02 as in modded-nanogpt."),
        .number("muon_momentum", \.muonMomentum, .halfOpen(0, 1), "Muon's momentum μ (optimizer muon): buf ← μ·buf + g. 0.95 as published."),
        .bool("muon_nesterov", \.muonNesterov, "Muon orthogonalises g + μ·buf (Nesterov, as published) instead of buf (optimizer muon)."),
        .number("l1", \.l1, .atLeast(0), "L1 penalty: λ₁·sign(w) added to the gradient of matrices and embeddings, after clipping."),
        .number("l2", \.l2, .atLeast(0), "L2 penalty: 2·λ₂·w added to the gradient of matrices and embeddings, after clipping."),
        .number("grad_clip", \.gradClip, .atLeast(0), "Clip the global gradient norm to this value; 0 = off."),
        .int("eval_interval", \.evalInterval, .atLeast(1), "Evaluate validation loss every this many steps."),
        .int("eval_steps", \.evalSteps, .atLeast(1), "Batches averaged per evaluation."),
        .int("log_interval", \.logInterval, .atLeast(1), "Print training loss every this many steps."),
        .int("seed", \.seed, .any, "Random seed for init, batches and dropout."),
        .int("threads", \.threads, .between(0, 1024), "Worker threads; 0 = all cores."),
        .choice("objective", \.objective, "lm: next-token loss on plain text; sft: loss on completion tokens only, on prompt–completion JSON Lines; dpo: DPO loss on preference JSON Lines against the frozen --init-from model (docs/fine-tuning.md); reward: a reward model (a scalar score head) on preference pairs; ppo, grpo: reinforcement learning from a reward on the prompts of JSON Lines (docs/rlhf.md); distill: learn from a teacher checkpoint's softened distribution and the data, on text (as lm) or prompt–completion JSON Lines (as sft) (docs/training.md)."),
        .number("dpo_beta", \.dpoBeta, .greaterThan(0), "DPO's β: how strongly the policy is held to the reference (TRL's beta); dpo only."),
        .number("label_smoothing", \.labelSmoothing, .halfOpen(0, 1), "Label smoothing ε of the training loss (lm, sft), as PyTorch's CrossEntropyLoss(label_smoothing=ε): each target becomes (1 − ε)·one-hot + ε·uniform over the vocabulary; evaluation reports the plain cross-entropy. 0 = off."),
        .string("teacher", \.teacher, "The teacher checkpoint (or run directory) a distill run learns from, with the same tokenizer and at least the student's context; distill only. train --teacher DIR sets it."),
        .number("distill_temperature", \.distillTemperature, .greaterThan(0), "T of distillation: teacher and student logits are divided by T before the softmax of the soft term, which is scaled by T² (Hinton et al. 2015); distill only."),
        .number("distill_alpha", \.distillAlpha, .between(0, 1), "α of distillation: loss = α·T²·KL(p_teacher,T ‖ p_student,T) + (1 − α)·cross-entropy on the data; 1 = teacher only, 0 = data only; distill only."),
        .int("seq_len_warmup_steps", \.seqLenWarmupSteps, .atLeast(0), "Sequence-length warm-up (objective lm): training windows grow linearly from seq_len_warmup_start tokens to the full context over this many steps, rounded down to a multiple of 8 (never below the start); evaluation always uses the full context. 0 = off."),
        .int("seq_len_warmup_start", \.seqLenWarmupStart, .atLeast(1), "The window length of step 0 under seq_len_warmup_steps; at most the context length."),
    ]

    func checkCombinations() throws {
        guard minLR <= lr else { throw ConfigError("train.min_lr (\(minLR)) must be in [0, train.lr] = [0, \(lr)]") }
        if objective == .dpo && labelSmoothing > 0 {
            throw ConfigError("train.label_smoothing (\(labelSmoothing)) smooths a cross-entropy; train.objective dpo has none: use 0")
        }
        if objective == .distill {
            if labelSmoothing > 0 { throw ConfigError("train.label_smoothing (\(labelSmoothing)) is not combined with train.objective distill, whose soft targets come from the teacher: use 0") }
        } else {
            let defaults = TrainConfig()
            let changed: [(field: String, value: String, isSet: Bool)] = [
                ("teacher", "'\(teacher)'", teacher != defaults.teacher),
                ("distill_temperature", "\(distillTemperature)", distillTemperature != defaults.distillTemperature),
                ("distill_alpha", "\(distillAlpha)", distillAlpha != defaults.distillAlpha)]
            if let first = changed.first(where: { $0.isSet }) {
                throw ConfigError("train.\(first.field) (\(first.value)) applies to train.objective distill; this run's objective is \(objective.rawValue): set train.objective=distill or remove the field")
            }
        }
        // A warmup longer than max_steps is allowed: a run shortens it (RunConfig.shortenWarmupToRun).
        if seqLenWarmupSteps > 0 && objective != .lm {
            throw ConfigError("train.seq_len_warmup_steps (\(seqLenWarmupSteps)) shortens the windows of plain text (train.objective lm); this run's objective is \(objective.rawValue): use 0")
        }
    }
}

public struct SampleConfig: Equatable, Sendable, ConfigSection {
    public var strategy = SamplingStrategy.sample
    public var maxNewTokens = 200
    public var minNewTokens = 0
    public var temperature = 0.8
    public var topK = 0
    public var topP = 1.0
    public var minP = 0.0
    public var repetitionPenalty = 1.0
    public var noRepeatNgram = 0
    public var beamWidth = 4
    public var lengthPenalty = 1.0
    public var earlyStopping = EarlyStopping.never
    public var numSamples = 1
    public var seed = 1337
    public var stop: [String] = []
    public var stream = true
    public var prompt = ""

    /// The sequences decoded side by side: the beams of a beam search, else the samples.
    public var sequences: Int { strategy == .beam ? beamWidth : numSamples }

    public init() {}

    static let name = "sample"
    static let fields: [ConfigField<SampleConfig>] = [
        .choice("strategy", \.strategy, "greedy: argmax; sample: draw from the filtered distribution; beam: beam search."),
        .int("max_new_tokens", \.maxNewTokens, .between(0, 1_000_000), "Tokens to generate after the prompt."),
        .int("min_new_tokens", \.minNewTokens, .between(0, 1_000_000), "End tokens are banned until this many tokens are generated (transformers' min_new_tokens); stop strings still stop. At most max_new_tokens."),
        .number("temperature", \.temperature, .atLeast(0), "Divide logits by this; 0 = greedy."),
        .int("top_k", \.topK, .atLeast(0), "Keep only the k most likely tokens; 0 = off."),
        .number("top_p", \.topP, .leftOpen(0, 1), "Nucleus sampling: keep the smallest set with probability ≥ top_p; 1 = off."),
        .number("min_p", \.minP, .halfOpen(0, 1), "Drop tokens whose probability is below min_p × the top probability; 0 = off."),
        .number("repetition_penalty", \.repetitionPenalty, .greaterThan(0), "Penalize logits of tokens already present; 1 = off."),
        .int("no_repeat_ngram", \.noRepeatNgram, .atLeast(0), "Forbid repeating any n-gram of this size; 0 = off."),
        .int("beam_width", \.beamWidth, .between(1, 256), "Beams kept (strategy = beam)."),
        .number("length_penalty", \.lengthPenalty, .any, "Beam score = log-prob / length^length_penalty (strategy = beam)."),
        .choice("early_stopping", \.earlyStopping, "When beam search stops, as transformers defines it: never = when no open beam can beat the finished ones at its best possible length; true = once beam_width beams have finished; false = when no open beam can beat them at its current length (strategy = beam; JSON true/false also accepted)."),
        .int("num_samples", \.numSamples, .between(1, 10_000), "Independent samples to generate; with beam search, the best num_samples beams (at most beam_width)."),
        .int("seed", \.seed, .any, "Random seed for sampling."),
        .strings("stop", \.stop, "Stop generating when any of these strings appears."),
        .bool("stream", \.stream, "Print tokens as they are generated."),
        .string("prompt", \.prompt, "Text to continue; empty starts from nothing."),
    ]
}

/// A whole run: every section, with defaults for whatever the file leaves out.
public struct RunConfig: Equatable, Sendable {
    public var model = ModelConfig()
    public var tokenizer = TokenizerConfig()
    public var data = DataConfig()
    public var train = TrainConfig()
    public var sample = SampleConfig()
    /// nil (no `lora` section): train every weight, as before LoRA existed.
    public var lora: LoRAConfig? = nil
    /// The other parameter-efficient methods (at most one PEFT section per run; see ConfigPEFT.swift).
    public var adapter: AdapterConfig? = nil
    public var prefixTuning: PrefixTuningConfig? = nil
    public var promptTuning: PromptTuningConfig? = nil
    /// PPO's and GRPO's settings (nil: the defaults), and what scores a completion.
    public var ppo: PPOConfig? = nil
    public var grpo: GRPOConfig? = nil
    public var reward: RewardConfig? = nil

    public init() {}

    /// The sections in file order; the only list of them. Everything that walks
    /// sections (decoding, `--set`, validation, encoding, docs) goes through it.
    private static let sections: [Slot] = [Slot(\.model), Slot(\.tokenizer), Slot(\.data), Slot(\.train), Slot(\.sample), Slot(optional: \.lora),
                                          Slot(optional: \.adapter), Slot(optional: \.prefixTuning), Slot(optional: \.promptTuning),
                                          Slot(optional: \.ppo), Slot(optional: \.grpo), Slot(optional: \.reward)]

    public static var sectionNames: [String] { sections.map(\.name) }

    /// A section seen through its key path, with the section type erased.
    private struct Slot {
        let name: String
        let documentedFields: [ConfigFieldInfo]
        /// nil: an optional section that is absent (not written).
        let json: (RunConfig) -> JSONValue?
        /// The names of the fields whose values differ between two configs.
        let differing: (RunConfig, RunConfig) -> [String]
        let validate: (RunConfig) throws -> Void
        let apply: (inout RunConfig, JSONValue) throws -> Void
        let override: (inout RunConfig, _ field: String, _ text: String) throws -> Void

        init<S: ConfigSection>(_ path: WritableKeyPath<RunConfig, S>) {
            name = S.name
            documentedFields = S.documentedFields
            json = { $0[keyPath: path].json }
            differing = { a, b in S.fields.filter { $0.get(a[keyPath: path]).serialized() != $0.get(b[keyPath: path]).serialized() }.map(\.name) }
            validate = { try $0[keyPath: path].validate() }
            apply = { config, value in try config[keyPath: path].apply(value) }
            override = { config, field, text in try config[keyPath: path].override(field: field, text: text) }
        }

        /// A section that exists only when the file (or a `--set`) names it; `null` removes it.
        init<S: ConfigSection>(optional path: WritableKeyPath<RunConfig, S?>) {
            name = S.name
            documentedFields = S.documentedFields
            json = { $0[keyPath: path]?.json }
            differing = { a, b in
                switch (a[keyPath: path], b[keyPath: path]) {
                case (nil, nil): return []
                case let (x?, y?): return S.fields.filter { $0.get(x).serialized() != $0.get(y).serialized() }.map(\.name)
                default: return S.fields.map(\.name)
                }
            }
            validate = { try $0[keyPath: path]?.validate() }
            apply = { config, value in
                if case .null = value { config[keyPath: path] = nil; return }
                var section = config[keyPath: path] ?? S()
                try section.apply(value)
                config[keyPath: path] = section
            }
            override = { config, field, text in
                var section = config[keyPath: path] ?? S()
                try section.override(field: field, text: text)
                config[keyPath: path] = section
            }
        }
    }

    private static func slot(named name: String) throws -> Slot {
        if let slot = sections.first(where: { $0.name == name }) { return slot }
        throw ConfigError("unknown key '\(name)'" + suggestion(for: name, among: sectionNames))
    }

    /// Reads a config file, applies `--set` overrides, then validates.
    public static func load(from url: URL, overrides: [String] = []) throws -> RunConfig {
        var config = try loadUnvalidated(from: url)
        try config.apply(overrides: overrides)
        try config.validate()
        return config
    }

    /// A config file applied on the defaults, not yet validated: for a caller
    /// that changes it further (`--init-from` puts a checkpoint's model in
    /// place, then the overrides apply) and validates the result once.
    public static func loadUnvalidated(from url: URL) throws -> RunConfig {
        let data: Data
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ConfigError("config file '\(url.path)' is a directory; give a JSON file (e.g. configs/default.json)")
        }
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ConfigError("cannot read config file '\(url.path)': \(plainReason(error))")
        }
        return try parseUnvalidated(json: data, source: url.path)
    }

    /// Parses config JSON (`source` names it in errors), applies `--set` overrides, then validates.
    public static func parse(json: Data, source: String, overrides: [String] = []) throws -> RunConfig {
        var config = try parseUnvalidated(json: json, source: source)
        try config.apply(overrides: overrides)
        try config.validate()
        return config
    }

    static func parseUnvalidated(json: Data, source: String) throws -> RunConfig {
        let root: JSONValue
        do {
            root = try JSONParser.parse(Array(json))
        } catch let failure as FileError {
            throw ConfigError("\(source): invalid JSON: \(failure.description)")
        }
        var config = RunConfig()
        do {
            try config.apply(root)
        } catch let error as ConfigError {
            throw ConfigError("\(source): \(error.description)")
        }
        return config
    }

    /// The sections a config file names (its top-level keys), in file order;
    /// empty when it cannot be read as a JSON object (loading it says why).
    public static func sectionNames(inFile url: URL) -> [String] {
        guard let data = FileManager.default.contents(atPath: url.path), case .object(let members)? = try? JSONParser.parse(Array(data)) else { return [] }
        return members.map(\.key)
    }

    /// Applies `section.field=value` assignments; each value is read per the field's type
    /// (string lists: comma-separated or a JSON array; optional integers: `null` unsets).
    public mutating func apply(overrides: [String]) throws {
        for assignment in overrides {
            guard let eq = assignment.firstIndex(of: "=") else {
                throw ConfigError("--set '\(assignment)' must look like section.field=value")
            }
            let key = String(assignment[..<eq]), text = String(assignment[assignment.index(after: eq)...])
            guard let dot = key.firstIndex(of: ".") else {
                throw ConfigError("--set '\(assignment)': '\(key)' must look like section.field, e.g. model.n_layer")
            }
            let section = String(key[..<dot]), name = String(key[key.index(after: dot)...])
            do {
                try RunConfig.slot(named: section).override(&self, name, text)
            } catch let error as ConfigError where !error.description.hasPrefix("--set") {
                throw ConfigError("--set \(assignment): \(error.description)")
            }
        }
    }

    /// The `section.field` keys whose values differ from `other`'s, in table
    /// order, within the named sections (all when nil).
    public func differingFields(from other: RunConfig, sections names: [String]? = nil) -> [String] {
        RunConfig.sections.filter { names?.contains($0.name) ?? true }.flatMap { slot in slot.differing(self, other).map { "\(slot.name).\($0)" } }
    }

    /// Checks every range, choice and cross-field rule; the error names the field(s) and value(s).
    /// Every command that reads a config runs this one check (train, info, compare, sample, …).
    public func validate() throws {
        for slot in RunConfig.sections { try slot.validate(self) }
        if model.attention == .prefix_lm && ![.sft, .dpo].contains(train.objective) {
            throw ConfigError("model.attention = prefix_lm needs examples split into prompt and completion (train.objective sft or dpo, on JSON Lines); train.objective is \(train.objective.rawValue)")
        }
        if let v = model.vocabSize {
            // The declared special ids must be tokens of this model.
            if let bad = tokenizer.eosTokenIds.first(where: { $0 >= v }) {
                throw ConfigError("tokenizer.eos_token_ids: \(bad) is not a token id of this model (model.vocab_size is \(v): ids 0..<\(v))")
            }
            if let bos = tokenizer.bosTokenId, bos >= v {
                throw ConfigError("tokenizer.bos_token_id: \(bos) is not a token id of this model (model.vocab_size is \(v): ids 0..<\(v))")
            }
        }
        // Across sections: the adapters must fit the model they attach to.
        try checkPEFT()
        if train.optimizer == .muon, let method = peftMethod {
            throw ConfigError("train.optimizer = muon orthogonalises the updates of the blocks' 2-D weights, and with a \(method.rawValue) section those are frozen (only the adapter's parameters train): use adamw")
        }
        try checkPolicyOptimization()
        if train.seqLenWarmupSteps > 0 && train.seqLenWarmupStart > tokenContextLength {
            throw ConfigError("train.seq_len_warmup_start (\(train.seqLenWarmupStart)) must be in 1...\(tokenContextLength), the training context (model.context_length)")
        }
    }

    /// The config with defaults that depend on other fields made explicit
    /// (`n_kv_head`, `d_ff`), so a saved copy does not depend on today's defaults.
    public func resolved() -> RunConfig {
        var copy = self
        copy.model.nKVHead = model.kvHeads
        copy.model.dFF = model.feedForwardSize
        copy.model.initialization = model.initScheme
        // A PPO or GRPO run records the settings it used.
        if train.objective == .ppo { copy.ppo = ppo ?? PPOConfig() }
        if train.objective == .grpo { copy.grpo = grpo ?? GRPOConfig() }
        return copy
    }

    /// The resolved config as pretty-printed JSON: every field, in table order; throws if invalid.
    /// `parse` reads it back to `resolved()`. This is what checkpoints store as config.json.
    public func jsonData() throws -> Data {
        // A config assembled in code may hold values no file could (NaN has no JSON form).
        try validate()
        return resolved().json.fileData
    }

    private var json: JSONValue { .object(RunConfig.sections.compactMap { s in s.json(self).map { (s.name, $0) } }) }

    /// Every field of every section, in table order, for docs and tests.
    public static var documentedFields: [ConfigFieldInfo] {
        sections.flatMap(\.documentedFields)
    }

    /// The field tables as Markdown, one table per section (docs/config.md embeds this text).
    public static func referenceMarkdown() -> String {
        var out = ""
        for section in sections {
            out += "### `\(section.name)`\n\n| field | type | default | allowed | meaning |\n|---|---|---|---|---|\n"
            for f in section.documentedFields {
                let allowed = f.allowed.isEmpty ? "any" : f.allowed
                func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
                out += "| `\(f.name)` | \(f.type) | `\(f.defaultValue)` | \(cell(allowed)) | \(cell(f.doc)) |\n"
            }
            out += "\n"
        }
        return out
    }

    /// Applies a whole config object: each member is a section applied on top of its current values.
    private mutating func apply(_ root: JSONValue) throws {
        guard case .object(let sections) = root else {
            throw ConfigError("the config must be a JSON object with sections \(RunConfig.sectionNames.joined(separator: ", ")); got \(root.summary)")
        }
        for (name, value) in sections {
            try RunConfig.slot(named: name).apply(&self, value)
        }
    }
}

extension RunConfig {
    /// A warmup longer than the run is shortened to the run (as nanoGPT and
    /// transformers accept it); returns the note for the user, or nil.
    public mutating func shortenWarmupToRun() -> String? {
        guard train.warmupSteps > train.maxSteps else { return nil }
        defer { train.warmupSteps = train.maxSteps }
        return "train.warmup_steps (\(train.warmupSteps)) is longer than train.max_steps (\(train.maxSteps)); warming up over all \(train.maxSteps) steps"
    }
}

extension SampleConfig {
    /// The one greedy rule (sampling and the exported generation config): the
    /// greedy strategy, or sampling at temperature 0.
    public var isGreedy: Bool { strategy == .greedy || temperature == 0 }

    /// The sample fields that do nothing under `strategy`: temperature, the
    /// filters and the seed shape a draw, which greedy and beam search never
    /// make; beam width, length penalty and early stopping belong to beam search.
    public static func fieldsWithoutEffect(under strategy: SamplingStrategy) -> [String] {
        let drawing = ["temperature", "top_k", "top_p", "min_p", "seed"], beam = ["beam_width", "length_penalty", "early_stopping"]
        switch strategy {
        case .sample: return beam
        case .greedy: return drawing + beam
        case .beam: return drawing
        }
    }

    func checkCombinations() throws {
        if minNewTokens > maxNewTokens {
            throw ConfigError("sample.min_new_tokens (\(minNewTokens)) must not exceed sample.max_new_tokens (\(maxNewTokens))")
        }
        if strategy == .beam && numSamples > beamWidth {
            throw ConfigError("sample.num_samples (\(numSamples)) must not exceed sample.beam_width (\(beamWidth)) with beam search: it returns the best num_samples of its beam_width beams")
        }
    }
}

extension ConfigSection {
    mutating func override(field name: String, text: String) throws {
        if !Self.fields.contains(where: { $0.name == name }), let dot = name.firstIndex(of: "."),
           let object = Self.fields.first(where: { $0.name == name[..<dot] }), let setMember = object.setMember {
            try setMember(&self, String(name[name.index(after: dot)...]), text, "\(Self.name).\(object.name)")
            return
        }
        let field = try Self.field(named: name)
        let key = "\(Self.name).\(name)"
        guard let value = field.parseText(text) else {
            throw ConfigError("--set \(key)=\(text): expected \(field.type)" + (field.allowed.isEmpty ? "" : " (\(field.allowed))") + ", got '\(text)'")
        }
        try field.set(&self, value, key)
    }
}

extension ActivationKind {
    /// The pointwise function and whether the feed-forward is gated (GLU variants).
    public var feedForward: (Activation, gated: Bool) {
        switch self {
        case .relu: return (.relu, false)
        case .gelu: return (.gelu, false)
        case .gelu_tanh: return (.geluTanh, false)
        case .swish: return (.swish(beta: 1), false)
        case .sigmoid: return (.sigmoid, false)
        case .tanh: return (.tanh, false)
        case .swiglu: return (.swish(beta: 1), true)
        case .geglu: return (.gelu, true)
        case .reglu: return (.relu, true)
        case .glu: return (.sigmoid, true)
        case .relu2: return (.reluSquared, false)
        }
    }
}

extension ModelConfig {
    /// The feed-forward's pointwise function with this config's Swish β, and
    /// whether it is gated; `learnedBeta` when β is a parameter (the function's β is then its start, 1).
    public var feedForwardActivation: (activation: Activation, gated: Bool, learnedBeta: Bool) {
        var (f, gated) = activation.feedForward
        guard case .swish = f else { return (f, gated, false) }
        switch swishBeta {
        case .fixed(let beta): f = .swish(beta: Float(beta)); return (f, gated, false)
        case .learnable: return (f, gated, true)
        }
    }
}

extension RunConfig {
    /// PPO and GRPO need something that scores a completion, and PPO's
    /// minibatches must split the batch evenly.
    func checkPolicyOptimization() throws {
        guard train.objective.isPolicyOptimization else { return }
        if reward?.isEmpty ?? true {
            throw ConfigError("train.objective \(train.objective.rawValue) needs a reward: --reward DIR (a checkpoint trained with train.objective=reward), or a rule in the reward section (reward.regex, reward.target_length, reward.avoid)")
        }
        if train.objective == .ppo, let ppo, train.batchSize % ppo.numMiniBatches != 0 {
            throw ConfigError("ppo.num_mini_batches (\(ppo.numMiniBatches)) must divide train.batch_size (\(train.batchSize)): each minibatch is an equal share of a batch's rollouts")
        }
    }

    /// The sampling settings and lengths of a PPO or GRPO run's completions.
    public var rolloutSettings: (maxTokens: Int, temperature: Double, topK: Int, topP: Double, stop: [String]) {
        if train.objective == .grpo {
            let g = grpo ?? GRPOConfig()
            return (g.maxCompletionLength, g.temperature, g.topK, g.topP, g.stop)
        }
        let p = ppo ?? PPOConfig()
        return (p.responseLength, p.temperature, p.topK, p.topP, p.stop)
    }
}
