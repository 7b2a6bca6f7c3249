import Foundation
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
