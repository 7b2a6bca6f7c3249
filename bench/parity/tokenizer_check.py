"""Cross-check tinygpt's tokenizer against Hugging Face `tokenizers`.

usage: python3 bench/parity/tokenizer_check.py TINYGPT_BINARY TOKENIZER_JSON TEXT_FILE...
Encodes each file with `tokenizers` (loading TOKENIZER_JSON) and with tinygpt, and
compares ids; also checks decode(encode(text)) == text on both sides.
"""
import subprocess, sys
from tokenizers import Tokenizer

binary, tok_path, files = sys.argv[1], sys.argv[2], sys.argv[3:]
tok = Tokenizer.from_file(tok_path)
bad = 0
for f in files:
    text = open(f, encoding="utf-8", newline="").read()
    hf = tok.encode(text, add_special_tokens=False).ids
    out = subprocess.run([binary, "tokenizer", "encode", "--tokenizer", tok_path, "--file", f],
                         capture_output=True, text=True, check=True).stdout.split()
    ours = [int(x) for x in out]
    if hf != ours:
        bad += 1
        i = next((k for k in range(min(len(hf), len(ours))) if hf[k] != ours[k]), min(len(hf), len(ours)))
        print(f"MISMATCH {f}: at token {i}: hf {hf[i:i+8]} ours {ours[i:i+8]} "
              f"(hf tokens {[tok.id_to_token(t) for t in hf[i:i+8]]})")
    else:
        print(f"ok {f}: {len(ours)} tokens")
    if tok.decode(hf, skip_special_tokens=False) != text:
        print(f"  note: tokenizers' decode does not round-trip {f}")
sys.exit(1 if bad else 0)
