import XCTest
import Foundation

/// Reward models, PPO and GRPO as a user runs them: base → reward model →
/// eval → PPO with --reward, GRPO with a rule; bad input refused with one
/// line before anything is written.
final class RLHFCommandTests: CommandLineTestCase {
    let animals = ["cat", "dog", "rat", "toad", "goat", "ant"]

    func writeLines(_ name: String, _ rows: [[(String, String)]]) throws {
        let text = rows.map { row in "{" + row.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ") + "}" }.joined(separator: "\n") + "\n"
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    func writePairs() throws {
        try writeLines("pairs.jsonl", (0..<24).map { i in [("prompt", "the \(animals[i % 6]) "), ("chosen", "sat."), ("rejected", "ran.")] })
        try writeLines("prompts.jsonl", (0..<24).map { i in [("prompt", "the \(animals[i % 6]) ")] })
    }

    var policyOptions: [String] { ["--set", "ppo.response_length=6", "--set", "grpo.max_completion_length=6", "--set", "grpo.num_generations=2",
                                   "--set", "train.max_steps=2", "--set", "train.eval_interval=2"] }

    func testRewardModelThenPPOAndGRPO() throws {
        try writePairs()
        try trainTinyRun("base")
        let rm = try tinygpt(["train", "--init-from", path("base"), "--data", "pairs.jsonl", "--out", "rm", "--set", "train.objective=reward"] + tiny)
        XCTAssertEqual(rm.status, 0, rm.stderr)
        XCTAssertTrue(rm.stdout.contains("accuracy"), rm.stdout)
        XCTAssertTrue(exists("rm/latest/score.safetensors"))
        let eval = try tinygpt(["eval", "--checkpoint", "rm", "--data", "pairs.jsonl", "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let e = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(e?["pairs"] as? Int, 24)
        XCTAssertNotNil(e?["accuracy"]); XCTAssertNotNil(e?["margin"])
        // Exported as transformers' sequence classifier: the base, score.weight, no lm_head; gguf refused.
        let export = try tinygpt(["export", "--checkpoint", "rm", "--format", "hf", "--out", "rm-hf"])
        XCTAssertEqual(export.status, 0, export.stderr)
        let hfConfig = String(decoding: contents("rm-hf/config.json") ?? Data(), as: UTF8.self)
        XCTAssertTrue(hfConfig.contains("ForSequenceClassification"), hfConfig)
        XCTAssertTrue(hfConfig.contains("LABEL_0"), hfConfig)
        let weights = String(decoding: contents("rm-hf/model.safetensors")?.prefix(4096) ?? Data(), as: UTF8.self)
        XCTAssertTrue(weights.contains("\"score.weight\""), "score.weight in the safetensors header")
        assertRefused(try tinygpt(["export", "--checkpoint", "rm", "--format", "gguf", "--out", "rm.gguf"]), mentioning: "is a reward model")

        let ppo = try tinygpt(["train", "--init-from", path("base"), "--reward", path("rm"), "--data", "prompts.jsonl", "--out", "ppo",
                               "--set", "train.objective=ppo"] + tiny + policyOptions)
        XCTAssertEqual(ppo.status, 0, ppo.stderr)
        XCTAssertTrue(ppo.stdout.contains("objective/kl"), ppo.stdout)
        XCTAssertTrue(exists("ppo/latest/reference/model.safetensors") && exists("ppo/latest/value_model/score.safetensors")
                      && exists("ppo/latest/reward_model/score.safetensors"))
        XCTAssertTrue(exists("ppo/rollouts.jsonl"))
        let resumed = try tinygpt(["train", "--out", "ppo", "--resume"])
        XCTAssertTrue(resumed.stderr.contains("already finished"), resumed.stderr)

        let grpo = try tinygpt(["train", "--init-from", path("base"), "--data", "prompts.jsonl", "--out", "grpo",
                                "--set", "train.objective=grpo", "--set", "reward.regex=s"] + tiny + policyOptions)
        XCTAssertEqual(grpo.status, 0, grpo.stderr)
        XCTAssertTrue(grpo.stdout.contains("rewards/regex/mean"), grpo.stdout)
        let metrics = String(decoding: contents("grpo/metrics.jsonl") ?? Data(), as: UTF8.self)
        for key in ["\"reward\"", "\"kl\"", "\"clip_ratio/region_mean\"", "\"eval_reward\""] { XCTAssertTrue(metrics.contains(key), key) }
    }

    func testBadPolicyOptimizationInputIsRefusedBeforeAnythingIsWritten() throws {
        try writePairs()
        try trainTinyRun("base")
        let grpo = ["--data", "prompts.jsonl", "--set", "train.objective=grpo", "--set", "reward.regex=s"] + tiny + policyOptions
        assertRefused(try tinygpt(["train", "--out", "a"] + grpo), mentioning: "needs --init-from")
        assertRefused(try tinygpt(["train", "--init-from", path("base"), "--out", "a"] + grpo + ["--set", "grpo.num_generations=1"]),
                      mentioning: "grpo.num_generations")
        assertRefused(try tinygpt(["train", "--init-from", path("base"), "--out", "a"] + grpo + ["--set", "reward.regex=(unclosed"]),
                      mentioning: "reward.regex")
        let long = try tinygpt(["train", "--init-from", path("base"), "--out", "a"] + grpo + ["--set", "grpo.max_completion_length=10"])
        assertRefused(long, mentioning: "24 of 24 prompts")
        XCTAssertTrue(long.stderr.contains("longer than model.context_length − grpo.max_completion_length"), long.stderr)
        assertRefused(try tinygpt(["train", "--init-from", path("base"), "--out", "a", "--data", "prompts.jsonl", "--set", "train.objective=ppo"] + tiny),
                      mentioning: "needs a reward")
        // --reward that is no reward model, or one with another tokenizer.
        let ppo = ["--data", "prompts.jsonl", "--set", "train.objective=ppo"] + tiny + policyOptions
        assertRefused(try tinygpt(["train", "--init-from", path("base"), "--reward", path("base"), "--out", "a"] + ppo), mentioning: "is not a reward model")
        try String(repeating: "a zebra quietly buzzed by the lake. ", count: 60).write(toFile: path("other.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try tinygpt(["train", "--data", "other.txt", "--out", "other"] + tiny).status, 0)
        try writeLines("other.jsonl", (0..<24).map { _ in [("prompt", "a zebra "), ("chosen", "by."), ("rejected", "lake.")] })
        XCTAssertEqual(try tinygpt(["train", "--init-from", path("other"), "--data", "other.jsonl", "--out", "otherrm",
                                    "--set", "train.objective=reward"] + tiny).status, 0)
        assertRefused(try tinygpt(["train", "--init-from", path("base"), "--reward", path("otherrm"), "--out", "a"] + ppo),
                      mentioning: "different tokenizer")
        assertRefused(try tinygpt(["train", "--init-from", path("base"), "--reward", path("otherrm"), "--out", "a", "--data", "pairs.jsonl",
                                   "--set", "train.objective=dpo"] + tiny), mentioning: "--reward")
        XCTAssertFalse(exists("a"), "nothing written")
    }
}
