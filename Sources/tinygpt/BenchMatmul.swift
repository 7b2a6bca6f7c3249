/// `tinygpt bench matmul`: GFLOP/s of the matmul kernels (filled in by the kernels work).
func runMatmulBench(_ args: [String]) throws {
    throw CLIError("bench matmul is not implemented yet")
}
