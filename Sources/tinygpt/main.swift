import Foundation
import Kernels
import Files

let usage = """
    tinygpt: train and sample small GPT language models on the CPU

    usage: tinygpt <command> [options]

    commands:
      train                           train a model (no arguments: the default config on data/corpus.txt)
      sample                          generate text from a checkpoint (greedy, sampling, beam search)
      chat                            talk to a model through its chat template (imported instruct models)
      serve                           an OpenAI-compatible HTTP server and a chat page for a checkpoint
      eval                            perplexity and bits per byte of a checkpoint on a text
      compare --vary FIELD=a,b        train variants side by side: one table, one picture
      export --format hf|gguf         a checkpoint as a Hugging Face transformers model or a llama.cpp GGUF file
      import --format hf|gguf         a Hugging Face or GGUF model (GPT-2 or LLaMA family) as a checkpoint
      logits                          a checkpoint's logits for given token ids, as JSON
      quantize                        a checkpoint with int8, int4, f16 or bf16 weights, for sample, eval and logits
      prune --method magnitude|heads  a checkpoint with weights or attention heads set to zero, kept so by train
      info                            parameters, FLOPs and memory of a config or checkpoint
      tokenizer train|encode|decode   BPE, WordPiece, Unigram and char tokenizers
      bench NAME                      benchmarks: matmul, memory, train, sample (build with -c release)

    Run `tinygpt <command> --help` for a command's options.
    """

func run(_ args: [String]) throws {
    guard let command = args.first else {
        print(usage)
        return
    }
    let rest = Array(args.dropFirst())
    if let message = MatmulKernel.environmentError { throw CLIError(message) }
    switch command {
    case "train": try runTrainCommand(rest)
    case "sample": try runSampleCommand(rest)
    case "chat": try runChatCommand(rest)
    case "serve": try runServeCommand(rest)
    case "eval": try runEvalCommand(rest)
    case "compare": try runCompareCommand(rest)
    case "info": try runInfoCommand(rest)
    case "quantize": try runQuantizeCommand(rest)
    case "prune": try runPruneCommand(rest)
    case "export": try runExportCommand(rest)
    case "import": try runImportCommand(rest)
    case "logits": try runLogitsCommand(rest)
    case "tokenizer": try runTokenizerCommand(rest)
    case "bench": try runBenchCommand(rest)
    case "help", "--help", "-h": print(usage)
    default:
        throw CLIError("unknown command '\(command)'; expected one of: train, sample, chat, serve, eval, compare, info, quantize, prune, export, import, logits, tokenizer, bench, help")
    }
}

// A reader that goes away (`| head`) makes writes fail with EPIPE, reported
// as an error like any other failed write, instead of killing the process
// silently mid-command (training saves its checkpoint first).
signal(SIGPIPE, SIG_IGN)
do {
    try run(Array(CommandLine.arguments.dropFirst()))
    StandardOutput.flush()
} catch let error as CLIError {
    printError("tinygpt: error: \(error)")
    exit(2)
} catch let error as UsageError {
    printError("tinygpt: error: \(error)")
    exit(2)
} catch {
    printError("tinygpt: error: \(userMessage(error))")
    exit(1)
}
