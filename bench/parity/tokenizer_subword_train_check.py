"""How close tinygpt's WordPiece and Unigram training come to Hugging Face `tokenizers`' trainers
(and `sentencepiece`'s) on the same text, and that `tokenizers` encodes with tinygpt's files exactly
as tinygpt does (needs `pip install tokenizers sentencepiece`).

usage: python3 bench/parity/tokenizer_subword_train_check.py path/to/tinygpt CORPUS.txt [VOCAB]

Each trainer gets the same pre-tokenization: tinygpt's Metaspace layout (spaces become "▁",
prepended to the text, each word starting at one). Printed per algorithm: the vocabulary each
trainer learns, how many of tinygpt's tokens the other has, and the tokens each needs for the
corpus (fewer is better compression). The training recipes differ on purpose (docs/tokenizer.md):
tokenizers' WordPieceTrainer merges by pair frequency (BPE's rule), tinygpt by the WordPiece
score; the Unigram trainers share the algorithm and differ in details.
"""
import json, os, subprocess, sys, tempfile

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

binary, corpus_path = sys.argv[1], sys.argv[2]
vocab = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
text = open(corpus_path, encoding="utf-8").read()
tmp = tempfile.mkdtemp()
meta = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)


def tinygpt(kind):
    path = os.path.join(tmp, f"{kind}.json")
    subprocess.run([binary, "tokenizer", "train", "--type", kind, "--data", corpus_path, "--vocab-size", str(vocab), "--out", path],
                   check=True, capture_output=True)
    ids = subprocess.run([binary, "tokenizer", "encode", "--tokenizer", path, "--file", corpus_path, "--json"],
                         check=True, capture_output=True, text=True).stdout
    t = Tokenizer.from_file(path)
    assert t.encode(text).ids == json.loads(ids), f"{kind}: tokenizers encodes tinygpt's file differently"
    return t


def report(name, ours, theirs_list):
    mine = set(ours.get_vocab())
    print(f"\n{name}, vocab {vocab}: tinygpt's {len(mine)} tokens, {len(ours.encode(text).ids)} tokens for the corpus "
          f"({len(text.encode())} bytes)")
    for label, t in theirs_list:
        v = set(t.get_vocab())
        print(f"  {label}: {len(v)} tokens, {len(t.encode(text).ids)} tokens for the corpus; "
              f"shares {len(mine & v)} of tinygpt's ({100 * len(mine & v) / len(mine):.1f}%)")


wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
wp.pre_tokenizer = meta
wp.decoder = decoders.Sequence([decoders.Strip(content="#", left=2, right=0), decoders.Metaspace(replacement="▁", prepend_scheme="always")])
wp.train_from_iterator([text], trainers.WordPieceTrainer(vocab_size=vocab, special_tokens=["[UNK]"], show_progress=False))
report("WordPiece", tinygpt("wordpiece"), [("tokenizers WordPieceTrainer (merges by frequency)", wp)])

ug = Tokenizer(models.Unigram())
ug.pre_tokenizer = meta
ug.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
ug.train_from_iterator([text], trainers.UnigramTrainer(vocab_size=vocab, special_tokens=["<unk>"], unk_token="<unk>", show_progress=False))

import sentencepiece as spm

spm.SentencePieceTrainer.train(input=corpus_path, model_prefix=os.path.join(tmp, "sp"), vocab_size=vocab, model_type="unigram",
                               character_coverage=1.0, normalization_rule_name="identity", remove_extra_whitespaces=False,
                               split_digits=False, bos_id=-1, eos_id=-1, unk_id=0, minloglevel=2, num_threads=1)
m = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "sp.model"))
sp = Tokenizer(models.Unigram([(m.id_to_piece(i), m.get_score(i)) for i in range(m.get_piece_size())], unk_id=0, byte_fallback=False))
sp.pre_tokenizer = meta
report("Unigram", tinygpt("unigram"), [("tokenizers UnigramTrainer", ug), ("sentencepiece (trains per line, so no piece holds a newline)", sp)])
