/// `tinygpt bench memory`: resident memory over many training-like steps.
func runMemoryBench(_ args: [String]) throws {
    throw CLIError("bench memory is not implemented yet")
}
