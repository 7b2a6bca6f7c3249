#!/usr/bin/env python3
"""The reliability battery: tinygpt run as a hostile but realistic user would.

    python3 bench/parity/reliability.py [.build/release/tinygpt]

Runs every case in a scratch directory and prints one summary line, e.g.
"412 bad inputs: 412 clean, 0 crash, 0 data loss, 0 accepted". A case is
- clean: a refused input gives exit status 1 or 2 and exactly one stderr line
  starting "tinygpt: error:" with no Foundation internals in it (valid inputs
  mixed in must exit 0);
- crash: killed by a signal (a trap), or a backtrace / Fatal error on stderr;
- data loss: any file the user already had (the run, the export, the text,
  other files) changed or disappeared;
- accepted: a bad input that exited 0.
Needs only Python's standard library. Run it after `swift build -c release`.
"""
import hashlib, json, os, shutil, struct, subprocess, sys, tempfile

BINARY = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/release/tinygpt")
TINY = ["--set", "model.n_layer=1", "--set", "model.d_model=16", "--set", "model.n_head=2",
        "--set", "model.context_length=16", "--set", "train.batch_size=2", "--set", "train.max_steps=6",
        "--set", "train.warmup_steps=1", "--set", "train.eval_interval=3", "--set", "train.eval_steps=1",
        "--set", "train.log_interval=3"]
LEAKS = ["Error Domain", "NSCocoa", "NSPOSIX", ".tmp-", "Fatal error", "Stack dump", "backtrace"]


def run(args, redirect=None, timeout=120, env=None):
    """tinygpt with args; redirect is a shell redirection of its stdout ("> /dev/full", ">&-") or a pipe into
    a reader that may leave early ("| head -c 10"), whose status is then tinygpt's; env adds variables."""
    environment = dict(os.environ, **env) if env else None
    if redirect and redirect.startswith("|"):
        script = f'"$0" "$@" {redirect} > /dev/null; exit ${{PIPESTATUS[0]}}'
        p = subprocess.run(["/bin/bash", "-c", script, BINARY] + args, capture_output=True, timeout=timeout, env=environment)
    elif redirect:
        quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in [BINARY] + args)
        p = subprocess.run(["/bin/sh", "-c", f"exec {quoted} {redirect}"], capture_output=True, timeout=timeout, env=environment)
    else:
        p = subprocess.run([BINARY] + args, capture_output=True, timeout=timeout, env=environment)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def snapshot(root, skip):
    """Hash of every file under root except the output paths of the case."""
    out = {}
    for base, dirs, files in os.walk(root):
        rel = os.path.relpath(base, root)
        if any(rel == s or rel.startswith(s + os.sep) for s in skip):
            continue
        for f in files:
            path = os.path.join(base, f)
            rp = os.path.relpath(path, root)
            if rp in skip or f == ".tinygpt-run":
                continue
            with open(path, "rb") as fh:
                out[rp] = hashlib.sha256(fh.read()).hexdigest()
    return out


def cases(root):
    """(arguments, expect_ok, outputs the case may create, stdout redirect[, extra environment])."""
    c = []
    numbers = ["", "-1", "0", "0x10", "nan", "inf", "-inf", "1e999", "abc", "1.5.2", "99999999999999999999", "1_000", " 3"]
    # Sampling flags with bad values.
    for flag in ["max-new-tokens", "temperature", "top-k", "top-p", "min-p", "repetition-penalty", "no-repeat-ngram",
                 "beam-width", "length-penalty", "num-samples", "seed", "threads"]:
        for v in numbers:
            ok = (flag in ["max-new-tokens", "top-k", "no-repeat-ngram", "seed", "threads", "temperature", "min-p"] and v == "0") \
                or (flag in ["seed", "length-penalty"] and v in ["-1", "0"]) \
                or (flag in ["temperature", "repetition-penalty", "length-penalty"] and v == "99999999999999999999")
            # Beam settings are errors under the checkpoint's strategy (sample): their values are tried with beam search.
            beam = ["--strategy", "beam"] if flag in ["beam-width", "length-penalty"] else []
            c.append((["sample", "--checkpoint", "run", "--max-new-tokens", "2"] + beam + [f"--{flag}", v] if flag != "max-new-tokens"
                      else ["sample", "--checkpoint", "run", f"--{flag}", v], ok, [], None))
    # Config overrides with bad values, on train (into a fresh directory).
    for key in ["train.lr", "train.batch_size", "train.max_steps", "train.warmup_steps", "train.grad_clip", "train.weight_decay",
                "model.n_layer", "model.d_model", "model.n_head", "model.context_length", "model.dropout", "data.val_fraction"]:
        for v in numbers + ["1e-3e"]:
            ok = (key in ["train.weight_decay", "model.dropout", "train.warmup_steps"] and v == "0") or (key == "train.grad_clip" and v in ["0", "99999999999999999999"])
            c.append((["train", "--data", "text.txt", "--out", "fresh"] + TINY + ["--set", f"{key}={v}"], ok, ["fresh"], None))
    for bad in ["model", "model.", ".x", "nosuch.field=1", "model.nosuch=1", "model.n_layer", "=3", "train.lr==1"]:
        c.append((["train", "--data", "text.txt", "--out", "fresh"] + TINY + ["--set", bad], False, ["fresh"], None))
    # Paths that are not what they should be.
    weird = ["missing.txt", ".", "/", "/dev/null", "/dev/full", "/proc/self/mem", "mine", "run", "run/latest/model.safetensors",
             "bad.bin", "empty.txt"]
    for p in weird:
        c.append((["train", "--data", p, "--out", "fresh"] + TINY, False, ["fresh"], None))
        c.append((["eval", "--checkpoint", "run", "--data", p], False, [], None))
        c.append((["sample", "--checkpoint", p, "--max-new-tokens", "2"], p == "run", [], None))
        c.append((["train", "--config", p, "--data", "text.txt", "--out", "fresh"], False, ["fresh"], None))
        c.append((["tokenizer", "encode", "--tokenizer", p, "--text", "a"], False, [], None))
        c.append((["tokenizer", "train", "--type", "char", "--data", p, "--out", "tok.json"], False, ["tok.json"], None))
        c.append((["import", "--format", "hf", "--from", p, "--out", "imported"], False, ["imported"], None))
        c.append((["info", "--checkpoint", p], p == "run", [], None))
    # Output paths that hold the user's data: refused with or without --force.
    for out in ["run", "run/latest", "run/best", ".", "..", "/", "text.txt", "mine", "hf", "imported0", os.path.expanduser("~")]:
        for force in [[], ["--force"]]:
            ok = out in ["hf", "mine"] and force == ["--force"]  # a user's own directory, replaced because they asked
            c.append((["export", "--checkpoint", "run", "--format", "hf", "--out", out] + force, ok, [out] if ok else [], None))
            ok = out == "mine" and force == ["--force"]
            c.append((["import", "--format", "hf", "--from", "hf", "--out", out] + force, ok, [out] if ok else [], None))
    for out in ["mine", "imported0", "hf", "text.txt", "run/latest"]:
        for force in [[], ["--force"]]:
            c.append((["train", "--data", "text.txt", "--out", out] + TINY + force, False, [], None))
    # Token ids.
    for ids in ["[[1]],,]2[", "1,,2", ",1", "1,", "[1 2", "1]", "-1", "1.5", "99", "a", "0x1", "[]1"]:
        c.append((["tokenizer", "decode", "--tokenizer", "run/tokenizer.json", "--ids", ids], False, [], None))
        c.append((["logits", "--checkpoint", "run", "--ids", ids], False, [], None))
    # Contradictions and nonsense.
    c.append((["sample", "--checkpoint", "run", "--strategy", "beam", "--beam-width", "2", "--num-samples", "5"], False, [], None))
    c.append((["sample", "--checkpoint", "run", "--set", "model.d_model=32"], False, [], None))
    c.append((["sample", "--checkpoint", "run", "--stream", "--no-stream"], False, [], None))
    c.append((["sample", "--checkpoint", "run", "--prompt", "a", "--prompt-file", "text.txt"], False, [], None))
    c.append((["train", "--out", "run", "--resume", "--force"], False, [], None))
    c.append((["train", "--out", "nosuchrun", "--resume"], False, [], None))
    c.append((["train", "--out", "run", "--resume", "--data", "other.txt"], False, [], None))
    c.append((["nosuchcommand"], False, [], None))
    c.append((["sample"], False, [], None))
    c.append((["sample", "--checkpoint"], False, [], None))
    c.append((["eval", "--checkpoint", "run", "--data", "text.txt", "--stride", "0"], False, [], None))
    c.append((["bench", "nosuch"], False, [], None))
    c.append((["tokenizer", "train", "--data", "text.txt", "--vocab-size", "99999999999", "--out", "tok.json"], False, ["tok.json"], None))
    # Length options: contexts, plots and scalings.
    for v in ["0", "-1", "abc", "0x10", "99999999999"]:
        c.append((["eval", "--checkpoint", "run", "--data", "text.txt", "--context", v], False, [], None))
        c.append((["sample", "--checkpoint", "run", "--context", v, "--max-new-tokens", "2"], False, [], None))
    c.append((["eval", "--checkpoint", "run", "--data", "text.txt", "--context", "64"], False, [], None))  # learned positions
    for svg in ["text.txt", "mine", "run"]:
        c.append((["eval", "--checkpoint", "run", "--data", "text.txt", "--by-position", "--svg", svg], False, [], None))
    for scaling in ['{"rope_type":"linear","factor":0}', '{"rope_type":"nosuch","factor":2}', '{"rope_type":"linear","factor":2}']:
        c.append((["eval", "--checkpoint", "run", "--data", "text.txt", "--set", f"model.rope_scaling={scaling}"], False, [], None))
    # Damaged checkpoints: refused on load.
    for ckpt in ["nan-ckpt", "vocab-ckpt", "negstep-run"]:
        c.append((["sample", "--checkpoint", ckpt, "--max-new-tokens", "2"], ckpt == "negstep-run", [], None))
        c.append((["eval", "--checkpoint", ckpt, "--data", "text.txt"], ckpt == "negstep-run", [], None))
        c.append((["export", "--checkpoint", ckpt, "--format", "hf", "--out", "hf2"], ckpt == "negstep-run", ["hf2"], None))
    c.append((["train", "--out", "negstep-run", "--resume"], False, [], None))
    # Issue 32: data loss. The --init-from checkpoint inside --out (directly, through a link), with and without --force.
    for source in ["run", "run/best", "run/latest", "link/best"]:
        for force in [[], ["--force"]]:
            c.append((["train", "--init-from", source, "--out", "run", "--data", "text.txt"] + TINY + force, False, [], None))
    c.append((["train", "--init-from", "run/best", "--out", "run/best/inner", "--data", "text.txt"] + TINY, False, [], None))
    c.append((["train", "--data", "run/tokenizer.json", "--out", "run", "--force"] + TINY, False, [], None))
    # $HOME as well as the passwd entry's home (sudo -E, containers, CI), and a directory containing it.
    home = {"HOME": os.path.join(root, "home")}
    for out in ["home", "home/", "home/../home", "."]:
        c.append((["export", "--checkpoint", "run", "--format", "hf", "--out", out, "--force"], False, [], None, home))
        c.append((["import", "--format", "hf", "--from", "hf", "--out", out, "--force"], False, [], None, home))
    # Accepted nonsense: unused weights on import, non-finite metrics, a step beyond max_steps, a newer format,
    # options without effect, validation that differs between commands, NaN optimizer state.
    c.append((["import", "--format", "hf", "--from", "hf-extra", "--out", "imported"], False, ["imported"], None))
    c.append((["eval", "--checkpoint", "huge-ckpt", "--data", "text.txt"], False, [], None))
    c.append((["eval", "--checkpoint", "huge-ckpt", "--data", "text.txt", "--json"], False, [], None))
    c.append((["train", "--init-from", "huge-ckpt", "--data", "text.txt", "--out", "fresh"] + TINY, False, ["fresh"], None))
    c.append((["train", "--out", "bigstep-run", "--resume"], False, [], None))
    for command in [["sample", "--checkpoint", "newver-ckpt", "--max-new-tokens", "2"], ["eval", "--checkpoint", "newver-ckpt", "--data", "text.txt"],
                    ["export", "--checkpoint", "newver-ckpt", "--format", "hf", "--out", "hf2"],
                    ["quantize", "--checkpoint", "newver-ckpt", "--out", "q2"]]:
        c.append((command, False, ["hf2", "q2"], None))
    c.append((["eval", "--checkpoint", "run", "--data", "text.txt", "--buckets", "4"], False, [], None))
    c.append((["eval", "--checkpoint", "run", "--data", "text.txt", "--by-position", "--buckets", "4"], True, [], None))
    c.append((["info", "--set", "lora.targets=gate"], False, [], None))
    c.append((["info", "--config", "gate.json"], False, [], None))
    c.append((["train", "--data", "text.txt", "--out", "fresh", "--config", "gate.json"] + TINY, False, ["fresh"], None))
    c.append((["train", "--out", "nanadam-run", "--resume"], False, [], None))
    # Recovery: latest/ lost to a full disk resumes from best/; a killed export's leftovers are cleaned.
    c.append((["train", "--out", "nolatest-run", "--resume"], True, ["nolatest-run"], None))
    leftover = next(e for e in os.listdir(root) if e.startswith(".hf9.tmp-"))
    c.append((["export", "--checkpoint", "run", "--format", "hf", "--out", "hf9"], True, ["hf9", leftover], None))
    # Frictions: model settings under --init-from, beam settings, flags the strategy ignores, export --set.
    c.append((["train", "--init-from", "run", "--data", "text.txt", "--out", "fresh", "--set", "model.context_length=8"] + TINY[8:], False, ["fresh"], None))
    c.append((["train", "--init-from", "run", "--data", "text.txt", "--out", "fresh", "--set", "model.n_layer=2"] + TINY[8:], False, ["fresh"], None))
    c.append((["train", "--init-from", "run", "--data", "text.txt", "--out", "fresh", "--set", "tokenizer.type=bpe"] + TINY[8:], False, ["fresh"], None))
    c.append((["train", "--init-from", "rope-run", "--data", "text.txt", "--out", "fresh", "--set", "model.context_length=8"] + TINY[8:], True, ["fresh"], None))
    c.append((["train", "--init-from", "long-ckpt", "--data", "sft.jsonl", "--out", "fresh", "--set", "train.objective=sft",
               "--set", "train.batch_size=4096"] + TINY[10:], True, ["fresh"], None))
    for rule in ["never", "true", "false"]:
        c.append((["sample", "--checkpoint", "run", "--strategy", "beam", "--early-stopping", rule, "--max-new-tokens", "3"], True, [], None))
    for bad in [["--strategy", "beam", "--early-stopping", "maybe"], ["--strategy", "beam", "--early-stopping", "1"],
                ["--strategy", "beam", "--temperature", "0.5"], ["--strategy", "beam", "--top-p", "0.9"], ["--strategy", "beam", "--seed", "3"],
                ["--strategy", "greedy", "--top-k", "3"], ["--strategy", "greedy", "--min-p", "0.1"], ["--beam-width", "3"],
                ["--length-penalty", "2"], ["--early-stopping", "true"], ["--set", "sample.early_stopping=true"]]:
        c.append((["sample", "--checkpoint", "run", "--max-new-tokens", "2"] + bad, False, [], None))
    c.append((["export", "--checkpoint", "run", "--format", "hf", "--out", "hf2", "--set", "train.lr=1"], False, ["hf2"], None))
    c.append((["export", "--checkpoint", "run", "--format", "hf", "--out", "hf2", "--set", "sample.early_stopping=later"], False, ["hf2"], None))
    c.append((["export", "--checkpoint", "run", "--format", "hf", "--out", "hf2", "--config", "beam.json"], True, ["hf2"], None))
    # A reader that leaves early: an error with status 1 (a run saves latest/ first), never a silent SIGPIPE.
    for command in [["sample", "--checkpoint", "run", "--max-new-tokens", "200000"],
                    ["sample", "--checkpoint", "run", "--max-new-tokens", "1000", "--num-samples", "100"],
                    ["train", "--data", "text.txt", "--out", "fresh"] + TINY
                    + ["--set", "train.max_steps=100000", "--set", "train.eval_interval=100000", "--set", "train.log_interval=1"]]:
        c.append((command, False, ["fresh"], "| head -c 10"))
    # Standard output that cannot be written.
    for command in [["logits", "--checkpoint", "run", "--ids", "1 2 3"], ["eval", "--checkpoint", "run", "--data", "text.txt", "--json"],
                    ["info", "--checkpoint", "run"], ["help"], ["sample", "--checkpoint", "run", "--max-new-tokens", "3", "--no-stream"],
                    ["sample", "--checkpoint", "run", "--max-new-tokens", "3"],
                    ["tokenizer", "encode", "--tokenizer", "run/tokenizer.json", "--text", "a cat"],
                    ["tokenizer", "decode", "--tokenizer", "run/tokenizer.json", "--ids", "1 2"],
                    ["train", "--data", "text.txt", "--out", "fresh"] + TINY]:
        for redirect in ["> /dev/full", ">&-"]:
            c.append((command, False, ["fresh"], redirect))
    return c


def setup(root):
    os.chdir(root)
    with open("text.txt", "w") as f:
        f.write("a cat sat on the mat and the dog ran to the cat. " * 60)
    with open("other.txt", "w") as f:
        f.write("the dog sat. " * 100)
    open("empty.txt", "w").close()
    with open("bad.bin", "wb") as f:
        f.write(b"\xff\xfe\x00abc")
    os.makedirs("mine")
    with open("mine/notes.txt", "w") as f:
        f.write("my notes")
    assert run(["train", "--data", "text.txt", "--out", "run"] + TINY)[0] == 0
    assert run(["export", "--checkpoint", "run", "--format", "hf", "--out", "hf"])[0] == 0
    assert run(["import", "--format", "hf", "--from", "hf", "--out", "imported0"])[0] == 0
    # A checkpoint with a NaN weight, one whose tokenizer is larger than its model, a run with a negative step.
    shutil.copytree("run/best", "nan-ckpt")
    data = bytearray(open("nan-ckpt/model.safetensors", "rb").read())
    n = int.from_bytes(data[:8], "little")
    data[8 + n:12 + n] = b"\x00\x00\xc0\x7f"
    open("nan-ckpt/model.safetensors", "wb").write(data)
    shutil.copytree("run/best", "vocab-ckpt")
    tok = open("vocab-ckpt/tokenizer.json").read().replace('"vocab": {', '"vocab": {"z": 14,', 1)
    open("vocab-ckpt/tokenizer.json", "w").write(tok)
    shutil.copytree("run", "negstep-run")
    state = json.load(open("negstep-run/latest/trainer_state.json"))
    state["step"] = -3
    json.dump(state, open("negstep-run/latest/trainer_state.json", "w"))
    # Issue 32's damaged inputs.
    os.symlink("run", "link")
    os.makedirs("home/notes")
    open("home/notes/a.txt", "w").write("mine")
    shutil.copytree("hf", "hf-extra")  # one weight more than config.json's one layer uses
    add_tensor("hf-extra/model.safetensors", "transformer.h.1.ln_1.weight", [16])
    shutil.copytree("run/best", "huge-ckpt")  # finite weights whose products overflow
    set_first_float("huge-ckpt/model.safetensors", 3e38)
    shutil.copytree("run", "bigstep-run")
    set_step("bigstep-run/latest", 1000000000)
    shutil.copytree("run/best", "newver-ckpt")
    edit_metadata("newver-ckpt/model.safetensors", {"format_version": "99"})
    shutil.copytree("run", "nanadam-run")
    set_step("nanadam-run/latest", 3)
    set_first_float("nanadam-run/latest/optimizer.safetensors", float("nan"))
    shutil.copytree("run", "nolatest-run")  # a save of latest/ cut short by a full disk
    shutil.rmtree("nolatest-run/latest")
    set_step("nolatest-run/best", 3)
    dead = subprocess.Popen(["/bin/true"])  # a killed export's half-written directory, named after its (gone) process
    dead.wait()
    os.makedirs(f".hf9.tmp-{dead.pid}-1")
    open(f".hf9.tmp-{dead.pid}-1/model.safetensors", "w").write("half")
    with open("gate.json", "w") as f:
        json.dump({"model": {"activation": "gelu"}, "lora": {"targets": ["q", "gate"]}}, f)
    with open("beam.json", "w") as f:
        json.dump({"sample": {"strategy": "beam", "beam_width": 3, "early_stopping": True}}, f)
    assert run(["train", "--data", "text.txt", "--out", "rope-run"] + TINY + ["--set", "model.position=rope"])[0] == 0
    shutil.copytree("rope-run/best", "long-ckpt")  # a RoPE model with a 1M-token context, for fine-tuning on short examples
    config = json.load(open("long-ckpt/config.json"))
    config["model"]["context_length"] = 1048576
    json.dump(config, open("long-ckpt/config.json", "w"))
    with open("sft.jsonl", "w") as f:
        f.write('{"prompt": "a cat", "completion": " sat on the mat."}\n' * 12)


def safetensors_parts(path):
    data = open(path, "rb").read()
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_safetensors(path, header, body):
    text = json.dumps(header).encode()
    open(path, "wb").write(len(text).to_bytes(8, "little") + text + body)


def add_tensor(path, name, shape):
    header, body = safetensors_parts(path)
    count = 1
    for d in shape:
        count *= d
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(body), len(body) + 4 * count]}
    write_safetensors(path, header, body + struct.pack(f"<{count}f", *([1.0] * count)))


def edit_metadata(path, members):
    header, body = safetensors_parts(path)
    header.setdefault("__metadata__", {}).update(members)
    write_safetensors(path, header, body)


def set_first_float(path, value):
    data = bytearray(open(path, "rb").read())
    n = int.from_bytes(data[:8], "little")
    data[8 + n:12 + n] = struct.pack("<f", value)
    open(path, "wb").write(data)


def set_step(checkpoint, step):
    state = json.load(open(f"{checkpoint}/trainer_state.json"))
    state["step"] = step
    json.dump(state, open(f"{checkpoint}/trainer_state.json", "w"))


def restore(root, pristine):
    """Puts the scratch directory back as setup left it, so every case starts alike."""
    for entry in os.listdir(root):
        p = os.path.join(root, entry)
        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
    for entry in os.listdir(pristine):
        src, dst = os.path.join(pristine, entry), os.path.join(root, entry)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copytree(src, dst, symlinks=True) if os.path.isdir(src) else shutil.copy2(src, dst)


def main():
    root = tempfile.mkdtemp(prefix="tinygpt-battery-")
    setup(root)
    pristine = root + ".pristine"
    shutil.copytree(root, pristine, symlinks=True)
    clean_state = snapshot(root, [])
    counts = {"clean": 0, "crash": 0, "data loss": 0, "accepted": 0}
    failures = []
    all_cases = cases(root)
    for args, expect_ok, outputs, redirect, *env in all_cases:
        before = snapshot(root, outputs)
        status, _, err = run(args, redirect, env=env[0] if env else None)
        after = snapshot(root, outputs)
        lines = [l for l in err.splitlines() if l.strip()]
        if status < 0 or status >= 128 or any(leak in err for leak in LEAKS[4:]):
            verdict = "crash"
        elif before != after:
            verdict = "data loss"
        elif expect_ok:
            verdict = "clean" if status == 0 else "accepted"  # a valid input refused counts against us too
        elif status == 0:
            verdict = "accepted"
        elif status in (1, 2) and lines and lines[-1].startswith("tinygpt: error:") and not any(l in err for l in LEAKS) \
                and (len(lines) == 1 or redirect or "run directory:" in err):  # training that started, then stopped with a reason
            verdict = "clean"
        else:
            verdict = "crash"  # an unclear failure: several lines, internals, or an odd status
        counts[verdict] += 1
        if verdict != "clean":
            failures.append((verdict, args, redirect, status, err.strip()[:300]))
        os.chmod(root, 0o700)
        if snapshot(root, []) != clean_state or any(os.path.exists(os.path.join(root, o)) for o in outputs):
            restore(root, pristine)
    tiny = " ".join(TINY)
    for verdict, args, redirect, status, err in failures:
        shown = " ".join(repr(a) if a == "" or " " in a else a for a in args).replace(tiny, "TINY")
        print(f"{verdict}: tinygpt {shown} {redirect or ''} -> {status}: {err.splitlines()[-1] if err else ''}")
    print(f"{len(all_cases)} bad inputs: {counts['clean']} clean, {counts['crash']} crash, "
          f"{counts['data loss']} data loss, {counts['accepted']} accepted")
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(pristine, ignore_errors=True)
    sys.exit(0 if len(failures) == 0 else 1)


if __name__ == "__main__":
    main()
