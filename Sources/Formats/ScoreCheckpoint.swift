import Foundation
import Kernels
import Autograd
import Config
import Model

/// A reward model's checkpoint is a checkpoint whose config says
/// train.objective = reward, with its score head beside the base weights:
///
///     score.safetensors   "score.weight", (1, d_model), F32
extension Checkpoint {
    public static let scoreFile = "score.safetensors"

    /// The extra tensors that save a score model's head (for `save`).
    public static func scoreTensors(_ model: ScoreModel) -> [String: [SafeTensor]] {
        [scoreFile: [SafeTensor(name: ScoreModel.headName, shape: model.head.shape, values: model.head.toArray())]]
    }

    /// Whether a checkpoint directory is a reward model (it holds a score head).
    public static func isScoreModel(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(scoreFile).path)
    }

    /// A checkpoint with its score head: a reward model, or PPO's value model
    /// kept inside a run's checkpoint. `role` names it in errors ("--reward").
    public static func loadScoreModel(from directory: URL, role: String) throws -> (model: ScoreModel, loaded: Loaded) {
        guard isScoreModel(directory) else {
            let objective = (try? loadConfig(from: directory))?.train.objective.rawValue
            throw FormatError("\(role) '\(directory.path)' is not a reward model: it has no \(scoreFile) (a score head)"
                              + (objective.map { "; it was trained with train.objective=\($0)" } ?? "")
                              + "; train one with train.objective=reward on preference pairs")
        }
        let loaded = try load(from: directory)
        let url = directory.appendingPathComponent(scoreFile)
        let file = try SafeTensors.read(from: url)
        let d = loaded.config.model.dModel
        guard let entry = file[ScoreModel.headName], file.tensors.count == 1 else {
            throw FormatError("\(url.path): needs exactly one tensor, '\(ScoreModel.headName)' (1, \(d)); found \(file.tensors.map(\.name))")
        }
        guard entry.dtype == .f32, entry.shape == [1, d] else {
            throw FormatError("\(url.path): '\(ScoreModel.headName)' is \(entry.dtype.rawValue) \(describeShape(entry.shape)); the model needs F32 [1, \(d)]")
        }
        try requireFinite(entry.values, tensor: ScoreModel.headName, source: url.path)
        let model = ScoreModel(base: loaded.model, head: Tensor(entry.values, shape: [1, d]))
        return (model, loaded)
    }

    /// The head of a reward checkpoint (for export), or nil when it is not one.
    public static func scoreHead(in directory: URL) throws -> [Float]? {
        guard isScoreModel(directory) else { return nil }
        let file = try SafeTensors.read(from: directory.appendingPathComponent(scoreFile))
        return file[ScoreModel.headName]?.values
    }
}
