import Foundation
import Formats
import Kernels

let quantizeFlags = CommandFlags(
    command: "quantize", forms: ["--checkpoint DIR --out DIR [--format int8|int4] [--group-size N] [--float-embeddings] [--force]",
                                 "--checkpoint DIR --out DIR --format f16|bf16|f32 [--force]"],
    about: """
        Writes a copy of a checkpoint whose matrices are group-wise symmetric int8 (default) or int4: each group of
        N consecutive weights of a row keeps one float scale max|w|/127 (or /7). Norm gains, biases and a learned
        position table (or T5's bias table) stay float32. A prefix LM (model.attention = prefix_lm) is refused:
        quantized checkpoints run token by token. sample, eval, logits, info and bench sample read the result
        directly; training and export need the float checkpoint. Layout: docs/formats.md.
        """,
    flags: [
        Flag("checkpoint", "DIR", "the float checkpoint"), Flag("out", "DIR", "the checkpoint to write; new or empty"),
        Flag("format", "int8|int4|f16|bf16|f32", default: "int8", "the weights' format"),
        Flag("group-size", "N", "weights per scale (default \(QuantizedCheckpoint.preferredGroupSize), halved until it divides every row)"),
        Flag("float-embeddings", "keep the token embedding and output head float32"), .force,
    ],
    notes: """
        --format f16|bf16 stores every weight in 16 bits (IEEE half, or bfloat16), rounded to nearest even: half the
        file, computed in float32 once opened. Every command reads it as a float checkpoint (train --init-from too),
        and export --format hf writes the same dtype. --format f32 writes a whole float32 copy: an adapter checkpoint,
        which holds adapters only, gets a copy of its base beside them, so it needs no other checkpoint.
        example: tinygpt quantize --checkpoint runs/default-20261123-120000 --out runs/default-int8
        """)

func runQuantizeCommand(_ args: [String]) throws {
    guard var a = quantizeFlags.parse(args) else { return }
    guard let checkpoint = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt quantize --help)") }
    guard let out = try a.option("out") else { throw CLIError("--out DIR is required (tinygpt quantize --help)") }
    let formatName = try a.value("format")
    let groupText = try a.option("group-size")
    let floatEmbeddings = a.flag("float-embeddings")
    let force = a.flag("force")
    try a.finish()
    if formatName == "f32" || HalfFloat(rawValue: formatName) != nil {
        if let option = [("--group-size", groupText != nil), ("--float-embeddings", floatEmbeddings)].first(where: \.1) {
            throw CLIError("\(option.0) applies to int8 and int4; --format \(formatName) stores every weight as a float")
        }
        guard let half = HalfFloat(rawValue: formatName) else {
            printError(try CheckpointConversion.storeFloat(checkpoint, out: out, force: force, note: printNote))
            return
        }
        printError(try CheckpointConversion.storeHalf(checkpoint, out: out, dtype: SafeTensorsDType(half), force: force,
                                                      note: printNote))
        return
    }
    guard let format = QuantizedFormat(rawValue: formatName) else { throw CLIError("--format must be int8, int4, f16, bf16 or f32, got '\(formatName)'") }
    printError(try CheckpointConversion.quantize(checkpoint, out: out, format: format, groupSize: try groupSize(groupText), embeddings: !floatEmbeddings,
                                                  force: force, note: printNote))
}
