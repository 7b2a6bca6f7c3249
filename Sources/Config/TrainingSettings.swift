import NN

extension OptimizerSettings {
    /// The optimizer a run config's train section asks for: the one mapping,
    /// used by the trainer and by `bench train`.
    public init(_ t: TrainConfig) {
        self.init()
        kind = t.optimizer
        beta1 = Float(t.beta1); beta2 = Float(t.beta2); eps = Float(t.eps)
        weightDecay = Float(t.weightDecay); momentum = Float(t.momentum)
        l1 = Float(t.l1); l2 = Float(t.l2)
        muonLearningRateRatio = Float(t.muonLR / t.lr); muonMomentum = Float(t.muonMomentum); muonNesterov = t.muonNesterov
    }
}

extension LearningRateSchedule {
    /// The schedule of a run config's train section.
    public init(_ t: TrainConfig) {
        self.init(kind: t.lrSchedule, peak: Float(t.lr), minimum: Float(t.minLR), warmupSteps: t.warmupSteps, totalSteps: t.maxSteps)
    }
}

extension SequenceLengthSchedule {
    /// The training window lengths of a run config (the full training context when seq_len_warmup_steps is 0).
    public init(_ config: RunConfig) {
        self.init(start: config.train.seqLenWarmupStart, full: config.tokenContextLength, steps: config.train.seqLenWarmupSteps)
    }
}

extension RunConfig {
    /// A char tokenizer's vocabulary is the corpus's characters; before a
    /// corpus is read, this many are assumed (tinyshakespeare has 65, the
    /// benchmarks' reference).
    public static let assumedCharVocabulary = 65

    /// model.vocab_size, else what the tokenizer settings will give: for
    /// commands that size a model before any corpus is read (info, bench).
    public var expectedVocabularySize: Int {
        model.vocabSize ?? (tokenizer.type == .char ? RunConfig.assumedCharVocabulary : tokenizer.vocabSize)
    }
}
