import Foundation
import Files
import Model
import Config
import Formats
import Train

// What eval prints about positions: the JSON report, the per-bucket table, the plot.

/// eval --json: the totals, plus the buckets when --by-position asked for them.
func evaluationJSON(_ r: EvaluationResult, buckets: [PositionBucket]?, context: Int, stride: Int) -> String {
    var members: [(key: String, value: JSONValue)] = [("tokens", .int(r.tokens)), ("loss", .number(r.loss)),
                                                      ("perplexity", .number(r.perplexity)), ("bits_per_byte", .number(r.bitsPerByte))]
    if let buckets {
        members += [("context", .int(context)), ("stride", .int(stride)),
                    ("by_position", .array(buckets.map { .object(["start": .int($0.start), "end": .int($0.end), "tokens": .int($0.tokens), "loss": .number($0.loss)]) }))]
    }
    return JSONValue.object(members).serialized()
}

/// The buckets as aligned text rows.
func positionTable(_ buckets: [PositionBucket]) -> String {
    (["positions      tokens   loss"] + buckets.map {
        let range = "\($0.start)..<\($0.end)"
        return range.padding(toLength: max(12, range.count), withPad: " ", startingAt: 0) + String(format: " %8d   %.4f", $0.tokens, $0.loss)
    }).joined(separator: "\n")
}

/// Refuses a plot path that is a directory, before any work is done.
func checkPlotPath(_ path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        if isDirectory.boolValue { throw CLIError("--svg '\(path)' is a directory; give a file name") }
        // Replacing an existing file is asked for by naming it, but only a plot: never the data or anything else.
        guard path.lowercased().hasSuffix(".svg") else {
            throw CLIError("--svg '\(path)' exists and is not an .svg file; give a new path or an .svg file to replace")
        }
    }
}

/// Writes the loss-against-position plot.
func writePositionPlot(_ buckets: [PositionBucket], to path: String, trainedContext: Int, context: Int, run: RunConfig) throws {
    try checkPlotPath(path)
    var title = "loss by position: \(run.model.position.rawValue) positions, context \(context)"
    if let s = run.model.ropeScaling, let type = s.type { title += ", \(type.rawValue) ×\(s.factor.map { String(format: "%g", $0) } ?? "?")" }
    let svg = positionLossSVG(series: [(label: "", buckets: buckets)], trainedContext: trainedContext, title: title)
    do {
        try AtomicFile.write(Data(svg.utf8), to: URL(fileURLWithPath: path))
    } catch {
        throw CLIError("cannot write --svg '\(path)': \((error as NSError).localizedDescription)")
    }
}
