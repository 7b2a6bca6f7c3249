import Foundation

extension MetricsLog {
    /// DPO's reward accuracy and margin against step: training batches (from
    /// log lines) and validation examples (from evaluations).
    func preferencePanelSVG() -> String {
        var series: [LinePlot.Series] = [
            .init("reward accuracy (batches)", color: "#9bc", width: 1, points: []), .init("reward accuracy (validation)", color: "#1f77b4", points: []),
            .init("reward margin (batches)", color: "#dba", width: 1, points: []), .init("reward margin (validation)", color: "#d62728", points: []),
        ]
        for r in records {
            guard let p = r.preference else { continue }
            let offset: Int
            if case .log = r { offset = 0 } else { offset = 1 }
            series[offset].points.append((Double(r.step), p.accuracy))
            series[2 + offset].points.append((Double(r.step), p.margin))
        }
        var plot = LinePlot(title: "DPO: reward accuracy and margin (rewards = β·(log π − log π_ref))", xLabel: "step",
                            yLabel: "accuracy (fraction of pairs) / margin (nats)", series: series)
        plot.yIncludes = [0, 1]
        return plot.svg()
    }
}
