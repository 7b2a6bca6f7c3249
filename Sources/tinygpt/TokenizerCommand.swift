/// `tinygpt tokenizer train|encode|decode` (filled in by the tokenizer work).
func runTokenizerCommand(_ args: [String]) throws {
    throw CLIError("tokenizer is not implemented yet")
}
