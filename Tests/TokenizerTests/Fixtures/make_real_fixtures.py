"""Generates the fixtures for the tokenizer configurations real models ship, in
Tests/TokenizerTests/Fixtures/real (needs `pip install tokenizers transformers sentencepiece gguf`).

usage: python3 Tests/TokenizerTests/Fixtures/make_real_fixtures.py Tests/TokenizerTests/Fixtures

Tiny vocabularies trained on Fixtures/corpus.txt, each with the normalizer, pre-tokenizer,
model options, decoder and post-processor of a real model's tokenizer.json (the configs
transformers' convert_slow_tokenizer.py and the models' own files use), so the fixtures stay
small (KBs) while exercising the same code as the real 50-150k vocabularies:

  real/gpt2_split.json        Split(GPT-2 regex) + ByteLevel(use_regex false)
  real/bytelevel_noregex.json ByteLevel(use_regex false) alone (no splitting)
  real/llama3.json            LLaMA-3: Split(llama3 regex) + ByteLevel(use_regex false), ignore_merges,
                              post-processor Sequence[ByteLevel, TemplateProcessing <|begin_of_text|> $A]
  real/qwen2.json             Qwen2.5: NFC, Split(qwen2 regex) + ByteLevel(use_regex false), ByteLevel post-processor
  real/smollm.json            SmolLM2 (StarCoder): Digits(individual) + ByteLevel, continuing_subword_prefix "",
                              end_of_word_suffix "", TemplateProcessing adding nothing
  real/digits_runs.json       Digits(individual false) + ByteLevel
  real/llama2.json            LLaMA-2 (legacy): SentencePiece BPE with byte_fallback, Prepend("▁") + Replace(" ", "▁"),
                              no pre-tokenizer, decoder Replace/ByteFallback/Fuse/Strip, TemplateProcessing <s> $A
  real/mistral.json           the same vocabulary with Metaspace(prepend_scheme first, split false), no normalizer
  real/metaspace_split.json   Metaspace(prepend_scheme always, split true), BOS added
  real/sp_unknown.json        SentencePiece BPE without byte fallback: unk_token <unk>, fuse_unk
  real/phi3.json              Phi-3: llama2.json plus added tokens with rstrip (chat tokens) and lstrip
  real/canonical.json         llama2.json plus "é" and "e" + U+0301 as distinct tokens
  real/expected.json          {"texts": [...], "files": {file: {"prefix": ids a text gets with special tokens,
                              "ids": [ids per text, or null], "decoded": {text index: decode(ids) where it is not the text}}}}
                              from `tokenizers`
  real/gguf_*.json            GGUF tokenizer metadata (the tokenizer.ggml.* keys) of tiny models
  real/gguf_expected.json     the same layout, from transformers' GGUF loader
                              (AutoTokenizer.from_pretrained(dir, gguf_file=...)) on a tiny GGUF
                              holding exactly that metadata; for pre "smollm" with llama.cpp's split
                              (digits apart, then GPT-2's pattern), which transformers does not apply

The SentencePiece vocabulary comes from `sentencepiece` (model_type bpe, byte_fallback), its
merges from its scores as transformers derives them. The Swift tests only read these files.
"""
import json, os, random, sys, tempfile

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

out = os.path.join(sys.argv[1], "real")
os.makedirs(out, exist_ok=True)
corpus = open(os.path.join(sys.argv[1], "corpus.txt"), encoding="utf-8").read()

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

# Hard texts: Chinese, emoji, digits, whitespace runs, contractions, NFC-sensitive text,
# invalid-looking bytes (U+FFFD, NUL, C1 controls, literal "<0x..>"), specials inside text.
samples = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\t\t \n\n  \t", "a", "Hello world",
    " Hello  world ", "  leading two", "trailing   ", "tabs\tand\t\tspaces   and\n\nnewlines\n\n\n  x",
    "Hello, World! It's 2024; we'll see...", "don't 'quote' THEY'RE I'M you've he'd 'S 'Ll 'ſ x'sy",
    "12345 1234567 3.14159 1,000,000 $42 ٣٤٥ ½ ² Ⅻ 10x 2nd", "a1b22c333d4444", " 1 22 333",
    "日本語のテキスト、中文字符。 한국어 Ελληνικά русский", "中文 混合 English 和 数字123",
    "👍🏽 👨‍👩‍👧‍👦 🇫🇷 😀😀", "e\u0301 n\u0303 café Å \u212b \u1100\u1161", "\u00a0nbsp\u2003em\u3000ideo\u200bzw",
    "\u0085nel\u2028ls x", "\ufffd\ufffd bad \x00 nul \x7f del \x80\x9f c1 <0xE6> <0x41> \\xff",
    "((hello)) [world]!\n?! ...\n\n--", "<s>Hello</s>", "<s> spaced </s> x", "a<unk>b", "Hi<|im_start|>user\nyo<|im_end|>\n",
    "<|begin_of_text|>text<|end_of_text|>", "<|endoftext|><|endoftext|>", "thee thou hath doth the king",
    "<|user|>\n  hi there <|end|>\n<|assistant|> ok  \t<|placeholder1|> x\u3000<|placeholder1|>", " \n<|end|>\n\n",
    "caf\u00e9 cafe\u0301 e\u0301\u0301 \u00e9\u0301",
    corpus[:1500], "a" * 300, "ab" * 100, " " * 70 + "x", "日本語" * 30, "12345" * 30,
]
rng = random.Random(26)
pool = ([chr(c) for c in list(range(32, 127)) * 4 + list(range(0xa0, 0x180)) + list(range(0x4e00, 0x4e30))
         + list(range(0x1f600, 0x1f610)) + [0x300, 0x301, 0x200d, 0xfe0f, 0x2028, 0x85, 0x3000, 0x17f, 0x212b, 0x663]]
        + ["\n", "\r\n", "\t", "  ", "   ", "'s", "'LL", "<s>", "</s>", "<|im_end|>"])
for _ in range(12):
    samples.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 200))))

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def byte_level(pre, vocab_size=420, specials=SPECIALS, normalizer=None):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([corpus], trainer)
    return tok


def save(tok, name, edit=None):
    path = os.path.join(out, name)
    tok.save(path)
    if edit:
        d = json.load(open(path, encoding="utf-8"))
        edit(d)
        json.dump(d, open(path, "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    return path


files = {}
split = lambda rx: pre_tokenizers.Split(Regex(rx), behavior="isolated")
no_regex = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)

files["gpt2_split.json"] = save(byte_level(pre_tokenizers.Sequence([split(GPT2), no_regex])), "gpt2_split.json")
files["bytelevel_noregex.json"] = save(byte_level(no_regex, vocab_size=330), "bytelevel_noregex.json")

t = byte_level(pre_tokenizers.Sequence([split(LLAMA3), no_regex]), specials=["<|begin_of_text|>", "<|end_of_text|>"])
bos = t.token_to_id("<|begin_of_text|>")
t.post_processor = processors.Sequence([
    processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
    processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                  special_tokens=[("<|begin_of_text|>", bos)])])
def llama3_edit(d): d["model"]["ignore_merges"] = True
files["llama3.json"] = save(t, "llama3.json", llama3_edit)

t = byte_level(pre_tokenizers.Sequence([split(QWEN2), no_regex]), normalizer=normalizers.NFC())
t.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
files["qwen2.json"] = save(t, "qwen2.json")

t = byte_level(pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]))
t.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B:1", special_tokens=[])
def smollm_edit(d): d["model"]["continuing_subword_prefix"] = ""; d["model"]["end_of_word_suffix"] = ""
files["smollm.json"] = save(t, "smollm.json", smollm_edit)

files["digits_runs.json"] = save(byte_level(pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=False),
                                                                     pre_tokenizers.ByteLevel(add_prefix_space=False)])), "digits_runs.json")

# SentencePiece BPE with byte fallback, trained by sentencepiece.
import sentencepiece as spm
from transformers.tokenization_utils_base import generate_merges

tmp = tempfile.mkdtemp()
spm.SentencePieceTrainer.train(input=os.path.join(sys.argv[1], "corpus.txt"), model_prefix=os.path.join(tmp, "sp"),
                               vocab_size=600, model_type="bpe", byte_fallback=True, character_coverage=0.98,
                               add_dummy_prefix=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
                               split_digits=True, bos_id=1, eos_id=2, unk_id=0, minloglevel=2, num_threads=1)
sp = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "sp.model"))
pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
scores = [sp.get_score(i) for i in range(sp.get_piece_size())]
sp_types = [2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 1 for i in range(len(pieces))]
sp_vocab = {p: i for i, p in enumerate(pieces)}
sp_merges = generate_merges(sp_vocab, {p: s for p, s in zip(pieces, scores)})


def sentencepiece(normalizer, pre, strip=True, byte_fallback=True, bos=True):
    tok = Tokenizer(models.BPE(vocab=sp_vocab, merges=sp_merges, unk_token="<unk>", fuse_unk=True, byte_fallback=byte_fallback))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    steps = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    tok.decoder = decoders.Sequence(steps + ([decoders.Strip(content=" ", left=1)] if strip else []))
    tok.add_special_tokens([AddedToken(p, normalized=False, special=True) for p in ("<unk>", "<s>", "</s>")])
    if bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)])
    return tok


legacy = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
files["llama2.json"] = save(sentencepiece(legacy, None), "llama2.json")
files["mistral.json"] = save(sentencepiece(None, pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)), "mistral.json")
files["metaspace_split.json"] = save(sentencepiece(None, pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)), "metaspace_split.json")
files["sp_unknown.json"] = save(sentencepiece(legacy, None, byte_fallback=False, bos=False), "sp_unknown.json")
# Phi-3: the legacy SentencePiece layout, chat tokens that take the whitespace after them (rstrip);
# one that takes the whitespace before it (lstrip).
t = sentencepiece(legacy, None)
t.add_special_tokens([AddedToken(c, rstrip=True, normalized=False, special=True) for c in ("<|user|>", "<|assistant|>", "<|end|>")]
                     + [AddedToken("<|placeholder1|>", lstrip=True, normalized=False, special=True)])
files["phi3.json"] = save(t, "phi3.json")
# Two tokens that differ only in Unicode composition ("é" and "e" + U+0301), as a SentencePiece
# vocabulary trained without normalization can hold.
canonical_vocab = dict(sp_vocab)
for extra in ("\u00e9", "e", "\u0301", "e\u0301", "\u2581e\u0301"):
    canonical_vocab.setdefault(extra, len(canonical_vocab))
t = Tokenizer(models.BPE(vocab=canonical_vocab, merges=sp_merges + [("e", "\u0301"), ("\u2581", "e\u0301")],
                         unk_token="<unk>", fuse_unk=True, byte_fallback=True))
t.normalizer = legacy
t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1)])
t.add_special_tokens([AddedToken(p, normalized=False, special=True) for p in ("<unk>", "<s>", "</s>")])
files["canonical.json"] = save(t, "canonical.json")


def expectations(encode, encode_special, decode=None, vocab_size=None):
    """ids per sample, the prefix every text gets with special tokens, and decodes that differ from the text.
    A text given an id outside the vocabulary gets null: transformers' GGUF loader adds GPT-2's
    "<|endoftext|>" as a new token to a vocabulary without it, which the model has no row for."""
    ids = [encode(s) for s in samples]
    prefix = encode_special("")
    for s, i in zip(samples, ids):
        assert encode_special(s) == prefix + i, (s, prefix)
    if vocab_size is not None:
        ids = [None if any(t >= vocab_size for t in i) else i for i in ids]
    decoded = {str(k): decode(i) for k, i in enumerate(ids) if decode and decode(i) != samples[k]}
    return {"prefix": prefix, "ids": ids, "decoded": decoded}


expected = {"texts": samples, "files": {}}
for name, path in files.items():
    t = Tokenizer.from_file(path)
    expected["files"][name] = expectations(lambda s: t.encode(s, add_special_tokens=False).ids, lambda s: t.encode(s).ids,
                                           lambda i: t.decode(i, skip_special_tokens=False))
json.dump(expected, open(os.path.join(out, "expected.json"), "w", encoding="utf-8"), ensure_ascii=False, separators=(",", ":"))

# GGUF tokenizer metadata: tiny GGUF files read back by transformers' GGUF loader.
import gguf
from transformers import AutoTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode


def gguf_spec_of_byte_level(tok, pre, add_bos=None, bos=None, eos=None):
    d = json.loads(tok.to_str())
    vocab = d["model"]["vocab"]
    tokens = [None] * (max(vocab.values()) + 1)
    for s, i in vocab.items(): tokens[i] = s
    added = {a["content"] for a in d["added_tokens"]}
    spec = {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": pre, "tokenizer.ggml.tokens": tokens,
            "tokenizer.ggml.token_type": [3 if t in added else 1 for t in tokens],
            "tokenizer.ggml.merges": [" ".join(m) for m in d["model"]["merges"]]}
    for key, value in (("bos_token_id", bos), ("eos_token_id", eos), ("add_bos_token", add_bos)):
        if value is not None: spec["tokenizer.ggml." + key] = value
    return spec


def write_gguf(spec, path):
    w = gguf.GGUFWriter(path, "llama")
    w.add_uint32("llama.context_length", 64)
    for key, value in spec.items():
        short = key[len("tokenizer.ggml."):]
        if short == "model": w.add_tokenizer_model(value)
        elif short == "pre": w.add_tokenizer_pre(value)
        elif short == "tokens": w.add_token_list(value)
        elif short == "scores": w.add_token_scores(value)
        elif short == "token_type": w.add_token_types(value)
        elif short == "merges": w.add_token_merges(value)
        elif short in ("add_bos_token", "add_eos_token", "add_space_prefix"): w.add_bool(key, value)
        else: w.add_uint32(key, value)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()


smollm_tok = byte_level(pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)]))
specs = {
    "gguf_gpt2_default.json": gguf_spec_of_byte_level(Tokenizer.from_file(files["gpt2_split.json"]), "default", eos=0),
    "gguf_gpt2_llama_bpe.json": gguf_spec_of_byte_level(Tokenizer.from_file(files["llama3.json"]), "llama-bpe", add_bos=True, bos=0, eos=1),
    "gguf_gpt2_qwen2.json": gguf_spec_of_byte_level(Tokenizer.from_file(files["qwen2.json"]), "qwen2", add_bos=False, eos=0),
    "gguf_gpt2_smollm.json": gguf_spec_of_byte_level(smollm_tok, "smollm", add_bos=False, bos=1, eos=2),
    # LLaMA-2 as llama.cpp writes it: tokens, scores and types, no merges.
    "gguf_llama.json": {"tokenizer.ggml.model": "llama", "tokenizer.ggml.pre": "default", "tokenizer.ggml.tokens": pieces,
                        "tokenizer.ggml.scores": scores, "tokenizer.ggml.token_type": sp_types,
                        "tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2, "tokenizer.ggml.unknown_token_id": 0,
                        "tokenizer.ggml.add_bos_token": True, "tokenizer.ggml.add_space_prefix": True},
}
gguf_expected = {"texts": samples, "files": {}}
for name, spec in specs.items():
    json.dump(spec, open(os.path.join(out, name), "w", encoding="utf-8"), ensure_ascii=False)
    d = tempfile.mkdtemp()
    write_gguf(spec, os.path.join(d, "t.gguf"))
    t = AutoTokenizer.from_pretrained(d, gguf_file="t.gguf")
    if spec["tokenizer.ggml.pre"] == "smollm":
        # transformers' loader ignores this name and splits by GPT-2's pattern alone; llama.cpp and
        # SmolLM's own tokenizer.json split each digit apart first, which tinygpt follows.
        t.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                                     pre_tokenizers.ByteLevel(add_prefix_space=False)])
    gguf_expected["files"][name] = expectations(lambda s: t(s, add_special_tokens=False).input_ids, lambda s: t(s).input_ids,
                                                vocab_size=len(spec["tokenizer.ggml.tokens"]))
json.dump(gguf_expected, open(os.path.join(out, "gguf_expected.json"), "w", encoding="utf-8"), ensure_ascii=False, separators=(",", ":"))
print("fixtures written to", out, sorted(files) + sorted(specs))
