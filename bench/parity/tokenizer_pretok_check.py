"""Checks tinygpt's hand-written pre-tokenizers against `tokenizers` on random Unicode.

usage: python3 bench/parity/tokenizer_pretok_check.py path/to/tinygpt [seed] [gpt2|llama3|qwen2|smollm]

gpt2 (default): trains tinygpt with an unreachable vocab size on a random text, so every distinct
pre-token becomes one token; `tokenizers` then encodes the same text with that file.
llama3, qwen2, smollm: `tokenizers` trains the same kind of file with that model's pre-tokenizer
(Split by its regex + ByteLevel, or Digits + ByteLevel) and tinygpt encodes with it.
The ids agree only if both split the text into exactly the same pieces. Also compares piece counts.
"""
import json, os, random, subprocess, sys, tempfile
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

binary = sys.argv[1]
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
kind = sys.argv[3] if len(sys.argv) > 3 else "gpt2"
special = ["'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re", "'ſ", " ", " ", "  ", "\n", "\r\n", "\r", "\t", "\u00a0", "\u3000",
           "\u2028", "\u0085", "\u200b", "\u200d", "\u180e", "\ufeff", "\u000b", "\u000c", "\u001c", "\u1680", "\u2009", "\u202f", "\u205f",
           "1", "22", "333", "4444", "٣", "½", "Ⅻ", "!\n", "?\r\n\n", " (", "((", " \n \n"]
def rand_scalar():
    r = rng.random()
    if r < 0.35: return chr(rng.randint(0x20, 0x7e))
    if r < 0.5: return rng.choice(special)
    if r < 0.7: return chr(rng.randint(0xa0, 0x2fff))
    while True:
        c = rng.randint(0x3000, 0x10ffff)
        if not (0xd800 <= c <= 0xdfff): return chr(c)
text = "".join(rand_scalar() for _ in range(60000))
d = tempfile.mkdtemp()
data, tok = os.path.join(d, "data.txt"), os.path.join(d, "tok.json")
open(data, "w", encoding="utf-8", newline="").write(text)
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
if kind == "gpt2":
    subprocess.run([binary, "tokenizer", "train", "--data", data, "--vocab-size", "1048576", "--out", tok], check=True, capture_output=True)
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False)
else:
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=kind == "smollm")
    first = {"llama3": pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"),
             "qwen2": pre_tokenizers.Split(Regex(LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")), behavior="isolated"),
             "smollm": pre_tokenizers.Digits(individual_digits=True)}[kind]
    pre = pre_tokenizers.Sequence([first, byte_level])
    t = Tokenizer(models.BPE()); t.pre_tokenizer = pre; t.decoder = decoders.ByteLevel()
    t.train_from_iterator([text], trainers.BpeTrainer(vocab_size=10_000_000, show_progress=False,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    t.save(tok)
hf = Tokenizer.from_file(tok).encode(text, add_special_tokens=False).ids
ours = [int(x) for x in subprocess.run([binary, "tokenizer", "encode", "--tokenizer", tok, "--file", data],
                                       check=True, capture_output=True, text=True).stdout.split()]
pieces = pre.pre_tokenize_str(text)
print(f"{kind}: {len(text)} scalars, {len(pieces)} pieces by tokenizers, {len(ours)} tokens by tinygpt, {len(hf)} by tokenizers")
if hf != ours or (kind == "gpt2" and len(pieces) != len(ours)):
    i = next((k for k in range(min(len(hf), len(ours))) if hf[k] != ours[k]), 0)
    print("MISMATCH at token", i, "context:", repr(pieces[max(0, i - 2):i + 3]))
    sys.exit(1)
print("ok: identical pre-tokenization")
