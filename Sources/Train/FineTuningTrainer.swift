import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Formats

/// The reference model's scores of both splits (DPO).
public struct ReferenceScores: Equatable, Sendable {
    public var train: ReferenceLogProbs
    public var validation: ReferenceLogProbs

    static let file = "reference_logps.safetensors"

    var tensors: [SafeTensor] {
        [("train.chosen", train.chosen), ("train.rejected", train.rejected),
         ("validation.chosen", validation.chosen), ("validation.rejected", validation.rejected)]
            .map { SafeTensor(name: $0.0, shape: [$0.1.count], values: $0.1) }
    }

    /// The scores a checkpoint saved, checked against the example counts.
    static func load(from checkpoint: URL, examples: ExampleSet) throws -> ReferenceScores {
        let url = checkpoint.appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TrainingError("cannot resume the DPO run in \(checkpoint.path): it has no \(file) (the reference model's log-probabilities)")
        }
        let file = try SafeTensors.read(from: url)
        for t in file.tensors { try Checkpoint.requireFinite(t.values, tensor: t.name, source: url.path) }
        let values = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.values) })
        func get(_ name: String, _ count: Int) throws -> [Float] {
            guard let v = values[name], v.count == count else {
                throw TrainingError("\(url.path): '\(name)' is missing or has the wrong length (need \(count) values); the file was edited or damaged")
            }
            return v
        }
        return ReferenceScores(
            train: ReferenceLogProbs(chosen: try get("train.chosen", examples.train.count), rejected: try get("train.rejected", examples.train.count)),
            validation: ReferenceLogProbs(chosen: try get("validation.chosen", examples.validation.count),
                                          rejected: try get("validation.rejected", examples.validation.count)))
    }
}

extension Trainer {
    /// Refuses an objective that does not fit the data's format, naming both.
    static func checkObjective(_ objective: TrainingObjective, format: DataFormat, dataPath: String) throws {
        guard !format.objectives.contains(objective) else { return }
        let holds: String
        switch format {
        case .text: holds = "plain text"
        case .promptCompletion: holds = "prompt-completion examples ({\"prompt\", \"completion\"})"
        case .preference: holds = "preference examples ({\"prompt\", \"chosen\", \"rejected\"})"
        case .promptOnly: holds = "prompts alone ({\"prompt\"})"
        }
        let needs: String
        switch objective {
        case .lm: needs = ""
        case .sft: needs = "; sft needs prompt-completion JSON Lines"
        case .dpo, .reward: needs = "; \(objective.rawValue) needs preference JSON Lines"
        case .ppo, .grpo: needs = "; \(objective.rawValue) needs JSON Lines with prompts"
        case .distill: needs = "; distill needs plain text or prompt-completion JSON Lines"
        }
        throw TrainingError("train.objective is \(objective.rawValue) but data file '\(dataPath)' holds \(holds), which train with train.objective=\(format.objectives[0].rawValue)" + needs)
    }

    /// Refuses a fresh DPO run without a starting checkpoint: it is the model
    /// to align and the frozen reference.
    static func checkReference(_ objective: TrainingObjective, initialModel: Bool) throws {
        guard [.dpo, .ppo, .grpo].contains(objective), !initialModel else { return }
        throw TrainingError("train.objective \(objective.rawValue) needs --init-from CKPT: the model to align (e.g. the SFT model), which is also \(objective == .dpo ? "DPO" : objective == .ppo ? "PPO" : "GRPO")'s frozen reference")
    }

    /// One optimizer step's forward and backward passes for sft or dpo:
    /// gradients accumulate over `accumulation` micro-batches of examples.
    /// SFT averages over every completion token of the step (as TRL does
    /// across accumulated micro-batches); DPO over every pair.
    /// Returns the step's loss and the tokens it processed.
    func fineTuningStep(examples: ExampleSet, batch: Int, accumulation: Int) throws -> (loss: Float, tokens: Int) {
        var tokens = 0
        switch config.train.objective {
        case .sft:
            let batches = (0..<accumulation).map { _ in
                SequenceBatch(sampler.nextExamples(count: examples.train.count, batch: batch).map { examples.train[$0].chosen })
            }
            let total = batches.map(\.scoredCount).reduce(0, +)
            var lossSum = 0.0
            for b in batches {
                let loss = completionLoss(model: model, batch: b, dropout: dropout, labelSmoothing: Float(config.train.labelSmoothing))
                guard loss.item.isFinite else { throw nonFinite("loss", loss.item) }
                let weight = Float(b.scoredCount) / Float(max(total, 1))
                lossSum += Double(loss.item) * Double(weight)
                scale(loss, weight).backward()
                tokens += b.rows * b.length
            }
            return (Float(lossSum), tokens)
        case .dpo:
            guard let reference else { throw TrainingError("DPO needs the reference model's log-probabilities") }
            var lossSum: Float = 0
            for _ in 0..<accumulation {
                let picked = sampler.nextExamples(count: examples.train.count, batch: batch)
                let scores = pairLogProbs(model: model, pairs: picked.map { examples.train[$0] }, dropout: dropout)
                let (loss, stats) = dpoLoss(policyChosen: scores.chosen, policyRejected: scores.rejected,
                                            referenceChosen: picked.map { reference.train.chosen[$0] },
                                            referenceRejected: picked.map { reference.train.rejected[$0] },
                                            beta: Float(config.train.dpoBeta))
                guard loss.item.isFinite else { throw nonFinite("loss", loss.item) }
                intervalPreference.add(stats)
                lossSum += loss.item
                scale(loss, 1 / Float(accumulation)).backward()
                tokens += picked.map { examples.train[$0].chosen.tokens.count + examples.train[$0].rejected!.tokens.count }.reduce(0, +)
            }
            return (lossSum / Float(accumulation), tokens)
        case .reward:
            return try rewardStep(examples: examples, batch: batch, accumulation: accumulation)
        case .lm, .ppo, .grpo, .distill:
            throw TrainingError("fineTuningStep: \(config.train.objective.rawValue) does not train on examples")
        }
    }

    /// The loss of the first eval_steps × batch_size examples of a split
    /// (in order, the same at every evaluation), and DPO's or a reward model's figures.
    func fineTuningEvaluation(_ split: [TokenizedExample], reference: ReferenceLogProbs?) -> (loss: Double, figures: Figures?) {
        let count = min(split.count, config.train.evalSteps * config.train.batchSize)
        let examples = Array(split.prefix(count))
        if let scoreModel {
            let stats = rewardStats(model: scoreModel, examples: examples, batch: config.train.batchSize)
            return (stats.loss, stats.figures)
        }
        if let reference {
            let stats = preferenceStats(model: model, examples: examples,
                                        reference: ReferenceLogProbs(chosen: Array(reference.chosen.prefix(count)),
                                                                     rejected: Array(reference.rejected.prefix(count))),
                                        beta: Float(config.train.dpoBeta), batch: config.train.batchSize)
            return (stats.loss, Figures(stats.named()))
        }
        return (completionLoss(model: model, examples: examples, batch: config.train.batchSize).loss, nil)
    }
}
