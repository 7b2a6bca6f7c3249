"""Generates the committed fixtures in Tests/TokenizerTests/Fixtures (needs `pip install tokenizers`).

usage: python3 Tests/TokenizerTests/Fixtures/make_tokenizer_fixtures.py path/to/tinygpt Tests/TokenizerTests/Fixtures

Writes:
  corpus.txt                 a small synthetic corpus (English-like words + varied Unicode)
  hf_bpe.json                byte-level BPE trained by `tokenizers` (merges as [a, b] arrays)
  hf_bpe_legacy.json         the same with merges as "a b" strings (older `tokenizers` layout)
  hf_bpe_ignore_merges.json  the same with model.ignore_merges = true
  tinygpt_bpe.json           trained by tinygpt on corpus.txt (vocab 600, 2 specials)
  tinygpt_char.json          tinygpt's char tokenizer of corpus.txt
  expected.json              {file: [{text, ids}]} as `tokenizers` encodes the samples
The Swift tests only read these files; they never run Python.
"""
import json, os, random, subprocess, sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

binary, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = random.Random(1234)

words = ("the of and to in is that it was for on are as with his they at be this from have or by one had not "
         "but what all were when we there can an your which their said if do will each about how up out them "
         "then she many some so these would other into has more her two like him see time could no make than "
         "first been its who now people my made over did down only way find use may water long little very after "
         "words called just where most know thee thou hath doth king queen lord good night morrow").split()
unicode_bits = ["日本語のテキスト", "中文字符", "한국어", "Ελληνικά", "русский текст", "العربية", "עברית", "हिन्दी",
                "café", "naïve", "e\u0301", "n\u0303o", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "½ ² Ⅻ ٣٤٥", "\u00a0", "\u3000", "\u200b",
                "it's", "we'll", "THEY'RE", "don't", "I'm", "you've", "he'd", "3.14159", "1,000,000", "$42", "...", "--", "?!"]
lines = []
for _ in range(400):
    n = rng.randint(3, 14)
    ws = [rng.choice(words) if rng.random() > 0.12 else rng.choice(unicode_bits) for _ in range(n)]
    if rng.random() < 0.3: ws[0] = ws[0].capitalize()
    sep = rng.choice([" ", " ", " ", "  ", "\t"])
    lines.append(sep.join(ws) + rng.choice([".", ",", "!", "?", ";", ":", ""]))
corpus = "".join(l + rng.choice(["\n", "\n", "\n\n", "\r\n", "  \n"]) for l in lines)
with open(os.path.join(out, "corpus.txt"), "w", encoding="utf-8", newline="") as f:
    f.write(corpus)

samples = [
    "", " ", "  ", "\n", "a", "hello world", " hello  world ", "Hello, World! It's 2024; we'll see...",
    "don't 'quote' THEY'RE I'm you've he'd", "\r\n\r\n", "tabs\t\tand\t spaces   \n\n  ", "   leading",
    "trailing   ", "日本語のテキスト、中文字符。", "👍🏽 👨‍👩‍👧‍👦 🇫🇷", "e\u0301 n\u0303 café", "½ ² Ⅻ ٣٤٥ 3.14",
    "\u00a0nbsp\u2003em\u3000ideo\u200bzw", "\u0085nel\u2028ls x", "a<|endoftext|>b", "<|endoftext|><|endoftext|>",
    " <pad> x <|endoftext|>\n", "<|endoftext", "thee thou hath doth the king", corpus[:2000],
    # long pre-tokens exercise the O(n log n) merge path (used above 48 bytes)
    "a" * 700, "ab" * 400, "=-" * 300, " " * 500 + "x", "".join(words) * 3, "日本語" * 100, "12345" * 100,
]
rand_pool = [chr(c) for c in list(range(32, 127)) * 4 + list(range(0xa0, 0x180)) + list(range(0x4e00, 0x4e40))
             + list(range(0x1f600, 0x1f620)) + [0x300, 0x301, 0x200d, 0xfe0f, 0x2028, 0x85, 0x3000]] + ["\n", "\r\n", "\t", "  ", "'s", "'ll"]
for _ in range(8):
    samples.append("".join(rng.choice(rand_pool) for _ in range(rng.randint(1, 300))))

# 1. A byte-level BPE trained by `tokenizers`.
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=["<|endoftext|>", "<pad>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train_from_iterator([corpus], trainer)
hf_path = os.path.join(out, "hf_bpe.json")
tok.save(hf_path)
d = json.load(open(hf_path, encoding="utf-8"))
legacy = json.loads(json.dumps(d))
legacy["model"]["merges"] = [" ".join(m) for m in d["model"]["merges"]]
json.dump(legacy, open(os.path.join(out, "hf_bpe_legacy.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=1)
ign = json.loads(json.dumps(d))
ign["model"]["ignore_merges"] = True
json.dump(ign, open(os.path.join(out, "hf_bpe_ignore_merges.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=1)

# 2. Tokenizers trained by tinygpt.
corpus_path = os.path.join(out, "corpus.txt")
subprocess.run([binary, "tokenizer", "train", "--data", corpus_path, "--vocab-size", "600", "--special", "<|endoftext|>",
                "--special", "<pad>", "--out", os.path.join(out, "tinygpt_bpe.json")], check=True)
subprocess.run([binary, "tokenizer", "train", "--type", "char", "--data", corpus_path, "--special", "<|endoftext|>",
                "--out", os.path.join(out, "tinygpt_char.json")], check=True)

# 3. What `tokenizers` makes of the samples with each file.
expected = {}
for name in ["hf_bpe.json", "hf_bpe_legacy.json", "hf_bpe_ignore_merges.json", "tinygpt_bpe.json", "tinygpt_char.json"]:
    t = Tokenizer.from_file(os.path.join(out, name))
    rows = []
    for s in samples:
        try:
            rows.append({"text": s, "ids": t.encode(s, add_special_tokens=False).ids})
        except Exception:
            pass  # the char tokenizer refuses characters outside its vocabulary (tested in Swift)
    expected[name] = rows
json.dump(expected, open(os.path.join(out, "expected.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=0)
print("fixtures written to", out, {k: len(v) for k, v in expected.items()})
