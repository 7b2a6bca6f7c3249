#!/usr/bin/env python3
"""A random-weight checkpoint of llama2.c's stories15M shape, for timing run.c.

llama2.c (https://github.com/karpathy/llama2.c, never committed here) is the
generation reference of docs/benchmarks.md. This writes what its run.c reads,
from the formats as run.c documents them:

- model: legacy format, a header of 7 int32 (dim, hidden_dim, n_layers,
  n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means an
  unshared classifier), then float32 token embedding, rms_att, wq, wk, wv,
  wo, rms_ffn, w1, w2, w3, rms_final, two unused RoPE tables, and the classifier.
- tokenizer: int32 max_token_length, then per token a float32 score, an int32
  byte length and the bytes (only with --tokenizer; for vocab 32000 use the
  tokenizer.bin that ships with llama2.c).

Same shape as `tinygpt bench sample` (6 layers, d_model 288, 6 heads, SwiGLU
768, context 256, untied head). The classifier row of token 1 (BOS, where
run.c stops) is zero so that greedy decoding of random weights runs to the end.

    python3 bench/speed/llama2c_checkpoint.py --vocab 512 --out /tmp/s15m_512.bin --tokenizer /tmp/tok512.bin
    gcc -Ofast -march=native -fopenmp run.c -lm -o run   # in the llama2.c checkout
    OMP_NUM_THREADS=1 ./run /tmp/s15m_512.bin -z /tmp/tok512.bin -t 0 -n 256 -i ""
"""
import argparse
import struct

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--out", required=True)
    p.add_argument("--tokenizer", help="also write a byte-level tokenizer.bin of --vocab tokens here")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    dim, hidden, layers, heads, kv_heads, seq = 288, 768, 6, 6, 6, 256
    head_size = dim // heads
    rng = np.random.default_rng(args.seed)

    def w(*shape, std=0.02):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    with open(args.out, "wb") as f:
        f.write(struct.pack("7i", dim, hidden, layers, heads, kv_heads, -args.vocab, seq))
        parts = [w(args.vocab, dim), np.ones((layers, dim), np.float32),
                 w(layers, dim, dim), w(layers, kv_heads * head_size, dim), w(layers, kv_heads * head_size, dim),
                 w(layers, dim, dim), np.ones((layers, dim), np.float32),
                 w(layers, hidden, dim), w(layers, dim, hidden), w(layers, hidden, dim),
                 np.ones(dim, np.float32), np.zeros((2, seq, head_size // 2), np.float32)]
        classifier = w(args.vocab, dim)
        classifier[1] = 0
        parts.append(classifier)
        for part in parts:
            f.write(np.ascontiguousarray(part).tobytes())

    if args.tokenizer:
        tokens = [b"<unk>", b"\n<s>\n", b"\n</s>\n"] + [b"<0x%02X>" % i for i in range(256)]
        tokens += [b"t%d" % i for i in range(len(tokens), args.vocab)]
        tokens = tokens[:args.vocab]
        with open(args.tokenizer, "wb") as f:
            f.write(struct.pack("i", max(len(t) for t in tokens)))
            for t in tokens:
                f.write(struct.pack("fi", 0.0, len(t)) + t)


if __name__ == "__main__":
    main()
