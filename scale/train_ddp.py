#!/usr/bin/env python3
"""Continue a tinygpt model's training on many processes or GPUs with PyTorch
DistributedDataParallel, and write checkpoints tinygpt imports back.

    tinygpt export --checkpoint runs/RUN --format hf --out hf-model
    torchrun --nproc_per_node 2 scale/train_ddp.py --from hf-model --config runs/RUN/config.json \\
        --set train.max_steps=5000 --out ddp-run
    tinygpt import --format hf --from ddp-run/latest --out continued

It takes the export (config.json, model.safetensors, tokenizer.json, ...), the
run config tinygpt takes (docs/config.md, with --set overrides) and the
training text, and trains as `tinygpt train --init-from` would: the same
train/validation split, token ids (the exported tokenizer.json through HF
`tokenizers`), batch windows (tinygpt's xoshiro256** generator, see
tinygpt_batches.py), learning-rate schedule, AdamW parameter groups (decay on
matrices and embeddings only), gradient clipping, mean cross-entropy,
evaluations and metrics.jsonl. The global batch (batch_size × grad_accum_steps
sequences, the same for any number of processes) is split across the ranks.
gloo on CPUs, nccl on GPUs, chosen automatically.

Writes into --out: run_config.json (the resolved tinygpt config),
metrics.jsonl (tinygpt's fields), latest/ and best/ (Hugging Face directories
that `tinygpt import --format hf` reads, plus trainer_state.json and
optimizer.pt so that --resume continues exactly), validation.txt (the held-out
text) and final_eval.json (the final model scored on it the way `tinygpt eval`
scores a file). See docs/scale-out.md.

Needs: pip install torch numpy transformers tokenizers safetensors
(scale/requirements.txt). Never a dependency of building or testing tinygpt.
"""
import argparse
import contextlib
import gc
import json
import math
import os
import shutil
import sys
import time

import tinygpt_batches as batches
import tinygpt_config

PROGRAM = "train_ddp"
RANK = int(os.environ.get("RANK", "0"))


class UsageError(Exception):
    """A problem with the input, reported as one line before training starts."""


def log(text):
    if RANK == 0:
        print(text, flush=True)


def note(text):
    if RANK == 0:
        print(f"{PROGRAM}: {text}", file=sys.stderr, flush=True)


# MARK: the export


def read_json(path, what):
    try:
        with open(path, "rb") as f:
            value = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{what} '{path}' does not exist")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{what} '{path}' is not valid JSON: {e}")
    if not isinstance(value, dict):
        raise UsageError(f"{what} '{path}' must hold a JSON object")
    return value


GPT2_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
                    "gelu": "gelu", "relu": "relu", "silu": "swish", "swish": "swish"}


def export_model_fields(directory):
    """(family, the tinygpt model fields the export fixes, its HF config).
    Refuses what `tinygpt import --format hf` would refuse, so that the result comes back."""
    if not os.path.isdir(directory):
        raise UsageError(f"--from '{directory}' is not a directory (give the output of `tinygpt export --format hf`)")
    hf = read_json(os.path.join(directory, "config.json"), "export config")
    if os.path.exists(os.path.join(directory, "model.safetensors.index.json")):
        raise UsageError(f"{directory} holds a sharded checkpoint; tinygpt exports one model.safetensors")
    if not os.path.exists(os.path.join(directory, "model.safetensors")):
        raise UsageError(f"{directory} has no model.safetensors")
    if not os.path.exists(os.path.join(directory, "tokenizer.json")):
        raise UsageError(f"{directory} has no tokenizer.json")
    family = hf.get("model_type")
    if family == "gpt2":
        activation = hf.get("activation_function", "gelu_new")
        if activation not in GPT2_ACTIVATIONS:
            raise UsageError(f"{directory}/config.json: activation_function '{activation}' is not supported (gelu_new, gelu, relu, silu)")
        d = hf["n_embd"]
        fields = {"context_length": hf["n_positions"], "n_layer": hf["n_layer"], "d_model": d, "n_head": hf["n_head"],
                  "n_kv_head": hf["n_head"], "d_ff": hf.get("n_inner") or 4 * d, "norm": "layernorm",
                  "norm_position": "pre", "norm_eps": hf.get("layer_norm_epsilon", 1e-5), "position": "learned",
                  "activation": GPT2_ACTIVATIONS[activation], "tie_embeddings": hf.get("tie_word_embeddings", True),
                  "vocab_size": hf["vocab_size"]}
    elif family == "llama":
        if hf.get("rope_scaling") is not None:
            raise UsageError(f"{directory}/config.json: rope_scaling is not supported (tinygpt has plain RoPE)")
        if hf.get("hidden_act", "silu") != "silu":
            raise UsageError(f"{directory}/config.json: hidden_act '{hf['hidden_act']}' is not supported (silu)")
        if hf.get("head_dim") is not None and hf["head_dim"] * hf["num_attention_heads"] != hf["hidden_size"]:
            raise UsageError(f"{directory}/config.json: head_dim × num_attention_heads ≠ hidden_size; tinygpt needs d_model = n_head · head size")
        if bool(hf.get("attention_bias", False)) != bool(hf.get("mlp_bias", False)):
            raise UsageError(f"{directory}/config.json: attention_bias and mlp_bias differ; tinygpt has one bias switch")
        fields = {"context_length": hf["max_position_embeddings"], "n_layer": hf["num_hidden_layers"],
                  "d_model": hf["hidden_size"], "n_head": hf["num_attention_heads"],
                  "n_kv_head": hf.get("num_key_value_heads") or hf["num_attention_heads"], "d_ff": hf["intermediate_size"],
                  "norm": "rmsnorm", "norm_position": "pre", "norm_eps": hf.get("rms_norm_eps", 1e-6), "position": "rope",
                  "rope_theta": hf.get("rope_theta", 10000.0), "activation": "swiglu",
                  "bias": bool(hf.get("attention_bias", False)), "tie_embeddings": hf.get("tie_word_embeddings", False),
                  "vocab_size": hf["vocab_size"]}
    else:
        raise UsageError(f"{directory}/config.json: model_type '{family}' is not supported (gpt2, llama: the families "
                         "`tinygpt export --format hf` writes and `tinygpt import --format hf` reads)")
    return family, fields, hf


def check_config_against_export(config, given, family, fields, hf, tokenizer_info, directory, defaults):
    """The export decides the model and the tokenizer (as `train --init-from`
    does). A field the config sets explicitly must agree with it, or be one
    the script can honour; anything else is refused by name."""
    model = config["model"]
    for key in sorted(k for k in given if k.startswith("model.")):
        name = key.split(".", 1)[1]
        value = model[name]
        if name == "init":
            continue  # decides fresh weights only; the export's weights are used
        if name == "dropout":
            if family == "llama" and value > 0:
                raise UsageError(f"model.dropout is {value}, but transformers' LLaMA has no residual dropout; "
                                 "set model.dropout=0 (tinygpt's dropout does not carry over to this family)")
            continue
        if name == "bias" and family == "gpt2":
            continue  # bias=false is honoured by freezing GPT-2's (zero) biases
        if name == "vocab_size" and value is None:
            continue
        if name == "rope_theta" and family == "gpt2":
            continue  # unused with learned positions (a run's resolved config lists it)
        if name == "rope_scaling":
            if value is None:
                continue  # a run's resolved config lists it as null
            raise UsageError(f"{key} is set in the config; this script trains plain RoPE only (continue without rope_scaling, "
                             "and set it at eval or sample time with tinygpt)")
        if name not in fields:
            # A field the export has no place for: fine at tinygpt's default, else the run could not come back.
            if value == defaults["model"].get(name):
                continue
            raise UsageError(f"{key} is {json.dumps(value)} in the config, which the export {directory} does not describe "
                             f"(tinygpt's default is {json.dumps(defaults['model'].get(name))}); drop the field")
        theirs = fields.get(name)
        same = math.isclose(value, theirs, rel_tol=1e-9) if isinstance(value, float) and isinstance(theirs, (int, float)) \
            else value == theirs
        if not same:
            raise UsageError(f"{key} is {json.dumps(value)} in the config but the export {directory} has "
                             f"{json.dumps(theirs)}; the export decides the model: drop the field or set it to match")
    tok = config["tokenizer"]
    if "tokenizer.type" in given and tok["type"] != tokenizer_info["type"]:
        raise UsageError(f"tokenizer.type is \"{tok['type']}\" in the config but the export's tokenizer.json is "
                         f"{tokenizer_info['type']}; the export decides the tokenizer")
    if "tokenizer.vocab_size" in given and tok["type"] == "bpe" and tok["vocab_size"] != tokenizer_info["size"]:
        raise UsageError(f"tokenizer.vocab_size is {tok['vocab_size']} in the config but the export's tokenizer.json "
                         f"has {tokenizer_info['size']} tokens; the export decides the tokenizer")
    for special in tok["special_tokens"] if "tokenizer.special_tokens" in given else []:
        if special not in tokenizer_info["special"]:
            raise UsageError(f"tokenizer.special_tokens lists \"{special}\" but the export's tokenizer.json has no such "
                             "special token; the export decides the tokenizer")
    if any(k.startswith("sample.") for k in given):
        note("the sample section is not used for training (the export's generation_config.json is carried into the checkpoints)")


def load_tokenizer(directory, vocab_size):
    from tokenizers import Tokenizer
    path = os.path.join(directory, "tokenizer.json")
    try:
        tokenizer = Tokenizer.from_file(path)
    except Exception as e:  # tokenizers raises a plain Exception for bad files
        raise UsageError(f"{path} is not a tokenizer the `tokenizers` library reads: {e}")
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    if size != vocab_size:
        raise UsageError(f"{path} has {size} tokens but the model's vocab_size is {vocab_size}: "
                         "the tokenizer does not belong to this model")
    raw = read_json(path, "tokenizer")
    kind = (raw.get("model") or {}).get("type")
    info = {"type": "char" if kind == "WordLevel" else "bpe", "size": size,
            "special": {t["content"] for t in raw.get("added_tokens", []) if t.get("special")}}
    return tokenizer, info


# MARK: data


def read_text(path):
    """The file's text exactly as tinygpt reads it: UTF-8, no newline translation."""
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        raise UsageError(f"data file '{path}' does not exist (set it with --data FILE)")
    except IsADirectoryError:
        raise UsageError(f"data file '{path}' is a directory; give a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"data file '{path}' is not valid UTF-8: bad byte 0x{data[e.start]:02X} at byte offset {e.start}")
    if not text:
        raise UsageError(f"data file '{path}' is empty")
    return text


def split_text(text, val_fraction):
    """tinygpt's Corpus.split: at the Unicode scalar nearest to (1 − val_fraction),
    rounding halves away from zero as Swift's rounded() does."""
    cut = math.floor(len(text) * (1 - val_fraction) + 0.5)
    return text[:cut], text[cut:]


def encode(tokenizer, text):
    import numpy as np
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    return np.asarray(ids, dtype=np.int32)  # half the memory of int64 on every rank; widened per batch


# MARK: the schedule (float32 arithmetic, as tinygpt's LearningRateSchedule)


def learning_rate(train, step):
    import numpy as np
    f = np.float32
    peak, minimum = f(train["lr"]), f(train["min_lr"])
    warmup, total = train["warmup_steps"], train["max_steps"]
    if step < warmup:
        return float(peak * f(step + 1) / f(warmup + 1))
    if train["lr_schedule"] == "constant":
        return float(peak)
    if step >= total or total <= warmup:
        return float(minimum)
    progress = (step - warmup) / (total - warmup)
    coefficient = 0.5 * (1 + math.cos(math.pi * progress)) if train["lr_schedule"] == "cosine" else 1 - progress
    return float(minimum + f(coefficient) * (peak - minimum))


# MARK: metrics.jsonl, in tinygpt's format


def _g(x):
    return "%.6g" % x if math.isfinite(x) else "null"


def log_record(step, loss, lr, grad_norm, ms, tokens_per_s):
    return (f'{{"step":{step},"loss":{_g(loss)},"perplexity":{_g(_exp(loss))},"lr":{_g(lr)},'
            f'"grad_norm":{_g(grad_norm)},"ms_per_step":{_g(ms)},"tokens_per_s":{_g(tokens_per_s)}}}')


def eval_record(step, train, val):
    return (f'{{"step":{step},"train_loss":{_g(train)},"train_perplexity":{_g(_exp(train))},'
            f'"val_loss":{_g(val)},"val_perplexity":{_g(_exp(val))}}}')


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def perplexity_text(loss):
    p = _exp(loss)
    return "%.2f" % p if p < 1e6 else "%.3e" % p


# MARK: the run


RUN_FILES = ["latest", "best", "metrics.jsonl", "run_config.json", "validation.txt", "final_eval.json"]
FREE_ON_RESUME = {"train.threads", "train.log_interval", "train.eval_interval"}


def parse_arguments(argv):
    p = argparse.ArgumentParser(prog="train_ddp.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="export", required=True, help="a `tinygpt export --format hf` directory")
    p.add_argument("--config", help="tinygpt run config (docs/config.md); default: all defaults")
    p.add_argument("--set", action="append", default=[], metavar="section.field=value", help="override a config field")
    p.add_argument("--data", help="training text (overrides data.path)")
    p.add_argument("--tinygpt", help="the tinygpt executable that reads the config (default: $TINYGPT, .build/release/tinygpt, or on PATH)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue OUT/latest exactly (any number of processes)")
    p.add_argument("--force", action="store_true", help="start over in an OUT that holds another run")
    p.add_argument("--stop-after", type=int, metavar="STEP",
                   help="save latest/ and stop once STEP steps are done (a job's time slice); continue with --resume")
    p.add_argument("--micro-batch", type=int, default=0,
                   help="sequences per forward/backward on one rank (memory only; default train.batch_size)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: cuda when available")
    p.add_argument("--autocast", choices=["off", "bf16"], default="off",
                   help="bf16 autocast on GPUs: faster, no longer the same numbers as tinygpt")
    return p.parse_args(argv)


def prepare(args):
    """Every check that can fail before training; returns what the run needs."""
    if args.resume and args.force:
        raise UsageError("--resume and --force contradict each other: choose one")
    if args.stop_after is not None and args.stop_after < 1:
        raise UsageError(f"--stop-after must be ≥ 1, got {args.stop_after}")
    if args.micro_batch < 0:
        raise UsageError(f"--micro-batch must be ≥ 1 (0: train.batch_size), got {args.micro_batch}")
    if args.config is not None and not os.path.exists(args.config):
        raise UsageError(f"config file '{args.config}' does not exist")
    try:
        config, given = tinygpt_config.load(args.config, args.set, tinygpt=args.tinygpt)
        defaults, _ = tinygpt_config.load(tinygpt=args.tinygpt)
    except tinygpt_config.ConfigError as e:
        raise UsageError(str(e))
    if args.data:
        config["data"]["path"] = args.data
    config["data"]["path"] = os.path.abspath(config["data"]["path"])

    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out '{out}' is a file; give a directory for the run")
    holds_run = any(os.path.exists(os.path.join(out, f)) for f in RUN_FILES)
    if args.resume:
        if not os.path.exists(os.path.join(out, "latest", "trainer_state.json")):
            raise UsageError(f"cannot resume: '{out}' has no latest/ checkpoint written by {PROGRAM}")
    elif holds_run and not args.force:
        raise UsageError(f"'{out}' holds another run; use --resume to continue it or --force to start over")

    family, fields, hf = export_model_fields(args.export)
    tokenizer, tokenizer_info = load_tokenizer(args.export, fields["vocab_size"])
    check_config_against_export(config, given, family, fields, hf, tokenizer_info, args.export, defaults)
    # The config as trained: the export's model and tokenizer, the rest from the config.
    run = json.loads(json.dumps(config))
    for name, value in fields.items():
        run["model"][name] = value
    if family == "gpt2":
        run["model"]["bias"] = config["model"]["bias"] if "model.bias" in given else True
    if "model.dropout" not in given:
        run["model"]["dropout"] = float(hf.get("resid_pdrop", 0.0)) if family == "gpt2" else 0.0
    run["tokenizer"]["type"] = tokenizer_info["type"]
    if tokenizer_info["type"] == "bpe":
        run["tokenizer"]["vocab_size"] = tokenizer_info["size"]
    if args.resume:
        saved = read_json(os.path.join(out, "run_config.json"), "run config")
        differing = [f"{s}.{k}" for s in run for k in run[s]
                     if s != "sample" and f"{s}.{k}" not in FREE_ON_RESUME and saved.get(s, {}).get(k) != run[s][k]]
        if differing:
            details = "; ".join(f"{k}: checkpoint {json.dumps(saved.get(k.split('.')[0], {}).get(k.split('.')[1]))}, "
                                f"now {json.dumps(run[k.split('.')[0]][k.split('.')[1]])}" for k in differing[:5])
            raise UsageError(f"cannot resume {out}/latest: the config differs in {details}")

    text = read_text(run["data"]["path"])
    train_text, validation_text = split_text(text, run["data"]["val_fraction"])
    train_ids, validation_ids = encode(tokenizer, train_text), encode(tokenizer, validation_text)
    context = run["model"]["context_length"]
    for name, ids in (("training", train_ids), ("validation", validation_ids)):
        if len(ids) < context + 1:
            raise UsageError(f"the {name} split has {len(ids)} tokens, fewer than context_length + 1 = {context + 1}; "
                             "use more text or a different data.val_fraction")
    t = run["train"]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > t["batch_size"] * t["grad_accum_steps"]:
        raise UsageError(f"the global batch (train.batch_size × train.grad_accum_steps = "
                         f"{t['batch_size'] * t['grad_accum_steps']} sequences) cannot be split across {world} processes; "
                         "raise train.grad_accum_steps or use fewer processes")
    return {"run": run, "family": family, "hf": hf, "train_ids": train_ids, "validation_ids": validation_ids,
            "validation_text": validation_text, "holds_run": holds_run}


def main(argv):
    args = parse_arguments(argv)
    try:
        prepared = prepare(args)
    except UsageError as e:
        if RANK == 0:
            print(f"{PROGRAM}: error: {e}", file=sys.stderr)
        return 2
    try:
        return Run(args, prepared).train()
    except UsageError as e:  # a non-finite loss or gradient norm during training
        if RANK == 0:
            print(f"{PROGRAM}: error: {e}", file=sys.stderr)
        return 1


class Run:
    def __init__(self, args, prepared):
        import numpy as np
        import torch
        import torch.distributed as dist
        import transformers
        from transformers import AutoModelForCausalLM

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        self.torch, self.dist, self.np = torch, dist, np
        self.args = args
        self.run = prepared["run"]
        self.family, self.hf = prepared["family"], prepared["hf"]
        self.train_ids, self.validation_ids = prepared["train_ids"], prepared["validation_ids"]
        self.validation_text = prepared["validation_text"]
        self.out = args.out
        t, m = self.run["train"], self.run["model"]

        # Processes: torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; a plain `python3` run is one process.
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = RANK
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(self.world)))
        use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
        if use_cuda and not torch.cuda.is_available():
            raise UsageError("--device cuda, but torch sees no GPU")
        self.device = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
        if use_cuda:
            torch.cuda.set_device(self.device)
        if "WORLD_SIZE" in os.environ:
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        threads = t["threads"] or max(1, (os.cpu_count() or 1) // max(1, local_world))
        torch.set_num_threads(threads)
        self.autocast = args.autocast == "bf16" and use_cuda
        if args.autocast == "bf16" and not use_cuda:
            note("--autocast bf16 applies on GPUs only; training in float32")

        if args.force and self.rank == 0 and prepared["holds_run"]:
            for name in RUN_FILES:
                path = os.path.join(self.out, name)
                shutil.rmtree(path) if os.path.isdir(path) else (os.path.exists(path) and os.remove(path))
        os.makedirs(self.out, exist_ok=True)
        self.barrier()

        # The model: the export's, or latest/ when resuming.
        source = os.path.join(self.out, "latest") if args.resume else args.export
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
        if self.family == "gpt2":
            model.config.resid_pdrop = model.config.embd_pdrop = m["dropout"]
            for module in model.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.p = m["dropout"]  # after the embeddings and each residual branch, as tinygpt
            for block in model.transformer.h:
                block.attn.attn_dropout.p = 0.0  # tinygpt does not drop attention probabilities
            if not m["bias"]:
                # tinygpt without biases = zero biases that never train (export writes zeros).
                for name, p in model.named_parameters():
                    if name.endswith(".bias"):
                        if p.detach().abs().max().item() != 0:
                            raise UsageError(f"model.bias is false but the export's {name} is not zero")
                        p.requires_grad_(False)
        model.to(self.device)
        model.train()  # from_pretrained returns eval mode (dropout off)
        self.model = model
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.ddp = None
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel
            self.ddp = DistributedDataParallel(model, device_ids=[self.device.index] if use_cuda else None)

        # tinygpt's groups: matrices and embeddings decay, norm gains and biases do not.
        decay = [p for p in self.parameters if p.dim() >= 2]
        no_decay = [p for p in self.parameters if p.dim() < 2]
        self.decaying = decay
        groups = [{"params": decay, "weight_decay": t["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
        if t["optimizer"] == "adamw":
            self.optimizer = torch.optim.AdamW(groups, lr=t["lr"], betas=(t["beta1"], t["beta2"]), eps=t["eps"])
        elif t["optimizer"] == "adam":
            self.optimizer = torch.optim.Adam(groups, lr=t["lr"], betas=(t["beta1"], t["beta2"]), eps=t["eps"])
        else:
            self.optimizer = torch.optim.SGD(groups, lr=t["lr"], momentum=t["momentum"], dampening=0)

        self.step = 0
        self.best = math.inf
        self.generator = batches.RandomGenerator(seed=batches.seed_word(t["seed"]))
        torch.manual_seed(t["seed"] + self.rank)  # dropout only
        if args.resume:
            latest = os.path.join(self.out, "latest")
            state = read_json(os.path.join(latest, "trainer_state.json"), "trainer state")
            self.step = state["step"]
            self.generator = batches.RandomGenerator(state=[int(w, 16) for w in state["data_generator"]])
            self.best = state.get("best_val_loss", math.inf)
            self.optimizer.load_state_dict(torch.load(os.path.join(latest, "optimizer.pt"), map_location=self.device))
        self.train_tokens = torch.from_numpy(self.train_ids)
        self.validation_tokens = torch.from_numpy(self.validation_ids)

        # metrics.jsonl: on resume, drop what was written after the checkpoint (as tinygpt).
        self.metrics_path = os.path.join(self.out, "metrics.jsonl")
        if self.rank == 0:
            kept = []
            if args.resume and os.path.exists(self.metrics_path):
                kept = [line for line in open(self.metrics_path).read().splitlines()
                        if line.strip() and json.loads(line)["step"] <= self.step]
            with open(self.metrics_path, "w") as f:
                f.write("".join(line + "\n" for line in kept))
            with open(os.path.join(self.out, "run_config.json"), "w") as f:
                json.dump(self.run, f, indent=2)
                f.write("\n")
        self.export = args.export
        self.micro = args.micro_batch or t["batch_size"]
        n_params = sum(p.numel() for p in model.parameters())
        n_trained = sum(p.numel() for p in self.parameters)
        note(f"run directory: {self.out}")
        note(f"data: {self.run['data']['path']}: {len(self.train_ids)} training and {len(self.validation_ids)} validation "
             f"tokens, {self.run['tokenizer']['type']} tokenizer with {self.run['model']['vocab_size']} tokens")
        trained = f" ({n_trained:,} trained: biases frozen at zero, model.bias false)" if n_trained != n_params else ""
        note(f"model: {self.family}, {n_params:,} parameters{trained}; {self.world} process{'es' if self.world > 1 else ''} "
             f"({'nccl' if use_cuda and self.world > 1 else 'gloo' if self.world > 1 else 'single'}, {self.device.type}, "
             f"{threads} thread{'s' if threads > 1 else ''} each); "
             f"{'resuming at step %d' % self.step if args.resume else 'starting from ' + self.export} to step {t['max_steps']}")

    # MARK: helpers

    def barrier(self):
        if self.dist.is_initialized():
            self.dist.barrier()

    def all_sum(self, values):
        """Sum of float64 values over all ranks."""
        tensor = self.torch.tensor(values, dtype=self.torch.float64, device=self.device)
        if self.dist.is_initialized():
            self.dist.all_reduce(tensor)
        return tensor.tolist()

    def windows(self, tokens, starts, length):
        torch = self.torch
        index = torch.tensor(starts, dtype=torch.long).unsqueeze(1) + torch.arange(length + 1).unsqueeze(0)
        rows = tokens[index].long()
        return rows[:, :-1].to(self.device), rows[:, 1:].to(self.device)

    def cross_entropy_sum(self, module, inputs, targets):
        torch = self.torch
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits = module(input_ids=inputs, use_cache=False).logits
        return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                 reduction="sum")

    def non_finite(self, what, value, step=None):
        latest = os.path.join(self.out, "latest")
        saved = f"the last good checkpoint is {latest}" if os.path.exists(latest) else "no checkpoint was saved yet"
        return UsageError(f"{what} became {value} at step {step or self.step + 1}; stopping ({saved}); "
                          "try a lower train.lr or train.grad_clip")

    # MARK: evaluation (tinygpt's Trainer.meanLoss; batches shared out over the ranks)

    def mean_loss(self, tokens, split_seed):
        t, length = self.run["train"], self.run["model"]["context_length"]
        schedule = batches.evaluation_batches(t["seed"], split_seed, len(tokens), t["batch_size"], length, t["eval_steps"])
        total = 0.0
        self.model.eval()
        with self.torch.no_grad():
            for i, starts in enumerate(schedule):
                if i % self.world != self.rank:
                    continue
                inputs, targets = self.windows(tokens, starts, length)
                total += self.cross_entropy_sum(self.model, inputs, targets).item() / targets.numel()
        self.model.train()
        return self.all_sum([total])[0] / t["eval_steps"]

    def evaluate(self):
        train = self.mean_loss(self.train_tokens, batches.TRAIN_EVAL_SEED)
        validation = self.mean_loss(self.validation_tokens, batches.VALIDATION_EVAL_SEED)
        self.append_metrics(eval_record(self.step, train, validation))
        best = " (best so far)" if validation < self.best else ""
        log("eval step %d | train loss %.4f ppl %s | val loss %.4f ppl %s%s" % (
            self.step, train, perplexity_text(train), validation, perplexity_text(validation), best))
        return train, validation

    def score_text(self, ids, text_bytes, stride, batch=8):
        """`tinygpt eval`'s sliding-window score (Sources/Train/Evaluation.swift): every token after
        the first scored once, window k starting at k·stride; windows of equal length batched by 8."""
        torch = self.torch
        context = self.run["model"]["context_length"]
        windows, scored_up_to, start = [], 0, 0
        while scored_up_to < len(ids) - 1:
            length = min(context, len(ids) - 1 - start)
            windows.append((start, length, scored_up_to - start))
            scored_up_to = start + length
            start += stride
        groups, i = [], 0
        while i < len(windows):
            group = [windows[i]]
            while len(group) < batch and i + len(group) < len(windows) and windows[i + len(group)][1] == windows[i][1]:
                group.append(windows[i + len(group)])
            groups.append(group)
            i += len(group)
        nats, count = 0.0, 0
        self.model.eval()
        with torch.no_grad():
            for g, group in enumerate(groups):
                if g % self.world != self.rank:
                    continue
                length = group[0][1]
                inputs = torch.stack([ids[s:s + length] for s, _, _ in group]).long().to(self.device)
                targets = torch.stack([ids[s + 1:s + length + 1] for s, _, _ in group]).long()
                for row, (_, _, first) in enumerate(group):
                    targets[row, :max(first, 0)] = -100
                targets = targets.to(self.device)
                counted = int((targets != -100).sum())
                loss = self.cross_entropy_sum(self.model, inputs, targets).item() / counted
                nats += loss * counted
                count += counted
        self.model.train()
        nats, count = self.all_sum([nats, count])
        return {"tokens": int(count), "loss": nats / count, "perplexity": math.exp(nats / count),
                "bits_per_byte": nats / math.log(2) / max(text_bytes, 1)}

    # MARK: checkpoints

    def append_metrics(self, line):
        if self.rank == 0:
            with open(self.metrics_path, "a") as f:
                f.write(line + "\n")

    def save(self, name):
        """OUT/name: a Hugging Face directory (`tinygpt import --format hf` reads it) plus what --resume needs."""
        if self.rank == 0:
            final = os.path.join(self.out, name)
            temporary, old = final + ".partial", final + ".old"
            for path in (temporary, old):
                shutil.rmtree(path, ignore_errors=True)
            # One model.safetensors (tinygpt import refuses sharded checkpoints).
            self.model.save_pretrained(temporary, safe_serialization=True, max_shard_size="10000GB")
            # The export's own files: the architecture has not changed, and transformers' saved
            # config.json would add its class defaults (e.g. GPT-2's token ids 50256).
            for file in ("config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"):
                if os.path.exists(os.path.join(self.export, file)):
                    shutil.copyfile(os.path.join(self.export, file), os.path.join(temporary, file))
            if self.family == "gpt2" and self.hf.get("resid_pdrop", 0.0) != self.run["model"]["dropout"]:
                config = read_json(os.path.join(temporary, "config.json"), "config")
                config["resid_pdrop"] = config["embd_pdrop"] = self.run["model"]["dropout"]
                with open(os.path.join(temporary, "config.json"), "w") as f:
                    json.dump(config, f, indent=2, sort_keys=True)
            state = {"step": self.step, "data_generator": self.generator.state_hex()}
            if math.isfinite(self.best):
                state["best_val_loss"] = self.best
            with open(os.path.join(temporary, "trainer_state.json"), "w") as f:
                json.dump(state, f, indent=2, sort_keys=True)
            self.torch.save(self.optimizer.state_dict(), os.path.join(temporary, "optimizer.pt"))
            shutil.copyfile(os.path.join(self.out, "run_config.json"), os.path.join(temporary, "run_config.json"))
            if os.path.exists(final):
                os.rename(final, old)
            os.rename(temporary, final)
            shutil.rmtree(old, ignore_errors=True)
        self.barrier()

    # MARK: the loop (tinygpt's Trainer.run)

    def train(self):
        torch = self.torch
        t, length = self.run["train"], self.run["model"]["context_length"]
        global_batch = t["batch_size"] * t["grad_accum_steps"]
        lo, hi = self.rank * global_batch // self.world, (self.rank + 1) * global_batch // self.world
        tokens_per_step = global_batch * length
        module = self.ddp or self.model
        if self.step == 0:
            self.best = min(self.best, self.evaluate()[1])
        interval_ms, interval_steps = 0.0, 0
        while self.step < t["max_steps"]:
            if self.step == self.args.stop_after:
                self.save("latest")
                note(f"stopped after step {self.step} (--stop-after); continue with --resume")
                module = None  # noqa: F841 (so that finish() can release DDP)
                self.finish()
                return 0
            started = time.perf_counter()
            lr = learning_rate(t, self.step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.optimizer.zero_grad(set_to_none=True)
            # Every rank draws the whole global batch (so all stay in step) and trains on its share.
            starts = batches.window_starts(self.generator, len(self.train_tokens), global_batch, length)[lo:hi]
            chunks = [starts[i:i + self.micro] for i in range(0, len(starts), self.micro)]
            loss_sum = 0.0
            for i, chunk in enumerate(chunks):
                inputs, targets = self.windows(self.train_tokens, chunk, length)
                sync = self.ddp is None or i == len(chunks) - 1
                with contextlib.nullcontext() if sync else self.ddp.no_sync():
                    ce = self.cross_entropy_sum(module, inputs, targets)
                    # DDP averages gradients over ranks: × world makes it the mean over the global batch.
                    (ce * (self.world / tokens_per_step)).backward()
                loss_sum += ce.item()
            loss = self.all_sum([loss_sum])[0] / tokens_per_step
            if not math.isfinite(loss):
                raise self.non_finite("loss", loss)
            max_norm = t["grad_clip"] if t["grad_clip"] > 0 else math.inf
            grad_norm = torch.nn.utils.clip_grad_norm_(self.parameters, max_norm).item()
            if not math.isfinite(grad_norm):
                raise self.non_finite("gradient norm", grad_norm)
            if t["l1"] or t["l2"]:  # tinygpt adds the penalties' gradients after clipping, on decaying tensors
                with torch.no_grad():
                    for p in self.decaying:
                        if p.grad is not None:
                            p.grad.add_(t["l1"] * torch.sign(p) + 2 * t["l2"] * p)
            self.optimizer.step()
            self.step += 1
            ms = (time.perf_counter() - started) * 1000
            interval_ms += ms
            interval_steps += 1
            if self.step % t["log_interval"] == 0 or self.step == t["max_steps"]:
                ms_per_step = interval_ms / interval_steps
                tokens_per_s = tokens_per_step / (ms_per_step / 1000)
                self.append_metrics(log_record(self.step, loss, lr, grad_norm, ms_per_step, tokens_per_s))
                log("step %d/%d | loss %.4f | ppl %s | lr %.2e | grad norm %.3f | %.1f ms/step | %.0f tok/s" % (
                    self.step, t["max_steps"], loss, perplexity_text(loss), lr, grad_norm, ms_per_step, tokens_per_s))
                interval_ms, interval_steps = 0.0, 0
            if self.step % t["eval_interval"] == 0 or self.step == t["max_steps"]:
                train, validation = self.evaluate()
                if not math.isfinite(train):
                    raise self.non_finite("training loss at evaluation", train, self.step)
                if not math.isfinite(validation):
                    raise self.non_finite("validation loss", validation, self.step)
                if validation < self.best:
                    self.best = validation
                    self.save("best")
                self.save("latest")
        self.final_evaluation()
        module = None  # noqa: F841 (so that finish() can release DDP)
        self.finish()
        return 0

    def finish(self):
        """Leaves the process group together and in order (DDP's reducer first):
        once, a rank tearing gloo down while rank 0 still wrote files aborted
        with "terminate called without an active exception"."""
        if self.dist.is_initialized():
            self.dist.barrier()
            self.ddp = None
            gc.collect()
            self.dist.destroy_process_group()

    def final_evaluation(self):
        """The final model on the held-out text, scored as `tinygpt eval` scores a file."""
        context = self.run["model"]["context_length"]
        stride = max(1, context // 2)
        result = self.score_text(self.validation_tokens, len(self.validation_text.encode("utf-8")), stride)
        result.update({"checkpoint": "latest", "step": self.step, "data": "validation.txt", "stride": stride})
        if self.rank == 0:
            with open(os.path.join(self.out, "validation.txt"), "wb") as f:
                f.write(self.validation_text.encode("utf-8"))
            with open(os.path.join(self.out, "final_eval.json"), "w") as f:
                json.dump(result, f, indent=2)
                f.write("\n")
        log("validation text (%s): tokens %d | loss %.4f | perplexity %.3f | bits per byte %.4f" % (
            os.path.join(self.out, "validation.txt"), result["tokens"], result["loss"], result["perplexity"],
            result["bits_per_byte"]))
        note(f"done; bring it back: tinygpt import --format hf --from {os.path.join(self.out, 'latest')} --out CKPT")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
