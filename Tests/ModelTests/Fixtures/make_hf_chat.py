#!/usr/bin/env python3
"""Writes hf-chat/: a tiny LLaMA chat model as transformers saves it, to test that
`tinygpt import --format hf` keeps the ids that end and begin generation and the
chat template, and that `tinygpt export --format hf` gives them back.

    python3 Tests/ModelTests/Fixtures/make_hf_chat.py            # writes the fixture
    python3 Tests/ModelTests/Fixtures/make_hf_chat.py --check DIR # checks a `tinygpt export --format hf` of it

The fixture declares its specials the way real models do, in three files:
generation_config.json eos_token_id [32] (<|im_end|>, the end of a turn) and
bos_token_id 31; tokenizer_config.json eos_token <|endoftext|> (30) and the
ChatML template (saved by transformers as chat_template.jinja). expected_chat.json
holds apply_chat_template's text and ids for one conversation.
"""
import json
import os
import sys

import torch
from transformers import AutoConfig, AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
DEST = os.path.join(HERE, "hf-chat")
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CONVERSATION = [{"role": "system", "content": "be brief."}, {"role": "user", "content": "a cat, a mat."}]


def char_tokenizer_json():
    """tinygpt's char tokenizer layout (WordLevel, one token per character) with three specials."""
    chars = sorted("abcdefghijklmnopqrstuvwxyz .,\n")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {c: i for i, c in enumerate(chars)}
    added = []
    for s in specials:
        vocab[s] = len(vocab)
        added.append({"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True})
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
            "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[\\s\\S]"}, "behavior": "Isolated", "invert": False},
            "post_processor": None, "decoder": {"type": "Fuse"},
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}}


def write():
    os.makedirs(DEST, exist_ok=True)
    for name in os.listdir(DEST):
        os.remove(os.path.join(DEST, name))
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=33, hidden_size=8, intermediate_size=12, num_hidden_layers=1, num_attention_heads=2,
                                         num_key_value_heads=1, max_position_embeddings=64, tie_word_embeddings=True,
                                         bos_token_id=31, eos_token_id=32))
    model.save_pretrained(DEST, safe_serialization=True)
    GenerationConfig(bos_token_id=31, eos_token_id=[32]).save_pretrained(DEST)
    raw = os.path.join(DEST, "tokenizer.json")
    with open(raw, "w") as f:
        json.dump(char_tokenizer_json(), f)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=raw, bos_token="<|im_start|>", eos_token="<|endoftext|>")
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(DEST)
    with open(raw, "w") as f:  # as tinygpt writes it: transformers adds a post-processor that adds nothing here
        json.dump(char_tokenizer_json(), f)
    text = tokenizer.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)
    ids = tokenizer.apply_chat_template(CONVERSATION, tokenize=True, add_generation_prompt=True)
    if hasattr(ids, "input_ids"):
        ids = ids["input_ids"]
    with open(os.path.join(DEST, "expected_chat.json"), "w") as f:
        json.dump({"messages": CONVERSATION, "text": text, "ids": list(ids)}, f, indent=1)
    print(f"wrote {DEST}: {sorted(os.listdir(DEST))}")


def check(directory):
    """transformers reads back what tinygpt exported: the same end and beginning ids and template."""
    generation = GenerationConfig.from_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    config = AutoConfig.from_pretrained(directory)
    assert generation.eos_token_id == [32, 30], generation.eos_token_id
    assert generation.bos_token_id == 31 and config.bos_token_id == 31, (generation.bos_token_id, config.bos_token_id)
    assert config.eos_token_id == [32, 30], config.eos_token_id
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.bos_token == "<|im_start|>", (tokenizer.eos_token, tokenizer.bos_token)
    assert tokenizer.chat_template == CHATML, tokenizer.chat_template
    with open(os.path.join(DEST, "expected_chat.json")) as f:
        expected = json.load(f)
    assert tokenizer.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True) == expected["text"]
    print(f"{directory}: transformers reads eos {generation.eos_token_id}, bos {generation.bos_token_id} and the chat template")


if __name__ == "__main__":
    if "--check" in sys.argv:
        check(sys.argv[sys.argv.index("--check") + 1])
    else:
        write()
