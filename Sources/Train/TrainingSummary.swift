import Foundation
import Files
import Kernels
import Config
import Tokenizer
import Formats

extension Trainer {
    /// The line that ends a run in `directory`: where the best checkpoint is
    /// and its validation figure, or why there is none.
    public func doneSummary(directory: RunDirectory) -> String {
        let objective = config.train.objective
        let out = directory.url.path
        let hasBest = FileManager.default.fileExists(atPath: directory.best.path)
        if objective.isPolicyOptimization && hasBest {
            return String(format: "done: best validation score %.4f (greedy completions) in %@/best; rollouts: %@", -bestValidationLoss, out,
                          directory.rollouts.path)
        } else if [.dpo, .reward].contains(objective) && hasBest {
            return String(format: "done: best validation %@ loss %.4f in %@/best", objective == .dpo ? "DPO" : "reward-model", bestValidationLoss, out)
        } else if hasBest {
            return String(format: "done: best validation loss %.4f (perplexity %@) in %@/best", bestValidationLoss, perplexityText(bestValidationLoss), out)
        } else if objective.isPolicyOptimization {
            return String(format: "done: no evaluation beat the starting model's validation score %.4f (step 0), so there is no best/; the final model is in %@/latest",
                          -bestValidationLoss, out)
        }
        return String(format: "done: no evaluation beat the starting model's validation loss %.4f (step 0), so there is no best/; the final model is in %@/latest",
                      bestValidationLoss, out)
    }
}

extension TrainingRun {
    /// The lines that open a run on the console: where it writes, its data,
    /// teacher, model size, threads and how it starts, and any frozen base.
    public func startLines(resuming: Bool) -> [String] {
        let config = trainer.config, t = config.train
        var lines: [String] = []
        if let source = initializedFrom { lines.append("initialised from \(source.path)") }
        let parameters = trainer.model.parameters.map(\.tensor.count).reduce(0, +)
        lines.append("run directory: \(directory.url.path)")
        if let prompts = corpus.prompts {
            lines.append("data: \(config.data.path): \(prompts.train.count) training and \(prompts.validation.count) validation prompts, objective \(t.objective.rawValue), reward: \(TrainingRun.rewardDescription(config))")
        } else if let examples = corpus.examples {
            lines.append("data: \(config.data.path): \(examples.train.count) training and \(examples.validation.count) validation \(examples.format.rawValue) examples, objective \(t.objective.rawValue)\(t.objective == .dpo ? " (beta \(t.dpoBeta))" : ""), \(config.tokenizer.type.rawValue) tokenizer with \(corpus.tokenizer.vocabSize) tokens")
        } else {
            lines.append("data: \(config.data.path): \(corpus.train.count) training and \(corpus.validation.count) validation tokens, \(config.tokenizer.type.rawValue) tokenizer with \(corpus.tokenizer.vocabSize) tokens")
        }
        if let teacher = trainer.teacher {
            lines.append("distill: teacher \(t.teacher) (\(teacher.config.model.nLayer) layers, d_model \(teacher.config.model.dModel)), temperature \(t.distillTemperature), alpha \(t.distillAlpha)\(tokenizerFromTeacher ? "; the student takes its tokenizer" : "")")
        }
        let start = resuming ? "resuming at step \(trainer.step)" : initializedFrom != nil ? "fine-tuning" : "training from scratch"
        lines.append("model: \(grouped(parameters)) parameters; \(Parallel.threads) thread\(Parallel.threads == 1 ? "" : "s"); \(start) to step \(t.maxSteps)")
        if let method = config.peftMethod, let detail = config.peftDetail {
            let trainable = trainer.optimizer.parameters.map(\.tensor.count).reduce(0, +)
            lines.append(String(format: "%@: %@ trainable parameters (%.2f%% of the base), %@; base weights frozen",
                                method.rawValue, grouped(trainable), 100 * Double(trainable) / Double(max(parameters, 1)), detail))
        }
        return lines
    }

    /// The lines that close a run: the best checkpoint, where the curves are,
    /// and the commands that sample from it (a validation prompt when the data has prompts) and measure it.
    public func finishLines() -> [String] {
        let out = directory.url.path
        let validationPrompt = corpus.examples.flatMap({ $0.validation.first }).map({ corpus.tokenizer.decode($0.chosen.tokens.prefix($0.chosen.promptLength).map(Int.init)) })
            ?? corpus.prompts.flatMap({ $0.validation.first }).map({ corpus.tokenizer.decode($0.map(Int.init)) })
        return [trainer.doneSummary(directory: directory),
                "loss curve: \(directory.lossCurve.path); metrics: \(directory.metrics.path)",
                validationPrompt.map { "sample:  tinygpt sample --checkpoint \(out) --prompt \(TrainingRun.shellQuoted($0)) --strategy greedy  (a validation prompt)" }
                    ?? "sample:  tinygpt sample --checkpoint \(out) --prompt \"The \"",
                "measure: tinygpt eval --checkpoint \(out) --data FILE"]
    }

    /// What scores a PPO or GRPO run's completions, for the console.
    public static func rewardDescription(_ config: RunConfig) -> String {
        let r = config.reward ?? RewardConfig()
        var parts: [String] = []
        if !r.model.isEmpty { parts.append("reward model \(r.model)") }
        if !r.regex.isEmpty { parts.append("regex \(r.regex)") }
        if let n = r.targetLength { parts.append("target length \(n)") }
        if !r.avoid.isEmpty { parts.append("avoid \(r.avoid.joined(separator: ","))") }
        return parts.joined(separator: " + ")
    }

    /// Text as one POSIX shell word: $'…' with newlines, tabs, backslashes and quotes escaped.
    public static func shellQuoted(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            default: out.unicodeScalars.append(c)
            }
        }
        return "$'" + out + "'"
    }
}
