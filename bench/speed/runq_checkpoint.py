#!/usr/bin/env python3
"""A random-weight checkpoint of the stories15M shape in llama2.c's int8
format for runq.c (export.py's version 2: a 256-byte header with magic
"ak42", version 2, the 7 config ints, the shared-classifier flag and the
group size; the float32 norms; then each weight as int8 values followed by
its float32 scales, groups of group_size over the flattened tensor, in the
order token embedding, wq, wk, wv, wo, w1 (gate), w2 (down), w3 (up),
classifier when not shared). The shape matches `tinygpt bench sample`
(untied head), so the two run the same arithmetic.

    python3 bench/speed/runq_checkpoint.py --vocab 512 --out /tmp/q512.bin

A benchmark tool only (numpy); llama2.c itself is never part of this repository.
"""
import argparse
import struct

import numpy as np


def quantize(w, group):
    g = w.reshape(-1, group)
    scale = np.abs(g).max(axis=1) / 127.0
    q = np.round(g / np.where(scale == 0, 1, scale)[:, None]).astype(np.int8)
    return q, scale.astype(np.float32)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    dim, hidden, layers, heads, kv_heads, seq = 288, 768, 6, 6, 6, 256
    group = 64
    while dim % group:
        group //= 2  # export.py's back-off: 32 for 288
    rng = np.random.default_rng(args.seed)

    def w(*shape, std=0.02):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    with open(args.out, "wb") as f:
        f.write(struct.pack("I", 0x616B3432) + struct.pack("i", 2))
        f.write(struct.pack("iiiiiii", dim, hidden, layers, heads, kv_heads, args.vocab, seq))
        f.write(struct.pack("B", 0) + struct.pack("i", group))
        f.write(b"\0" * (256 - f.tell()))
        for _ in range(2 * layers + 1):
            f.write(np.ones(dim, np.float32).tobytes())
        weights = [w(args.vocab, dim)]
        weights += [w(dim, dim) for _ in range(layers)] + [w(kv_heads * dim // heads, dim) for _ in range(2 * layers)]
        weights += [w(dim, dim) for _ in range(layers)]
        weights += [w(hidden, dim) for _ in range(layers)] + [w(dim, hidden) for _ in range(layers)] + [w(hidden, dim) for _ in range(layers)]
        weights.append(w(args.vocab, dim))
        for t in weights:
            q, s = quantize(t, group)
            f.write(q.tobytes())
            f.write(s.tobytes())


if __name__ == "__main__":
    main()
