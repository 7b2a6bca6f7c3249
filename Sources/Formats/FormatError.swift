/// A file that cannot be read or written as its format requires: a
/// safetensors file, a checkpoint, a Hugging Face directory, an output path.
/// The message names the path, what was found and what is allowed.
public struct FormatError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
