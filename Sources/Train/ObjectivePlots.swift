import Foundation

extension MetricsLog {
    /// The panels below the loss curve for objectives with figures of their
    /// own: reward accuracy and margin (dpo, reward); reward and KL to the
    /// reference (ppo, grpo); the cross-entropy and KL parts of the loss
    /// (distill). Training batches come from log lines,
    /// validation from evaluations.
    func objectivePanelsSVG() -> [String] {
        let named = records.compactMap(\.figures)
        if named.contains(where: { $0["rewards/accuracies"] != nil }) {  // DPO
            return [pairPanel(title: "DPO: reward accuracy and margin (rewards = β·(log π − log π_ref))", accuracy: "rewards/accuracies", margin: "rewards/margins")]
        }
        if named.contains(where: { $0["accuracy"] != nil }) {  // a reward model
            return [pairPanel(title: "reward model: accuracy and margin (r(chosen) − r(rejected))", accuracy: "accuracy", margin: "margin")]
        }
        if named.contains(where: { $0["distill/kl"] != nil }) {  // distillation: the loss's two parts
            let (ce, kl) = (series("distill/ce"), series("distill/kl"))
            var plot = LinePlot(title: "distillation: loss = α·T²·kl + (1 − α)·ce (training batches)", xLabel: "step", yLabel: "nats per token", series: [
                .init("ce: cross-entropy on the data", color: "#1f77b4", points: ce.batches),
                .init("kl: KL(teacher ‖ student) at temperature T", color: "#d62728", points: kl.batches),
            ])
            plot.yIncludes = [0]
            return [plot.svg()]
        }
        let reward = named.contains { $0["objective/scores"] != nil } ? "objective/scores" : "reward"
        let kl = named.contains { $0["objective/kl"] != nil } ? "objective/kl" : "kl"
        guard named.contains(where: { $0[reward] != nil }) else { return [] }
        return [curves(title: "reward of sampled completions (\(reward)); greedy validation completions (eval_\(reward))", name: reward,
                       yLabel: "score"),
                curves(title: "KL to the reference (\(kl)): sampled completions; greedy validation completions", name: kl,
                       yLabel: reward == "reward" ? "nats per token (k3)" : "nats per completion")]
    }

    /// A figure from log lines and from evaluations.
    func series(_ name: String) -> (batches: [(x: Double, y: Double)], validation: [(x: Double, y: Double)]) {
        var batches: [(x: Double, y: Double)] = [], validation: [(x: Double, y: Double)] = []
        for r in records {
            guard let value = r.figures?[name] else { continue }
            if case .log = r { batches.append((Double(r.step), value)) } else { validation.append((Double(r.step), value)) }
        }
        return (batches, validation)
    }

    func pairPanel(title: String, accuracy: String, margin: String) -> String {
        let (a, b) = (series(accuracy), series(margin))
        var plot = LinePlot(title: title, xLabel: "step", yLabel: "accuracy (fraction of pairs) / margin", series: [
            .init("accuracy (batches)", color: "#9bc", width: 1, points: a.batches), .init("accuracy (validation)", color: "#1f77b4", points: a.validation),
            .init("margin (batches)", color: "#dba", width: 1, points: b.batches), .init("margin (validation)", color: "#d62728", points: b.validation),
        ])
        plot.yIncludes = [0, 1]
        return plot.svg()
    }

    func curves(title: String, name: String, yLabel: String) -> String {
        let s = series(name)
        var plot = LinePlot(title: title, xLabel: "step", yLabel: yLabel, series: [
            .init("\(name) (training rollouts)", color: "#1f77b4", width: 1, points: s.batches),
            .init("eval_\(name) (validation)", color: "#d62728", points: s.validation),
        ])
        plot.yIncludes = [0]
        return plot.svg()
    }
}
