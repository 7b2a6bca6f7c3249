import XCTest
import Foundation

/// `train --set train.objective=sft|dpo` and `eval` on JSON Lines, as a user
/// runs them: the default → SFT → DPO path, and bad input refused with one line.
final class FineTuningCommandTests: CommandLineTestCase {
    /// Lines of JSON from (key, value) pairs in order (the characters all occur in text.txt).
    func writeLines(_ name: String, _ rows: [[(String, String)]]) throws {
        let text = rows.map { row in
            "{" + row.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ") + "}"
        }.joined(separator: "\n") + "\n"
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    let animals = ["cat", "dog", "rat", "toad", "goat", "ant"]

    func writeSets() throws {
        try writeLines("sft.jsonl", (0..<24).map { i in [("prompt", "the \(animals[i % 6]) "), ("completion", "sat on the mat.")] })
        try writeLines("pairs.jsonl", (0..<24).map { i in
            [("prompt", "the \(animals[i % 6]) "), ("chosen", "sat on the mat."), ("rejected", "ran to the dog.")]
        })
    }

    func testDefaultToSFTToDPOAndEval() throws {
        try writeSets()
        try trainTinyRun("base")
        let sft = try tinygpt(["train", "--init-from", path("base"), "--data", "sft.jsonl", "--out", "sft", "--set", "train.objective=sft"] + tiny)
        XCTAssertEqual(sft.status, 0, sft.stderr)
        XCTAssertTrue(sft.stderr.contains("prompt-completion examples, objective sft"), sft.stderr)
        XCTAssertTrue(sft.stdout.contains("eval step 6"), sft.stdout)

        let dpo = try tinygpt(["train", "--init-from", path("sft"), "--data", "pairs.jsonl", "--out", "dpo",
                               "--set", "train.objective=dpo", "--set", "train.dpo_beta=0.5"] + tiny)
        XCTAssertEqual(dpo.status, 0, dpo.stderr)
        XCTAssertTrue(dpo.stdout.contains("eval step 0 | train loss 0.6931 | val loss 0.6931"), dpo.stdout)
        XCTAssertTrue(dpo.stdout.contains("rewards/accuracies"), dpo.stdout)
        let metrics = String(decoding: contents("dpo/metrics.jsonl") ?? Data(), as: UTF8.self)
        for key in ["\"rewards/chosen\"", "\"rewards/rejected\"", "\"rewards/accuracies\"", "\"rewards/margins\"", "\"logps/chosen\"",
                    "\"logps/rejected\"", "\"eval_rewards/accuracies\""] {
            XCTAssertTrue(metrics.contains(key), key)
        }
        XCTAssertTrue(exists("dpo/latest/reference_logps.safetensors"))
        let resumed = try tinygpt(["train", "--out", "dpo", "--resume"])
        XCTAssertTrue(resumed.stderr.contains("already finished"), resumed.stderr)

        let completion = try tinygpt(["eval", "--checkpoint", "sft", "--data", "sft.jsonl", "--json"])
        XCTAssertEqual(completion.status, 0, completion.stderr)
        let c = try JSONSerialization.jsonObject(with: Data(completion.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(c?["format"] as? String, "prompt-completion")
        XCTAssertEqual(c?["tokens"] as? Int, 24 * "sat on the mat.".count, "completion tokens only (no end-of-text token in a char vocabulary)")
        let preference = try tinygpt(["eval", "--checkpoint", "dpo", "--data", "pairs.jsonl", "--reference", "sft", "--json"])
        XCTAssertEqual(preference.status, 0, preference.stderr)
        let p = try JSONSerialization.jsonObject(with: Data(preference.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(p?["pairs"] as? Int, 24)
        XCTAssertEqual(p?["beta"] as? Double, 0.5, "the checkpoint's dpo_beta")
        XCTAssertNotNil(p?["rewards/accuracies"])
        let same = try tinygpt(["eval", "--checkpoint", "sft", "--data", "pairs.jsonl", "--reference", "sft"])
        XCTAssertTrue(same.stdout.contains("loss 0.6931 | rewards/accuracies 0.000 | rewards/margins 0.0000"), same.stdout)
    }

    /// LoRA is a model matter, not a loss matter: SFT and DPO train adapters on a
    /// frozen base too, and DPO's step 0 is still ln 2 (B = 0 leaves the policy equal to the reference).
    func testLoRAWithSFTAndDPO() throws {
        try writeSets()
        try trainTinyRun("base")
        let lora = ["--set", "lora.rank=2", "--set", "lora.targets=[\"q\",\"v\",\"up\"]", "--set", "lora.dropout=0.1"]
        let sft = try tinygpt(["train", "--init-from", path("base"), "--data", "sft.jsonl", "--out", "sft",
                               "--set", "train.objective=sft"] + tiny + lora)
        XCTAssertEqual(sft.status, 0, sft.stderr)
        XCTAssertTrue(sft.stderr.contains("lora: ") && sft.stderr.contains("trainable parameters"), sft.stderr)
        XCTAssertTrue(exists("sft/best/adapter.safetensors"))
        XCTAssertFalse(exists("sft/best/model.safetensors"), "the base stays frozen, named in base.json")

        let dpo = try tinygpt(["train", "--init-from", path("sft"), "--data", "pairs.jsonl", "--out", "dpo",
                               "--set", "train.objective=dpo"] + tiny + lora)
        XCTAssertEqual(dpo.status, 0, dpo.stderr)
        XCTAssertTrue(dpo.stdout.contains("eval step 0 | train loss 0.6931 | val loss 0.6931"), dpo.stdout)
        XCTAssertTrue(exists("dpo/best/adapter.safetensors"))
        let eval = try tinygpt(["eval", "--checkpoint", "dpo", "--data", "pairs.jsonl", "--reference", "sft", "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
    }

    func testBadFineTuningInputIsRefusedWithOneLine() throws {
        try writeSets()
        try trainTinyRun("base")
        func train(_ data: String, _ objective: String, initFrom: Bool = true) throws -> Result {
            try tinygpt(["train", "--data", data, "--out", "fresh", "--set", "train.objective=\(objective)"]
                        + (initFrom ? ["--init-from", path("base")] : []) + tiny)
        }
        let good = "{\"prompt\": \"the cat \", \"completion\": \"sat.\"}\n"
        try (good + good + "{\"prompt\": \"the cat \", \"completion\": \"sat.\"\n").write(toFile: path("broken.jsonl"), atomically: true, encoding: .utf8)
        assertRefused(try train("broken.jsonl", "sft"), mentioning: "broken.jsonl' line 3: not valid JSON")
        try (good + "{\"prompt\": \"the cat \"}\n").write(toFile: path("missing.jsonl"), atomically: true, encoding: .utf8)
        assertRefused(try train("missing.jsonl", "sft"), mentioning: "line 2: missing \"completion\"")
        try (good + "{\"prompt\": \"the cat \", \"completion\": \"\"}\n").write(toFile: path("empty-completion.jsonl"), atomically: true, encoding: .utf8)
        assertRefused(try train("empty-completion.jsonl", "sft"), mentioning: "line 2: \"completion\" is empty")
        try "".write(toFile: path("empty.jsonl"), atomically: true, encoding: .utf8)
        assertRefused(try train("empty.jsonl", "sft"), mentioning: "is empty")
        try "\n\n".write(toFile: path("blank.jsonl"), atomically: true, encoding: .utf8)
        assertRefused(try train("blank.jsonl", "sft"), mentioning: "holds no examples")
        try (good + "{\"prompt\": \"the cat \", \"completion\": \"zzz\"}\n").write(toFile: path("unknown.jsonl"), atomically: true, encoding: .utf8)
        assertRefused(try train("unknown.jsonl", "sft"), mentioning: "example 2")

        assertRefused(try train("sft.jsonl", "dpo"), mentioning: "train.objective is dpo but data file")
        assertRefused(try train("pairs.jsonl", "sft"), mentioning: "holds preference examples")
        assertRefused(try train("pairs.jsonl", "lm"), mentioning: "train.objective is lm")
        assertRefused(try train("text.txt", "sft"), mentioning: "holds plain text")
        assertRefused(try train("pairs.jsonl", "dpo", initFrom: false), mentioning: "dpo needs --init-from")
        assertRefused(try train("pairs.jsonl", "rlhf"), mentioning: "train.objective must be one of lm, sft, dpo, reward, ppo, grpo")
        XCTAssertFalse(exists("fresh"), "a refused run leaves no directory")
        // --force over a run with bad data deletes nothing.
        let weights = contents("base/latest/model.safetensors")
        assertRefused(try tinygpt(["train", "--data", "broken.jsonl", "--out", "base", "--force", "--set", "train.objective=sft"] + tiny),
                      mentioning: "line 3")
        XCTAssertEqual(contents("base/latest/model.safetensors"), weights)

        assertRefused(try tinygpt(["compare", "--data", "sft.jsonl", "--vary", "train.lr=0.001,0.002", "--out", "cmp"] + tiny),
                      mentioning: "compare trains language models on plain text")
        XCTAssertFalse(exists("cmp"))

        // eval: preference data needs a reference with the same tokenizer.
        try String(repeating: "a rat ran to a toad. ", count: 60).write(toFile: path("other.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try tinygpt(["train", "--data", "other.txt", "--out", "other"] + tiny).status, 0)
        assertRefused(try tinygpt(["eval", "--checkpoint", "base", "--data", "pairs.jsonl"]), mentioning: "needs --reference CKPT")
        assertRefused(try tinygpt(["eval", "--checkpoint", "base", "--data", "pairs.jsonl", "--reference", "other"]), mentioning: "different tokenizer")
        assertRefused(try tinygpt(["eval", "--checkpoint", "base", "--data", "text.txt", "--reference", "base"]), mentioning: "plain text")
        assertRefused(try tinygpt(["eval", "--checkpoint", "base", "--data", "broken.jsonl"]), mentioning: "line 3")
    }
}
