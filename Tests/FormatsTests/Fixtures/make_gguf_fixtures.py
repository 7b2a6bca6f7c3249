"""Writes the GGUF fixtures the Swift tests read (Tests/FormatsTests/GGUFTests.swift).

    python3 Tests/FormatsTests/Fixtures/make_gguf_fixtures.py Tests/FormatsTests/Fixtures

Needs `pip install gguf numpy torch transformers` (never a dependency of the build or
the tests: the files it writes are committed). Deterministic: the same packages write
the same files.

- gguf-types.gguf: for every tensor type tinygpt reads (F32, F16, BF16, Q8_0, Q4_0,
  Q4_1, Q4_K, Q5_K, Q6_K) a tensor "x.TYPE" of 2 x 512 values and "expected.TYPE",
  its values as `gguf.quants.dequantize` gives them (F32). Quantized blocks are random
  bytes (every nibble and bit pattern) with finite f16 scales. For the encoders:
  "encode.input" (F32), "encode.q8_0" = gguf.quants.quantize(input, Q8_0) and
  "encode.f16" = input.astype(float16), with half-precision edge cases in the input.
- tiny-llama.gguf / tiny-gpt2.gguf: small random models laid out as llama.cpp's
  converter writes them (llama: q and k rows in llama.cpp's pair order; GPT-2: q, k, v
  stacked in attn_qkv, stored (out, in)), with a byte-level BPE tokenizer, end tokens
  and (llama) a chat template. The llama file mixes tensor types (F32, F16, BF16, Q8_0,
  Q4_0, Q4_1) and ties its head to the embedding; the GPT-2 file has every matrix Q8_0
  and its own output.weight.
- tiny-llama.json / tiny-gpt2.json: transformers' GGUF loader on the same files
  (`from_pretrained(..., gguf_file=...)`, float32): the logits at every position of
  `ids`, and the tokenizer's ids for a few texts.
"""
import json, os, sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(2026)


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8)


def random_blocks(qtype, n_blocks):
    """Random block bytes whose f16 fields (scales, minimums) are finite, moderate numbers."""
    block_values, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    scales = lambda: f16_bytes(rng.uniform(-0.05, 0.05, size=n_blocks)).reshape(n_blocks, 2)
    if qtype in (T.Q8_0, T.Q4_0):
        raw[:, 0:2] = scales()
    elif qtype == T.Q4_1:
        raw[:, 0:2] = scales(); raw[:, 2:4] = scales()
    elif qtype in (T.Q4_K, T.Q5_K):
        raw[:, 0:2] = scales(); raw[:, 2:4] = scales()
    elif qtype == T.Q6_K:
        raw[:, 208:210] = scales()
    return raw


def types_fixture():
    w = gguf.GGUFWriter(os.path.join(OUT, "gguf-types.gguf"), "tinygpt-fixture")
    rows, cols = 2, 512
    for qtype in [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q4_K, T.Q5_K, T.Q6_K]:
        name = qtype.name
        if qtype in (T.F32, T.F16, T.BF16):
            values = rng.normal(0, 1, size=(rows, cols)).astype(np.float32)
            values[0, :8] = [0.0, -0.0, 1e-8, -3e-5, 65504.0, 1e-40, 2.5, -7.75]
            stored = gguf.quants.quantize(values, qtype) if qtype != T.F32 else values
            raw = stored.view(np.uint8).reshape(rows, -1)
        else:
            block_values, _ = gguf.GGML_QUANT_SIZES[qtype]
            raw = random_blocks(qtype, rows * cols // block_values).reshape(rows, -1)
        expected = gguf.quants.dequantize(raw, qtype).astype(np.float32)
        assert expected.shape == (rows, cols), (name, expected.shape)
        w.add_tensor(f"x.{name}", raw, raw_dtype=qtype)
        w.add_tensor(f"expected.{name}", expected)

    values = rng.normal(0, 0.5, size=(2, 256)).astype(np.float32)
    values[0, :32] = 0.0                       # an all-zero block: d = 0
    values[1, :32] = rng.normal(0, 1e-6, 32)   # a block of tiny values
    values[1, 32:64] *= 1000                   # and a large one
    w.add_tensor("encode.input", values)
    w.add_tensor("encode.q8_0", gguf.quants.quantize(values, T.Q8_0), raw_dtype=T.Q8_0)
    edges = np.array([0.0, -0.0, 65504.0, 65519.99, 65520.0, -65520.0, 1e6, 6.1035156e-05, 6.097555e-05, 5.9604645e-08,
                      2.9802322e-08, 2.9802326e-08, 1e-9, 0.1, 1.0 / 3.0, 2049.0, 2051.0, -2053.0, 1.00048828125, 1.00146484375]
                     + [0.0] * 12, dtype=np.float32)
    f16_input = np.concatenate([edges, rng.normal(0, 100, 256 - 32).astype(np.float32)]).reshape(1, 256)
    w.add_tensor("encode.f16input", f16_input)
    with np.errstate(over="ignore"):  # 1e6 and 65520 overflow to inf, as they must
        w.add_tensor("encode.f16", f16_input.astype(np.float16))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()


# A byte-level BPE: GPT-2's 256 byte tokens, a few merges, three control tokens.


def byte_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def tokenizer():
    table = byte_to_unicode()
    tokens = [table[b] for b in range(256)]
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"), ("o", "n"), ("Ġ", "s"),
              ("a", "t"), ("Ġ", "c"), ("e", "n"), ("Ġc", "at"), ("Ġs", "at"), ("o", "u"), ("Ġ", "m"), ("Ġm", "at"),
              ("1", "2"), ("Ġ", "ä"), ("in", "g"), ("Ġ", "Ġ")]
    for a, b in merges:
        tokens.append(a + b)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    types = [1] * len(tokens) + [3] * len(specials)
    tokens += specials
    return tokens, [f"{a} {b}" for a, b in merges], types


CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
TEXTS = ["the cat sat on the mat", "Hello, world! 12345", "  two  spaces\tand\ttabs\n\nnewlines",
         "中文 emoji 🙂 café <|im_end|> end", "<|im_start|>user\nhi<|im_end|>"]


def add_tokenizer(w, chat_template=None):
    tokens, merges, types = tokenizer()
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index("<|im_start|>"))
    w.add_eos_token_id(tokens.index("<|endoftext|>"))
    w.add_eot_token_id(tokens.index("<|im_end|>"))
    w.add_add_bos_token(False)
    if chat_template:
        w.add_chat_template(chat_template)
    return len(tokens)


def normal(*shape, scale=0.1):
    return rng.normal(0, scale, size=shape).astype(np.float32)


def stored(w, name, values, qtype):
    """Adds `values` (row-major) as a tensor of `qtype`."""
    if qtype == T.F32:
        w.add_tensor(name, values)
    elif qtype == T.F16:
        w.add_tensor(name, values.astype(np.float16))
    else:
        w.add_tensor(name, gguf.quants.quantize(values, qtype), raw_dtype=qtype)


def llama_fixture():
    path = os.path.join(OUT, "tiny-llama.gguf")
    c, heads, kv_heads, layers, ff, ctx = 32, 4, 2, 2, 64, 64
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny-llama")
    w.add_context_length(ctx); w.add_embedding_length(c); w.add_block_count(layers); w.add_feed_forward_length(ff)
    w.add_head_count(heads); w.add_head_count_kv(kv_heads); w.add_rope_dimension_count(c // heads)
    w.add_rope_freq_base(50000.0); w.add_layer_norm_rms_eps(1e-5)
    vocab = add_tokenizer(w, CHATML)
    w.add_vocab_size(vocab)
    w.add_file_type(7)
    w.add_quantization_version(2)
    kv = kv_heads * c // heads
    stored(w, "token_embd.weight", normal(vocab, c, scale=0.5), T.Q8_0)
    kinds = [T.Q4_0, T.Q4_1, T.F16, T.BF16, T.Q8_0, T.F32, T.Q8_0]
    for i in range(layers):
        k = kinds[i:] + kinds[:i]
        stored(w, f"blk.{i}.attn_norm.weight", 1 + normal(c), T.F32)
        stored(w, f"blk.{i}.attn_q.weight", normal(c, c, scale=0.3), k[0])
        stored(w, f"blk.{i}.attn_k.weight", normal(kv, c, scale=0.3), k[1])
        stored(w, f"blk.{i}.attn_v.weight", normal(kv, c), k[2])
        stored(w, f"blk.{i}.attn_output.weight", normal(c, c), k[3])
        stored(w, f"blk.{i}.ffn_norm.weight", 1 + normal(c), T.F32)
        stored(w, f"blk.{i}.ffn_gate.weight", normal(ff, c), k[4])
        stored(w, f"blk.{i}.ffn_up.weight", normal(ff, c), k[5])
        stored(w, f"blk.{i}.ffn_down.weight", normal(c, ff), k[6])
    stored(w, "output_norm.weight", 1 + normal(c), T.F32)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    return path, {}


def gpt2_fixture():
    path = os.path.join(OUT, "tiny-gpt2.gguf")
    c, heads, layers, ctx = 32, 4, 2, 32
    ff = 4 * c  # transformers' GPT-2 reads no feed_forward_length: its width is 4 · n_embd
    w = gguf.GGUFWriter(path, "gpt2")
    w.add_name("tiny-gpt2")
    w.add_context_length(ctx); w.add_embedding_length(c); w.add_block_count(layers); w.add_feed_forward_length(ff)
    w.add_head_count(heads); w.add_layer_norm_eps(1e-5)
    vocab = add_tokenizer(w)
    w.add_file_type(7)
    w.add_quantization_version(2)
    stored(w, "token_embd.weight", normal(vocab, c, scale=0.5), T.Q8_0)
    stored(w, "position_embd.weight", normal(ctx, c), T.F32)
    for i in range(layers):
        stored(w, f"blk.{i}.attn_norm.weight", 1 + normal(c), T.F32)
        stored(w, f"blk.{i}.attn_norm.bias", normal(c), T.F32)
        stored(w, f"blk.{i}.attn_qkv.weight", normal(3 * c, c, scale=0.3), T.Q8_0)
        stored(w, f"blk.{i}.attn_qkv.bias", normal(3 * c), T.F32)
        stored(w, f"blk.{i}.attn_output.weight", normal(c, c), T.Q8_0)
        stored(w, f"blk.{i}.attn_output.bias", normal(c), T.F32)
        stored(w, f"blk.{i}.ffn_norm.weight", 1 + normal(c), T.F32)
        stored(w, f"blk.{i}.ffn_norm.bias", normal(c), T.F32)
        stored(w, f"blk.{i}.ffn_up.weight", normal(ff, c), T.Q8_0)
        stored(w, f"blk.{i}.ffn_up.bias", normal(ff), T.F32)
        stored(w, f"blk.{i}.ffn_down.weight", normal(c, ff), T.Q8_0)
        stored(w, f"blk.{i}.ffn_down.bias", normal(c), T.F32)
    stored(w, "output_norm.weight", 1 + normal(c), T.F32)
    stored(w, "output_norm.bias", normal(c), T.F32)
    stored(w, "output.weight", normal(vocab, c, scale=0.5), T.Q8_0)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    # transformers maps context_length to n_ctx, but sizes GPT-2's position table by n_positions.
    return path, {"n_positions": ctx}


def expected(path, overrides):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    directory, name = os.path.split(path)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32, **overrides).eval()
    tok = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    ids = [int(i) for i in rng.integers(0, model.config.vocab_size, size=10)]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    out = {"ids": ids, "logits": [[float(f"{x:.9g}") for x in row] for row in logits.tolist()],
           "texts": TEXTS, "text_ids": [tok(t, add_special_tokens=False).input_ids for t in TEXTS]}
    with open(path.replace(".gguf", ".json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    types_fixture()
    for make in (llama_fixture, gpt2_fixture):
        expected(*make())
    for name in sorted(os.listdir(OUT)):
        if name.endswith((".gguf", ".json")):
            print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")
