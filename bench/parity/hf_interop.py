"""Proof that tinygpt models cross to and from Hugging Face transformers.

For each preset (gpt2-style, llama-style, a GQA/untied llama variant, and the
sigmoid, tanh and GLU feed-forwards):
train a few steps with tinygpt, export with `tinygpt export --format hf`, load
with AutoModelForCausalLM / AutoTokenizer, and compare logits on random token
sequences (max relative error) and greedy continuations (identical tokens).
Then the reverse: save a tiny random GPT-2 and LLaMA with transformers, import
with `tinygpt import`, and compare the same way.

A benchmark tool, not a dependency:  pip install torch transformers
    python3 bench/parity/hf_interop.py .build/release/tinygpt data/corpus.txt
With --fixtures DIR it also writes the tiny HF models and their expected logits
used by the Swift tests (Tests/ModelTests/Fixtures); --rope-fixtures DIR writes
only the LLaMA fixtures with linear, dynamic and yarn rope_scaling.

RoPE scaling (model.rope_scaling, in transformers' vocabulary) is checked both
ways past the trained length: a llama-style run exported with
`--set model.rope_scaling=...` and LLaMAs saved by transformers with
rope_scaling, imported; logits compared on sequences 1.5× max_position_embeddings.
"""
import json, os, subprocess, sys, tempfile

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
TOLERANCE = 1e-4


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def tinygpt_logits(binary, checkpoint, ids, extra=()):
    return torch.tensor(json.loads(run(binary, "logits", "--checkpoint", checkpoint, "--ids", " ".join(map(str, ids)), *extra)))


def tinygpt_greedy(binary, checkpoint, ids, n, extra=()):
    # Greedy from token ids: drive `logits` step by step (the CLI's sample takes text).
    seq = list(ids)
    for _ in range(n):
        seq.append(int(tinygpt_logits(binary, checkpoint, seq, extra)[-1].argmax()))
    return seq[len(ids):]


def relative_error(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


SCALINGS = [{"rope_type": "linear", "factor": 2.0}, {"rope_type": "dynamic", "factor": 2.0},
            {"rope_type": "yarn", "factor": 4.0}, {"rope_type": "yarn", "factor": 2.0, "beta_fast": 16.0, "beta_slow": 2.0,
                                                   "attention_factor": 1.2, "truncate": False}]


def compare(name, binary, checkpoint, hf_model, vocab, context, length=None, extra=()):
    worst = 0.0
    for trial in range(3):
        ids = torch.randint(0, vocab, (length or min(context, 24),)).tolist()
        ours = tinygpt_logits(binary, checkpoint, ids, extra)
        with torch.no_grad():
            theirs = hf_model(torch.tensor([ids])).logits[0]
        worst = max(worst, relative_error(ours, theirs))
    prompt = torch.randint(0, vocab, (5,)).tolist()
    n = min(12, context - 5)
    ours_greedy = tinygpt_greedy(binary, checkpoint, prompt, n, extra)
    with torch.no_grad():
        theirs_greedy = hf_model.generate(torch.tensor([prompt]), max_new_tokens=n, do_sample=False,
                                          min_new_tokens=n, pad_token_id=0)[0, 5:].tolist()
    same = ours_greedy == theirs_greedy
    print(f"{name}: max relative logit error {worst:.2e} ({'ok' if worst <= TOLERANCE else 'FAIL'}); "
          f"greedy continuation {'identical' if same else 'DIFFERENT'}")
    return worst <= TOLERANCE and same


def tiny_llama(rope_scaling=None, head_dim=4):
    return LlamaForCausalLM(LlamaConfig(vocab_size=30, hidden_size=4 * head_dim, intermediate_size=24, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16,
                                        rope_theta=10000.0, tie_word_embeddings=False, bos_token_id=None, eos_token_id=None,
                                        rope_scaling=rope_scaling))


def write_fixtures(binary, fixtures, tmp, rope_only=False):
    """Tiny random GPT-2 and LLaMA models (a few KB) with a char tokenizer and expected logits.
    The rope-scaled LLaMAs (head size 16, so YaRN's ramp spans several dimensions) are scored
    on 24 ids: past max_position_embeddings = 16, where the scaling matters."""
    with open(f"{tmp}/chars.txt", "w") as f:
        f.write("abcdefghijklmnopqrstuvwxyz .,\n")
    run(binary, "tokenizer", "train", "--type", "char", "--data", f"{tmp}/chars.txt", "--out", f"{tmp}/chars.json")
    models = {} if rope_only else {
        "gpt2": GPT2LMHeadModel(GPT2Config(vocab_size=30, n_positions=16, n_embd=16, n_layer=2, n_head=4, n_inner=24,
                                           activation_function="gelu_new", bos_token_id=None, eos_token_id=None)),
        "llama": tiny_llama(),
    }
    models["llama-linear"] = tiny_llama({"rope_type": "linear", "factor": 2.0}, head_dim=16)
    models["llama-dynamic"] = tiny_llama({"rope_type": "dynamic", "factor": 2.0}, head_dim=16)
    models["llama-yarn"] = tiny_llama({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}, head_dim=16)
    for name, model in models.items():
        model.eval()
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0, 0.3)
        dest = f"{fixtures}/hf-{name}"
        model.save_pretrained(dest, safe_serialization=True)
        for extra in ["generation_config.json"]:
            if os.path.exists(f"{dest}/{extra}"):
                os.remove(f"{dest}/{extra}")
        with open(f"{tmp}/chars.json") as f, open(f"{dest}/tokenizer.json", "w") as g:
            g.write(f.read())
        ids = [1, 7, 29, 0, 5, 13, 2, 20]
        if "-" in name:
            ids = ids + [3, 9, 27, 11, 4, 18, 25, 6, 0, 14, 22, 8, 19, 2, 28, 10]
        with torch.no_grad():
            expected = model(torch.tensor([ids])).logits[0].tolist()
        with open(f"{dest}/expected_logits.json", "w") as f:
            json.dump({"ids": ids, "logits": expected}, f)
        print(f"fixture {dest}: {sum(p.numel() for p in model.parameters())} parameters")


def main():
    binary, corpus = sys.argv[1], sys.argv[2]
    fixtures = sys.argv[sys.argv.index("--fixtures") + 1] if "--fixtures" in sys.argv else None
    if "--rope-fixtures" in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            write_fixtures(binary, sys.argv[sys.argv.index("--rope-fixtures") + 1], tmp, rope_only=True)
        return
    ok = True
    small = ["--set", "model.n_layer=2", "--set", "model.d_model=64", "--set", "model.context_length=32",
             "--set", "tokenizer.vocab_size=300", "--set", "train.max_steps=5", "--set", "train.warmup_steps=1",
             "--set", "train.eval_interval=5", "--set", "train.eval_steps=2", "--set", "train.batch_size=4"]
    presets = [("gpt2-style", ["--set", "model.n_head=4", "--set", "model.n_kv_head=4", "--set", "model.d_ff=96"]),
               ("llama-style", ["--set", "model.n_head=4", "--set", "model.n_kv_head=2", "--set", "model.d_ff=96"]),
               ("llama-style", ["--set", "model.n_head=4", "--set", "model.n_kv_head=1", "--set", "model.d_ff=96",
                                "--set", "model.tie_embeddings=false", "--set", "model.rope_theta=500"]),
               # The activations transformers names too: GPT-2's sigmoid and tanh, LLaMA's sigmoid gate (GLU).
               ("gpt2-style", ["--set", "model.n_head=4", "--set", "model.n_kv_head=4", "--set", "model.d_ff=96", "--set", "model.activation=sigmoid"]),
               ("gpt2-style", ["--set", "model.n_head=4", "--set", "model.n_kv_head=4", "--set", "model.d_ff=96", "--set", "model.activation=tanh"]),
               ("llama-style", ["--set", "model.n_head=4", "--set", "model.n_kv_head=2", "--set", "model.d_ff=96", "--set", "model.activation=glu"])]
    with tempfile.TemporaryDirectory() as tmp:
        for k, (preset, extra) in enumerate(presets):
            run_dir, out = f"{tmp}/run{k}", f"{tmp}/hf{k}"
            run(binary, "train", "--config", f"configs/{preset}.json", "--data", corpus, "--out", run_dir, *small, *extra)
            run(binary, "export", "--checkpoint", run_dir, "--format", "hf", "--out", out)
            model = AutoModelForCausalLM.from_pretrained(out).eval()
            tokenizer = AutoTokenizer.from_pretrained(out)
            text = "Hello there, tinygpt! 123"
            ours_ids = json.loads(run(binary, "tokenizer", "encode", "--tokenizer", f"{out}/tokenizer.json", "--text", text, "--json"))
            same_tok = tokenizer(text)["input_ids"] == ours_ids
            print(f"export {preset} {' '.join(extra[1::2])}: tokenizer ids {'identical' if same_tok else 'DIFFERENT'}")
            ok &= same_tok
            ok &= compare(f"export {preset}", binary, run_dir, model, model.config.vocab_size, 32)

        # The reverse: tiny random models saved by transformers.
        # No bos/eos: GPT2Config's defaults (50256) are not ids of a 300-token vocabulary, which import refuses.
        gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=32, n_embd=48, n_layer=2, n_head=4, n_inner=80,
                                          activation_function="gelu_new", bos_token_id=None, eos_token_id=None)).eval()
        llama = LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                                             rope_theta=10000.0, tie_word_embeddings=False)).eval()
        gpt2_tanh = GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=32, n_embd=48, n_layer=2, n_head=4, n_inner=80,
                                               activation_function="tanh", bos_token_id=None, eos_token_id=None)).eval()
        llama_glu = LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                                                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                                                 rope_theta=10000.0, tie_word_embeddings=False, hidden_act="sigmoid")).eval()
        tokenizer_json = f"{tmp}/run0/latest/tokenizer.json"
        for name, model in [("gpt2", gpt2), ("llama", llama), ("gpt2 tanh", gpt2_tanh), ("llama glu", llama_glu)]:
            with torch.no_grad():  # larger weights than the default init, so errors show
                for p in model.parameters():
                    p.normal_(0, 0.2)
            src, ckpt = f"{tmp}/src-{name.replace(' ', '-')}", f"{tmp}/ckpt-{name.replace(' ', '-')}"
            model.save_pretrained(src, safe_serialization=True)
            with open(tokenizer_json) as f, open(f"{src}/tokenizer.json", "w") as g:
                g.write(f.read())
            run(binary, "import", "--format", "hf", "--from", src, "--out", ckpt)
            ok &= compare(f"import {name}", binary, ckpt, model, 300, 32)

        # RoPE scaling, export: the llama-style run (context 32) with rope_scaling set at export time.
        for k, scaling in enumerate(SCALINGS):
            out = f"{tmp}/hf-scaled{k}"
            setting = "model.rope_scaling=" + json.dumps(scaling)
            run(binary, "export", "--checkpoint", f"{tmp}/run1", "--format", "hf", "--out", out, "--set", setting)
            model = AutoModelForCausalLM.from_pretrained(out).eval()
            ok &= compare(f"export llama-style {json.dumps(scaling)}", binary, f"{tmp}/run1", model, model.config.vocab_size, 32,
                          length=48, extra=("--set", setting))
        # RoPE scaling, import: LLaMAs saved by transformers with rope_scaling.
        for k, scaling in enumerate(SCALINGS):
            model = LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=80, num_hidden_layers=2,
                                                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                                                 rope_theta=10000.0, tie_word_embeddings=False, rope_scaling=dict(scaling))).eval()
            with torch.no_grad():
                for p in model.parameters():
                    p.normal_(0, 0.2)
            src, ckpt = f"{tmp}/src-scaled{k}", f"{tmp}/ckpt-scaled{k}"
            model.save_pretrained(src, safe_serialization=True)
            with open(tokenizer_json) as f, open(f"{src}/tokenizer.json", "w") as g:
                g.write(f.read())
            run(binary, "import", "--format", "hf", "--from", src, "--out", ckpt)
            ok &= compare(f"import llama {json.dumps(scaling)}", binary, ckpt, model, 300, 32, length=48)
        if fixtures:
            write_fixtures(binary, fixtures, tmp)
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
