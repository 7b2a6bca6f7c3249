import Config

/// The small model, text and settings the PEFT training tests share.
enum PEFTTraining {
    static let text = String(repeating: "the quick brown fox jumps over the lazy dog. a small cat sat on a warm mat, and then it slept.\n", count: 40)

    static func config(maxSteps: Int, evalInterval: Int, _ change: (inout RunConfig) -> Void) -> RunConfig {
        var c = RunConfig()
        c.model.contextLength = 16; c.model.nLayer = 2; c.model.dModel = 24; c.model.nHead = 3; c.model.nKVHead = 1
        c.model.dFF = 40; c.model.activation = .swiglu; c.model.position = .rope; c.model.dropout = 0.1
        c.train.batchSize = 4; c.train.maxSteps = maxSteps; c.train.warmupSteps = 2; c.train.evalInterval = evalInterval
        c.train.evalSteps = 2; c.train.logInterval = 1; c.train.lr = 1e-2
        change(&c)
        return c
    }
}
