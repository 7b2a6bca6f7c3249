import XCTest
import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Tokenizer
import Generate

final class GenerateTests: XCTestCase {
    func model(_ change: (inout ModelConfig) -> Void = { _ in }) -> GPT {
        var c = ModelConfig()
        c.vocabSize = 13; c.contextLength = 12; c.nLayer = 2; c.dModel = 16; c.nHead = 4; c.dFF = 24
        change(&c)
        return GPT(config: c, seed: 11)
    }

    func testCachedLogitsEqualFullRecomputeAtEveryStep() {
        var variants: [(String, GPT)] = PositionEncoding.allCases.map { p in ("\(p)", model { $0.position = p }) }
        variants.append(("gqa", model { $0.nKVHead = 2; $0.position = .rope }))
        variants.append(("mqa", model { $0.nKVHead = 1; $0.position = .alibi }))
        variants.append(("post-norm rmsnorm swiglu", model { $0.normPosition = .post; $0.norm = .rmsNorm; $0.activation = .swiglu }))
        variants.append(("speed-run options", model { $0.qkNorm = true; $0.position = .rope; $0.activation = .relu2; $0.logitSoftcap = 1.5; $0.nKVHead = 2 }))
        variants.append(("qk-norm alibi softcap", model { $0.qkNorm = true; $0.position = .alibi; $0.logitSoftcap = 0.5 }))
        variants.append(("value residual + embeddings", model { $0.nLayer = 3; $0.valueResidual = true; $0.valueEmbeddings = 1; $0.position = .rope; $0.nKVHead = 2 }))
        let tokens: [Int32] = [3, 7, 1, 12, 0, 5, 5, 9, 2, 11]
        for (name, gpt) in variants {
            let caches = gpt.makeCaches()
            Autograd.noGrad {
                _ = gpt(Array(tokens.prefix(2)), batch: 1, length: 2, caches: caches)
                for t in 2..<tokens.count {
                    let cached = gpt([tokens[t]], batch: 1, length: 1, offset: t, caches: caches).toArray()
                    let full = gpt(Array(tokens.prefix(t + 1)), batch: 1, length: t + 1).toArray().suffix(13)
                    for (a, b) in zip(cached, full) {
                        XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "\(name) at position \(t)")
                    }
                }
            }
            XCTAssertEqual(caches[0].keys!.shape[1], gpt.config.kvHeads, "\(name): cache sized by K/V heads")
        }
    }

    func testGreedyEquivalents() {
        let logits: [Float] = [0.1, 2.5, -1, 2.4, 0.3]
        var greedy = DecodingSettings()
        greedy.greedy = true
        XCTAssertEqual(chooseToken(logits, history: [], settings: greedy, u: 0.99), 1)
        for u in [0.0, 0.5, 0.999] {
            var topK = DecodingSettings(); topK.topK = 1
            var topP = DecodingSettings(); topP.topP = 1e-9
            XCTAssertEqual(chooseToken(logits, history: [], settings: topK, u: u), 1, "top-k = 1")
            XCTAssertEqual(chooseToken(logits, history: [], settings: topP, u: u), 1, "top-p → 0")
        }
        // Whole generations: temperature 0, top-k 1, top-p → 0 and beam width 1 all equal greedy.
        let gpt = model()
        let tokenizer = try! CharTokenizer(trainingText: "abcdefghijklm")
        let generator = Generator(source: BatchedModel(gpt), tokenizer: tokenizer)
        var g = DecodingSettings(); g.greedy = true
        let reference = generator.sample(prompt: [1, 2], count: 1, maxNewTokens: 20, settings: g, seed: 1)[0].tokens
        var k1 = DecodingSettings(); k1.topK = 1
        var p0 = DecodingSettings(); p0.topP = 1e-9
        XCTAssertEqual(generator.sample(prompt: [1, 2], count: 1, maxNewTokens: 20, settings: k1, seed: 5)[0].tokens, reference)
        XCTAssertEqual(generator.sample(prompt: [1, 2], count: 1, maxNewTokens: 20, settings: p0, seed: 6)[0].tokens, reference)
        let beam = generator.beamSearch(prompt: [1, 2], width: 1, count: 1, maxNewTokens: 20, lengthPenalty: 0, settings: DecodingSettings())
        XCTAssertEqual(beam[0].tokens, reference, "beam width 1 is greedy")
        XCTAssertEqual(reference.count, 20, "past the context of 12: the window slides and generation goes on")
    }

    /// Generation stops at every declared end id (an end of text and an end of turn), on both
    /// paths and in beam search; without declared ids, at the end-of-text special found by name.
    func testGenerationStopsAtEveryEndToken() throws {
        let gpt = model()
        let tokenizer = try CharTokenizer(trainingText: "abcdefghijklm")
        var greedy = DecodingSettings(); greedy.greedy = true
        let free = Generator(source: BatchedModel(gpt), tokenizer: tokenizer).sample(prompt: [1, 2], count: 1, maxNewTokens: 12, settings: greedy, seed: 1)[0].tokens
        XCTAssertEqual(free.count, 12)
        XCTAssertTrue(Generator(source: BatchedModel(gpt), tokenizer: tokenizer).endTokens.isEmpty, "a char tokenizer has no end-of-text special")
        // The first token that is new after a few ends it; an unrelated second id changes nothing before it.
        let k = try XCTUnwrap((1..<free.count).first { !free.prefix($0).contains(free[$0]) })
        let end = free[k]
        let unrelated = Int((0..<13).first { t in !free.prefix(k + 1).contains(Int32(t)) }!)
        for generator in [Generator(source: BatchedModel(gpt), tokenizer: tokenizer, endTokenIds: [unrelated, Int(end)]),
                          Generator(source: InferenceRows { InferenceModel(model: gpt) }, tokenizer: tokenizer, endTokenIds: [Int(end), unrelated])] {
            XCTAssertEqual(generator.endTokens, [end, Int32(unrelated)])
            let out = generator.sample(prompt: [1, 2], count: 1, maxNewTokens: 12, settings: greedy, seed: 1)[0]
            XCTAssertEqual(out.tokens, Array(free.prefix(k)), "stops at the end id, which is not part of the output")
            XCTAssertEqual(out.text, tokenizer.decode(free.prefix(k).map(Int.init)))
            let beam = generator.beamSearch(prompt: [1, 2], width: 1, count: 1, maxNewTokens: 12, lengthPenalty: 0, settings: DecodingSettings())
            XCTAssertEqual(beam[0].tokens, Array(free.prefix(k)))
        }
        // The name rule: a tokenizer with an end-of-text special and no declared ids.
        let named = try CharTokenizer(trainingText: "abc", specialTokens: ["<|endoftext|>"])
        XCTAssertEqual(Generator(source: BatchedModel(gpt), tokenizer: named).endTokens, [Int32(named.id(ofSpecial: "<|endoftext|>")!)])
        XCTAssertEqual(Generator(source: BatchedModel(gpt), tokenizer: named, endTokenIds: [5, 7]).endTokens, [5, 7], "declared ids replace the name rule")
        XCTAssertEqual(Generator(source: BatchedModel(gpt), tokenizer: named, beginTokenId: 4).startToken(), 4)
        XCTAssertEqual(Generator(source: BatchedModel(gpt), tokenizer: named).startToken(), Int32(named.id(ofSpecial: "<|endoftext|>")!))
    }

    /// A hand-built distribution: after the prompt, token 1 (p 0.6) or 2 (p 0.4);
    /// after 1 the next is uniform over five tokens (best 0.12 in all), after 2 it
    /// is token 3 with p 0.9 (0.36 in all). Greedy takes 1; beam search finds 2, 3.
    struct ToyModel: NextTokenModel {
        func logits(_ sequence: [Int32]) -> [Float] {
            var p = [Double](repeating: 1e-9, count: 8)
            switch sequence.last {
            case 0: p[1] = 0.6; p[2] = 0.4
            case 1: for t in 3...7 { p[t] = 0.2 }
            case 2: p[3] = 0.9; p[4] = 0.1
            default: p[5] = 1
            }
            return p.map { Float(log($0)) }
        }
        mutating func start(prompt: [Int32]) -> [Float] { logits(prompt) }
        mutating func advance(_ sequences: [[Int32]], parents: [Int]) -> [[Float]] { sequences.map(logits) }
    }

    func testBeamSearchFindsTheMoreProbableSequence() {
        var toy = ToyModel()
        let best = beamSearch(&toy, prompt: [0], width: 2, count: 1, maxNewTokens: 2, lengthPenalty: 0,
                              settings: DecodingSettings(), endTokens: [], decode: { _ in [] })
        XCTAssertEqual(best[0].tokens, [2, 3])
        XCTAssertEqual(best[0].score!, log(0.36), accuracy: 1e-5)
        var greedy = DecodingSettings(); greedy.greedy = true
        let first = chooseToken(toy.logits([0]), history: [0], settings: greedy, u: 0)
        XCTAssertEqual(first, 1, "greedy goes the other way")
    }

    /// transformers' three early_stopping rules on a hand-built distribution
    /// (end token 7, length penalty 1) where each stops at another point:
    /// after step 1 "" finishes (log 0.4); after step 2 "1" (log 0.315 / 2) and
    /// true stops; after step 3 "2 4" (log 0.2473 / 3) and false stops, since
    /// "1 3" (log 0.035) cannot beat the finished ones at its current length;
    /// never goes on to max_new_tokens, where "1 3 5 5 …" (log 0.035 / 10) wins.
    func testEarlyStoppingRules() {
        struct Toy: NextTokenModel {
            func logits(_ sequence: [Int32]) -> [Float] {
                var p = [Double](repeating: 1e-9, count: 8)
                switch sequence.last {
                case 0: p[7] = 0.4; p[1] = 0.35; p[2] = 0.25
                case 1: p[7] = 0.9; p[3] = 0.1
                case 2: p[4] = 0.99; p[7] = 0.01
                case 4: p[7] = 0.999; p[5] = 0.001
                default: p[5] = 1
                }
                return p.map { Float(log($0)) }
            }
            mutating func start(prompt: [Int32]) -> [Float] { logits(prompt) }
            mutating func advance(_ sequences: [[Int32]], parents: [Int]) -> [[Float]] { sequences.map(logits) }
        }
        func best(_ rule: EarlyStopping) -> [Int32] {
            var toy = Toy()
            return beamSearch(&toy, prompt: [0], width: 2, count: 1, maxNewTokens: 10, lengthPenalty: 1, earlyStopping: rule,
                              settings: DecodingSettings(), endTokens: [7], decode: { _ in [] })[0].tokens
        }
        XCTAssertEqual(best(.onceWidthFinished), [1])
        XCTAssertEqual(best(.atCurrentLength), [2, 4])
        XCTAssertEqual(best(.never), [1, 3, 5, 5, 5, 5, 5, 5, 5, 5])
    }

    func testFilteringSemantics() {
        let logits: [Float] = [2, 1, 0.5, 0, -1]
        let p = filteredProbabilities(logits, temperature: 1, topK: 0, topP: 1, minP: 0)
        XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-12)
        let k2 = filteredProbabilities(logits, temperature: 1, topK: 2, topP: 1, minP: 0)
        XCTAssertEqual(k2[0] / k2[1], Double(exp(Float(1))), accuracy: 1e-5)
        XCTAssertEqual(k2[2...].reduce(0, +), 0)
        // top-p 0.7: the smallest prefix reaching 0.7 of the mass (tokens 0 and 1: 0.52 + 0.19 ≈ 0.71)
        let nucleus = filteredProbabilities(logits, temperature: 1, topK: 0, topP: 0.7, minP: 0)
        XCTAssertEqual(nucleus.filter { $0 > 0 }.count, 2)
        // min-p 0.2: drop tokens below 0.2 × the top probability (e^-1.5 ≈ 0.22 stays, e^-2 ≈ 0.14 goes)
        let minP = filteredProbabilities(logits, temperature: 1, topK: 0, topP: 1, minP: 0.2)
        XCTAssertEqual(minP.filter { $0 > 0 }.count, 3)
        // Temperature sharpens: the top token gains mass.
        XCTAssertGreaterThan(filteredProbabilities(logits, temperature: 0.5, topK: 0, topP: 1, minP: 0)[0], p[0])
        // Repetition penalty (CTRL) and n-gram bans.
        var l: [Float] = [2, -2, 1]
        applyRepetitionPenalty(&l, history: [0, 1, 0], penalty: 2)
        XCTAssertEqual(l, [1, -4, 1])
        XCTAssertEqual(bannedTokens(history: [5, 6, 7, 5, 6], n: 3), [7])
        XCTAssertEqual(bannedTokens(history: [5, 6, 7, 5, 6], n: 1), [5, 6, 7])
        // Logits of ±1e4 stay finite and exact.
        let extreme = filteredProbabilities([1e4, -1e4, 1e4 - 1] as [Float], temperature: 1, topK: 0, topP: 1, minP: 0)
        XCTAssertEqual(extreme[0], 1 / (1 + exp(-1)), accuracy: 1e-12)
        XCTAssertEqual(extreme[1], 0)
    }

    /// The cuts sort only their candidates; they keep exactly what cutting the
    /// fully sorted vocabulary keeps (ties included), for every combination.
    func testFilteringEqualsCuttingTheSortedVocabulary() {
        func reference(_ logits: [Float], temperature: Double, topK: Int, topP: Double, minP: Double) -> [Double] {
            let scaled = logits.map { Double($0) / temperature }
            let m = scaled.max()!
            var p = scaled.map { $0 == -.infinity ? 0 : exp($0 - m) }
            let total = p.reduce(0, +)
            p = p.map { $0 / total }
            let order = p.indices.sorted { p[$0] != p[$1] ? p[$0] > p[$1] : $0 < $1 }
            var keep = topK > 0 ? min(topK, p.count) : p.count
            if topP < 1 {
                let mass = order.prefix(keep).reduce(0.0) { $0 + p[$1] }
                var cumulative = 0.0, n = 0
                for i in order.prefix(keep) { cumulative += p[i] / mass; n += 1; if cumulative >= topP { break } }
                keep = n
            }
            for i in order[keep...] { p[i] = 0 }
            let threshold = minP * p.max()!
            for i in p.indices where p[i] < threshold { p[i] = 0 }
            let kept = p.reduce(0, +)
            return p.map { $0 / kept }
        }
        var g = RandomGenerator(seed: 23)
        for n in [1, 2, 7, 100, 5000] {
            for trial in 0..<6 {
                // Rounded logits make ties; some tokens banned (−∞).
                let logits = (0..<n).map { i -> Float in
                    if n > 1 && i % 11 == 3 { return -.infinity }
                    let x = Float(g.uniformDouble() * 8 - 4)
                    return trial % 2 == 0 ? (x * 2).rounded() / 2 : x
                }
                for (topK, topP, minP) in [(0, 1.0, 0.0), (0, 0.9, 0.0), (0, 0.0, 0.0), (0, 0.999999, 0.0), (1, 1.0, 0.0), (3, 1.0, 0.0),
                                           (40, 0.9, 0.0), (n, 0.5, 0.0), (n + 5, 0.7, 0.1), (0, 0.3, 0.05), (7, 0.95, 0.2)] {
                    let temperature = [0.7, 1.0, 1.3][trial % 3]
                    let fast = filteredProbabilities(logits, temperature: temperature, topK: topK, topP: topP, minP: minP)
                    let slow = reference(logits, temperature: temperature, topK: topK, topP: topP, minP: minP)
                    let label = "n \(n) trial \(trial) k \(topK) p \(topP) min-p \(minP)"
                    XCTAssertEqual(fast.map { $0 > 0 }, slow.map { $0 > 0 }, label)
                    for (a, b) in zip(fast, slow) { XCTAssertEqual(a, b, accuracy: 1e-12, label) }
                }
            }
        }
    }

    func testDrawFrequenciesMatchTheFilteredDistribution() {
        let logits: [Float] = [1.2, 0.9, 0.3, -0.2, -0.5, -3]
        let p = filteredProbabilities(logits, temperature: 0.9, topK: 5, topP: 0.95, minP: 0.05)
        var g = RandomGenerator(seed: 17)
        let n = 50_000
        var counts = [Int](repeating: 0, count: p.count)
        for _ in 0..<n { counts[drawToken(p, u: g.uniformDouble())] += 1 }
        XCTAssertTrue(zip(p, counts).allSatisfy { $0.0 > 0 || $0.1 == 0 }, "never a removed token")
        var chiSquare = 0.0, cells = 0
        for (pi, c) in zip(p, counts) where pi > 0 {
            chiSquare += pow(Double(c) - Double(n) * pi, 2) / (Double(n) * pi)
            cells += 1
        }
        // 99.9th percentile of χ² with up to 4 degrees of freedom is 18.47.
        XCTAssertLessThan(chiSquare, 18.47, "χ² = \(chiSquare) over \(cells) cells")
    }

    func testFixedSeedGivesIdenticalOutputAndSamplesDiffer() {
        let generator = Generator(source: BatchedModel(model()), tokenizer: try! CharTokenizer(trainingText: "abcdefghijklm"))
        var s = DecodingSettings(); s.temperature = 1.5
        let a = generator.sample(prompt: [0], count: 3, maxNewTokens: 15, settings: s, seed: 42)
        let b = generator.sample(prompt: [0], count: 3, maxNewTokens: 15, settings: s, seed: 42)
        XCTAssertEqual(a.map(\.tokens), b.map(\.tokens))
        XCTAssertNotEqual(a[0].tokens, a[1].tokens, "the batched samples are independent")
        // Sample 0 of a batch equals the same seed's single sample? No: draws interleave by row. Each row is still reproducible.
        let c = generator.sample(prompt: [0], count: 3, maxNewTokens: 15, settings: s, seed: 43)
        XCTAssertNotEqual(a.map(\.tokens), c.map(\.tokens))
    }

    func testStopStringsAndStreaming() {
        var scanner = StopScanner(stop: ["END"])
        var printed = ""
        for piece in ["he", "llo E", "N", "D more"] { printed += scanner.push(Array(piece.utf8)) }
        printed += scanner.finish()
        XCTAssertEqual(printed, "hello ")
        XCTAssertEqual(scanner.text, "hello ")
        XCTAssertTrue(scanner.stopped)
        // A held-back prefix that turns out not to be a stop string is printed after all.
        var s2 = StopScanner(stop: ["END"])
        XCTAssertEqual(s2.push(Array("x E".utf8)), "x ")
        XCTAssertEqual(s2.push(Array("nd".utf8)), "End")
        // A UTF-8 character split across pushes is printed once complete.
        var s3 = StopScanner(stop: [])
        let euro = Array("€".utf8)
        XCTAssertEqual(s3.push([euro[0]]), "")
        XCTAssertEqual(s3.push(Array(euro[1...])), "€")
    }
}
