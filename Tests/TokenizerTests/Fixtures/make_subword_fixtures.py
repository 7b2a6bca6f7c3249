"""Generates the WordPiece and Unigram fixtures in Tests/TokenizerTests/Fixtures/subword
(needs `pip install tokenizers sentencepiece`).

usage: python3 Tests/TokenizerTests/Fixtures/make_subword_fixtures.py path/to/tinygpt Tests/TokenizerTests/Fixtures

Tiny vocabularies trained on Fixtures/corpus.txt, each in a layout Hugging Face `tokenizers`
writes, so the fixtures stay small (KBs) while exercising the code real vocabularies run:

  subword/bert_uncased.json        BertWordPieceTokenizer: BertNormalizer (lowercase, accents
                                   stripped, CJK spaced), BertPreTokenizer, WordPiece decoder
                                   (cleanup), TemplateProcessing "[CLS] $A"
  subword/bert_cased.json          BertNormalizer(lowercase false, strip_accents false),
                                   BertPreTokenizer, max_input_chars_per_word 12, WordPiece
                                   decoder without cleanup
  subword/wordpiece_whitespace.json Sequence[NFKC, Lowercase] + WhitespaceSplit, WordPiece
  subword/wordpiece_metaspace.json tinygpt's WordPiece layout (Metaspace always, decoder
                                   Strip "##" + Metaspace) with a vocabulary from WordPieceTrainer
  subword/tinygpt_wordpiece.json   trained by `tinygpt tokenizer train --type wordpiece`
  subword/unigram_sp.json          SentencePieceUnigramTokenizer: Nmt + NFKC + Replace(" {2,}"),
                                   Metaspace, unk <unk>, specials <s> </s>
  subword/unigram_t5.json          T5-style: Sequence[NFKC, Lowercase], Sequence[WhitespaceSplit,
                                   Metaspace(prepend_scheme first)], UnigramTrainer vocabulary
  subword/unigram_bytes.json       Unigram with byte_fallback (pieces and scores from
                                   `sentencepiece` model_type unigram, byte_fallback), LLaMA's
                                   legacy normalizer and decoder, TemplateProcessing "<s> $A"
  subword/unigram_nounk.json       unigram_t5's vocabulary without unk_id: a character no piece
                                   covers is an error in `tokenizers` (ids null below)
  subword/unigram_ties.json        a hand-made Unigram whose segmentations tie, with unknown characters
  subword/tinygpt_unigram.json     trained by `tinygpt tokenizer train --type unigram`
  subword/expected.json            {"texts": [...], "files": {file: {"prefix": ids a text gets with
                                   special tokens, "ids": [ids per text, or null where tokenizers
                                   refuses the text], "decoded": {text index: decode(ids) where it
                                   is not the text}}}} from `tokenizers`
  subword/bert_classes.json        BERT's character classes as `tokenizers` applies them, over all
                                   of Unicode, as code point ranges: punctuation (isolated by
                                   BertPreTokenizer), control (dropped by clean_text), whitespace
                                   (a space after clean_text), stripped (dropped by strip_accents)

The texts are the hard texts of Fixtures/real/expected.json (Chinese, emoji, digits, whitespace
runs, invalid-looking bytes, specials) and some that WordPiece and Unigram treat apart (accents,
case, Greek sigma, CJK, long words, literal "##", "<unk>", "<0x41>", emoji newer than Unicode 8).
The Swift tests only read these files.
"""
import json, os, subprocess, sys, tempfile

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

binary, fixtures = sys.argv[1], sys.argv[2]
out = os.path.join(fixtures, "subword")
os.makedirs(out, exist_ok=True)
corpus_path = os.path.join(fixtures, "corpus.txt")
corpus = open(corpus_path, encoding="utf-8").read()

texts = json.load(open(os.path.join(fixtures, "real", "expected.json"), encoding="utf-8"))["texts"]
texts += [
    "Ünïcödé ÀÉÎÕÜ naïve façade İstanbul ΟΔΟΣ Σίσυφος ß ẞ ǅ ﬁ ①",
    "¿Qué? ¡Sí! «quoted» — dash… “curly” ‘single’ 「括弧」 #hash @at ~tilde ^caret `tick` |bar| $5 +1 =2 <3>",
    "中文字符很好。漢字テスト 𠀀𠀁 ⺀ 가나다", "\u0001\u001f\u007f\u0080\u009f\u00ad\u200b\u200c\u200d\u2060\ufeff\ufffd end",
    "🥲 🫠 🪿 🧑‍🚀 ⚕️ 🏳️‍🌈 new emoji", "x" * 150, "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "##ing ## # ### a##b", "▁already ▁metaspace ▁▁x", "<0x41><0xE6> <unk> [UNK] [CLS] text [SEP] [MASK]",
    "don't won't I'm you're it's they've", "A.B,C!D?E;F:G", "  \t  \n  ", "tab\tsep\tvalues\n1\t2\t3",
    "ab abc bcab cab", "xax xyzzy abx",
]



def save(tok, name):
    path = os.path.join(out, name)
    tok.save(path)
    return path


files = {}

# WordPiece: BERT's layout, trained by BertWordPieceTokenizer.
from tokenizers.implementations import BertWordPieceTokenizer

bert = BertWordPieceTokenizer(lowercase=True)
bert.train_from_iterator([corpus], vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], show_progress=False)
bert = Tokenizer.from_str(bert.to_str())
bert.post_processor = processors.TemplateProcessing(single="[CLS] $A", pair="[CLS] $A $B:1", special_tokens=[("[CLS]", 2)])
files["bert_uncased.json"] = save(bert, "bert_uncased.json")

t = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=12))
t.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
t.decoder = decoders.WordPiece(prefix="##", cleanup=False)
t.train_from_iterator([corpus], trainers.WordPieceTrainer(vocab_size=450, special_tokens=["[UNK]", "[SEP]"], show_progress=False))
files["bert_cased.json"] = save(t, "bert_cased.json")

t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
t.decoder = decoders.WordPiece()
t.train_from_iterator([corpus], trainers.WordPieceTrainer(vocab_size=350, special_tokens=["[UNK]"], show_progress=False))
files["wordpiece_whitespace.json"] = save(t, "wordpiece_whitespace.json")

t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
t.decoder = decoders.Sequence([decoders.Strip(content="#", left=2, right=0), decoders.Metaspace(replacement="▁", prepend_scheme="always")])
t.train_from_iterator([corpus], trainers.WordPieceTrainer(vocab_size=450, special_tokens=["[UNK]", "<|endoftext|>"], show_progress=False))
files["wordpiece_metaspace.json"] = save(t, "wordpiece_metaspace.json")

# Unigram.
from tokenizers.implementations import SentencePieceUnigramTokenizer

sp = SentencePieceUnigramTokenizer()
sp.train_from_iterator([corpus], vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>", show_progress=False)
files["unigram_sp.json"] = save(Tokenizer.from_str(sp.to_str()), "unigram_sp.json")

t = Tokenizer(models.Unigram())
t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")])
t.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
t.train_from_iterator([corpus], trainers.UnigramTrainer(vocab_size=350, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
                                                         show_progress=False))
files["unigram_t5.json"] = save(t, "unigram_t5.json")
d = json.loads(t.to_str())
d["model"]["unk_id"] = None
d["added_tokens"] = [a for a in d["added_tokens"] if a["content"] != "<unk>"]
nounk = os.path.join(out, "unigram_nounk.json")
json.dump(d, open(nounk, "w", encoding="utf-8"), ensure_ascii=False, indent=2)
files["unigram_nounk.json"] = nounk

import sentencepiece as spm

tmp = tempfile.mkdtemp()
spm.SentencePieceTrainer.train(input=corpus_path, model_prefix=os.path.join(tmp, "ug"), vocab_size=450, model_type="unigram",
                               byte_fallback=True, character_coverage=0.98, normalization_rule_name="identity",
                               remove_extra_whitespaces=False, split_digits=True, bos_id=1, eos_id=2, unk_id=0, minloglevel=2,
                               num_threads=1)
m = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "ug.model"))
vocab = [(m.id_to_piece(i), m.get_score(i)) for i in range(m.get_piece_size())]
t = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=True))
t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1)])
t.add_special_tokens([AddedToken(p, normalized=False, special=True) for p in ("<unk>", "<s>", "</s>")])
t.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)])
files["unigram_bytes.json"] = save(t, "unigram_bytes.json")

# A hand-made Unigram where segmentations tie (the earliest start, i.e. the longest last piece,
# wins) and unknown characters fuse.
t = Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0), ("b", -1.0), ("ab", -2.0), ("c", -1.5), ("bc", -2.5), ("abc", -4.0),
                              ("ca", -2.5), ("y", -1.0)], unk_id=0, byte_fallback=False))
t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
t.decoder = decoders.Fuse()
files["unigram_ties.json"] = save(t, "unigram_ties.json")

# Trained by tinygpt.
for kind in ("wordpiece", "unigram"):
    path = os.path.join(out, f"tinygpt_{kind}.json")
    subprocess.run([binary, "tokenizer", "train", "--type", kind, "--data", corpus_path, "--vocab-size", "400",
                    "--special", "<|endoftext|>", "--out", path, "--force"], check=True)
    files[f"tinygpt_{kind}.json"] = path


def expectations(t):
    ids = []
    for s in texts:
        try:
            ids.append(t.encode(s, add_special_tokens=False).ids)
        except Exception:
            ids.append(None)
    prefix = t.encode("").ids
    for s, i in zip(texts, ids):
        if i is not None:
            assert t.encode(s).ids == prefix + i, (s, prefix)
    decoded = {str(k): t.decode(i, skip_special_tokens=False) for k, i in enumerate(ids)
               if i is not None and t.decode(i, skip_special_tokens=False) != texts[k]}
    return {"prefix": prefix, "ids": ids, "decoded": decoded}


expected = {"texts": texts, "files": {}}
for name, path in sorted(files.items()):
    expected["files"][name] = expectations(Tokenizer.from_file(path))
json.dump(expected, open(os.path.join(out, "expected.json"), "w", encoding="utf-8"), ensure_ascii=False, separators=(",", ":"))

# BERT's character classes over all of Unicode, as tokenizers applies them.
codepoints = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
bert_pre = pre_tokenizers.BertPreTokenizer()
clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
classes = {"punctuation": [], "control": [], "whitespace": [], "stripped": []}
for c in codepoints:
    ch = chr(c)
    if len(bert_pre.pre_tokenize_str("a" + ch + "a")) == 3 and bert_pre.pre_tokenize_str("a" + ch + "a")[1][0] == ch:
        classes["punctuation"].append(c)
    cleaned = clean.normalize_str(ch)
    if cleaned == "":
        classes["control"].append(c)
    elif cleaned == " " and ch != " ":
        classes["whitespace"].append(c)
    if strip.normalize_str(ch) == "":
        classes["stripped"].append(c)


def ranges(cs):
    out, start, prev = [], None, None
    for c in cs:
        if start is None:
            start = prev = c
        elif c == prev + 1:
            prev = c
        else:
            out.append([start, prev]); start = prev = c
    if start is not None:
        out.append([start, prev])
    return out


json.dump({k: ranges(v) for k, v in classes.items()}, open(os.path.join(out, "bert_classes.json"), "w"), separators=(",", ":"))
print("fixtures written to", out, sorted(files))
