"""Checks tinygpt's hand-written GPT-2 pre-tokenizer against `tokenizers` on random Unicode.

usage: python3 bench/tokenizer_pretok_check.py path/to/tinygpt [seed]

Trains tinygpt with an unreachable vocab size on a random text, so every distinct pre-token
becomes one token; `tokenizers` then encodes the same text with that file. The ids agree only
if both split the text into exactly the same pieces. Also compares piece counts directly.
"""
import os, random, subprocess, sys, tempfile
from tokenizers import Tokenizer, pre_tokenizers

binary = sys.argv[1]
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
special = ["'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", " ", " ", "  ", "\n", "\r\n", "\t", "\u00a0", "\u3000",
           "\u2028", "\u0085", "\u200b", "\u200d", "\u180e", "\ufeff", "\u000b", "\u000c", "\u001c", "\u1680", "\u2009", "\u202f", "\u205f"]
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
subprocess.run([binary, "tokenizer", "train", "--data", data, "--vocab-size", "10000000", "--out", tok], check=True, capture_output=True)
hf = Tokenizer.from_file(tok).encode(text, add_special_tokens=False).ids
ours = [int(x) for x in subprocess.run([binary, "tokenizer", "encode", "--tokenizer", tok, "--file", data],
                                       check=True, capture_output=True, text=True).stdout.split()]
pieces = pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str(text)
print(f"{len(text)} scalars, {len(pieces)} pieces by tokenizers, {len(ours)} tokens by tinygpt, {len(hf)} by tokenizers")
if hf != ours or len(pieces) != len(ours):
    i = next((k for k in range(min(len(hf), len(ours))) if hf[k] != ours[k]), 0)
    print("MISMATCH at token", i, "context:", repr(pieces[max(0, i - 2):i + 3]))
    sys.exit(1)
print("ok: identical pre-tokenization")
