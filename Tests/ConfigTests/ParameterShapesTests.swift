import XCTest
import Model
import Config
import NN

/// `ModelConfig.parameterShapes` (what `info` reports without building a
/// model) must list exactly what `GPT(config:)` builds.
final class ParameterShapesTests: XCTestCase {
    func testShapesMatchABuiltModelForEveryKindOfLayer() {
        var configs: [ModelConfig] = []
        for norm in NormKind.allCases {
            for normPosition in NormPosition.allCases {
                for activation in ActivationKind.allCases {
                    for position in PositionEncoding.allCases {
                        for (bias, tied) in [(true, true), (false, false)] {
                            var m = ModelConfig()
                            m.nLayer = 2; m.dModel = 12; m.nHead = 3; m.nKVHead = activation == .swiglu ? 1 : 3
                            m.contextLength = 7; m.vocabSize = 11; m.dFF = 10
                            m.norm = norm; m.normPosition = normPosition; m.activation = activation
                            m.position = position; m.bias = bias; m.tieEmbeddings = tied
                            configs.append(m)
                        }
                    }
                }
            }
        }
        // Learned Swish β (one vector per feed-forward), T5's table with other bucket counts.
        for (activation, position) in [(ActivationKind.swish, PositionEncoding.t5), (.swiglu, .rope), (.gelu, .t5)] {
            var m = ModelConfig()
            m.nLayer = 2; m.dModel = 12; m.nHead = 3; m.contextLength = 7; m.vocabSize = 11; m.dFF = 10
            m.activation = activation; m.position = position; m.swishBeta = .learnable; m.relativeAttentionNumBuckets = 6
            m.relativeAttentionMaxDistance = 9
            configs.append(m)
        }
        // Value residual's λ from the second layer on; value embedding tables (overlapping ranges at 3 of 4).
        for (layers, tables, kv) in [(2, 0, 3), (4, 2, 1), (4, 3, 3), (3, 3, 1)] {
            var m = ModelConfig()
            m.nLayer = layers; m.dModel = 12; m.nHead = 3; m.nKVHead = kv; m.contextLength = 7; m.vocabSize = 11; m.dFF = 10
            m.valueResidual = true; m.valueEmbeddings = tables
            configs.append(m)
        }
        for config in configs {
            let built = GPT(config: config, seed: 0).parameters.map { ParameterShape(name: $0.name, shape: $0.tensor.shape) }
            XCTAssertEqual(config.parameterShapes, built, "\(config)")
        }
    }

    /// Table i serves layer i and layer n_layer − N + i; a layer in both ranges takes the first.
    func testValueEmbeddingTablesServeTheFirstAndLastLayers() {
        var m = ModelConfig()
        m.nLayer = 4
        for (tables, expected) in [(0, [nil, nil, nil, nil]), (1, [0, nil, nil, 0]), (2, [0, 1, 0, 1]), (3, [0, 1, 2, 2]), (4, [0, 1, 2, 3])] as [(Int, [Int?])] {
            m.valueEmbeddings = tables
            XCTAssertEqual((0..<4).map { m.valueEmbeddingTable(layer: $0) }, expected, "\(tables) tables")
        }
    }
}

