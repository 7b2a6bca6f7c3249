"""Tokenizer benchmarks: tinygpt vs Hugging Face `tokenizers` and tiktoken, same machine, same session.

usage: python3 bench/speed/tokenizer_bench.py path/to/tinygpt /work/shared/data/tinyshakespeare.txt [repeats]
Needs `pip install tokenizers tiktoken`. Prints a Markdown table for docs/benchmarks.md.
Times are the best of `repeats` runs. tinygpt figures are its own in-process timings (file reading
and process start excluded) plus the wall time of the whole command for training.
"""
import json, os, re, subprocess, sys, tempfile, time

binary, data = sys.argv[1], sys.argv[2]
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
text = open(data, encoding="utf-8", newline="").read()
nbytes = len(text.encode("utf-8"))
tmp = tempfile.mkdtemp()

HF_CHILD = r'''
import sys, time, json
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
data, vocab, mode, repeats, tokpath = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
text = open(data, encoding="utf-8", newline="").read()
best = 1e9
if mode == "train":
    for _ in range(repeats):
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tr = trainers.BpeTrainer(vocab_size=vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        t = time.perf_counter(); tok.train_from_iterator([text], tr); best = min(best, time.perf_counter() - t)
    tok.save(tokpath)
    n = len(tok.encode(text).ids)
else:
    tok = Tokenizer.from_file(tokpath)
    lines = text.splitlines(keepends=True)
    for _ in range(repeats):
        t = time.perf_counter()
        if mode == "encode":
            n = len(tok.encode(text, add_special_tokens=False).ids)
        else:  # batch of lines: the parallel path of tokenizers
            n = sum(len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=False))
        best = min(best, time.perf_counter() - t)
print(json.dumps({"seconds": best, "tokens": n}))
'''

def hf(mode, vocab, threads, tokpath):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    out = subprocess.run([sys.executable, "-c", HF_CHILD, data, str(vocab), mode, str(repeats), tokpath],
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out)

def tiny_train(vocab, out):
    best, wall = 1e9, 1e9
    for _ in range(repeats):
        t = time.perf_counter()
        r = subprocess.run([binary, "tokenizer", "train", "--data", data, "--vocab-size", str(vocab), "--out", out],
                           capture_output=True, text=True, check=True)
        wall = min(wall, time.perf_counter() - t)
        best = min(best, float(re.search(r"in ([0-9.]+) s", r.stderr).group(1)))
    return best, wall

def tiny_encode(tok, threads):
    # --repeat: best of `repeats` encodes in one process; each encode starts with an empty cache.
    r = subprocess.run([binary, "tokenizer", "encode", "--tokenizer", tok, "--file", data, "--threads", str(threads),
                        "--repeat", str(repeats)], capture_output=True, text=True, check=True, env=dict(os.environ, TINYGPT_TIMING="1"))
    return float(re.search(r"in ([0-9.]+) s", r.stderr).group(1)), len(r.stdout.split())

rows = []
ours4096 = os.path.join(tmp, "tinygpt4096.json")
hf4096 = os.path.join(tmp, "hf4096.json")
t_train, t_wall = tiny_train(4096, ours4096)
rows.append(("tinygpt train vocab 4096", f"{t_train:.3f} s (whole command {t_wall:.3f} s)"))
for th in (1, 2):
    r = hf("train", 4096, th, hf4096)
    rows.append((f"tokenizers train vocab 4096, {th} thread(s)", f"{r['seconds']:.3f} s"))

for th in (1, 2):
    s, n = tiny_encode(ours4096, th)
    rows.append((f"tinygpt encode, {th} thread(s)", f"{nbytes / s / 1e6:.1f} MB/s ({s * 1000:.1f} ms, {n} tokens)"))
for th in (1, 2):
    for mode in ("encode", "batch"):
        r = hf(mode, 4096, th, ours4096)
        what = "one string" if mode == "encode" else "encode_batch of lines"
        rows.append((f"tokenizers encode ({what}), {th} thread(s), same file", f"{nbytes / r['seconds'] / 1e6:.2f} MB/s ({r['tokens']} tokens)"))

# tiktoken with the same merges: tinygpt ids are bytes 0..255 then merges in order, which is
# exactly tiktoken's rank order.
import tiktoken
d = json.load(open(ours4096, encoding="utf-8"))
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256)); cs = bs[:]; k = 0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256 + k); k += 1
u2b = {chr(c): b for b, c in zip(bs, cs)}
ranks = {bytes(u2b[ch] for ch in tokstr): i for tokstr, i in d["model"]["vocab"].items()}
enc = tiktoken.Encoding("tinygpt4096", pat_str=r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
                        mergeable_ranks=ranks, special_tokens={})
ids_tt = enc.encode_ordinary(text)
ids_ours = [int(x) for x in subprocess.run([binary, "tokenizer", "encode", "--tokenizer", ours4096, "--file", data],
                                           capture_output=True, text=True, check=True).stdout.split()]
best = 1e9
for _ in range(repeats):
    t = time.perf_counter(); enc.encode_ordinary(text); best = min(best, time.perf_counter() - t)
rows.append(("tiktoken encode_ordinary (1 thread), same merges", f"{nbytes / best / 1e6:.2f} MB/s (ids identical to tinygpt: {ids_tt == ids_ours})"))
chunks = text.split("\n\n")
chunks = [c + "\n\n" for c in chunks[:-1]] + [chunks[-1]]
best = 1e9
for _ in range(repeats):
    t = time.perf_counter(); enc.encode_ordinary_batch(chunks, num_threads=2); best = min(best, time.perf_counter() - t)
rows.append(("tiktoken encode_ordinary_batch (2 threads, paragraphs)", f"{nbytes / best / 1e6:.2f} MB/s"))

for v in (512, 4096, 16384):
    p = os.path.join(tmp, f"t{v}.json")
    t_train, _ = tiny_train(v, p)
    _, n = tiny_encode(p, 1)
    r = hf("train", v, 2, os.path.join(tmp, f"hf{v}.json"))
    rows.append((f"vocab {v}: bytes/token", f"tinygpt {nbytes / n:.3f} (train {t_train:.3f} s); tokenizers {nbytes / r['tokens']:.3f} (train {r['seconds']:.3f} s, 2 threads)"))

print(f"tinyshakespeare: {nbytes} bytes; best of {repeats}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}\n")
print("| measurement | result |\n|---|---|")
for a, b in rows: print(f"| {a} | {b} |")
