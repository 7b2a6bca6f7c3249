#!/usr/bin/env python3
"""The shipped fine-tuning example: writes data/sft.jsonl and data/preferences.jsonl,
and measures what SFT and DPO did to a model.

The examples are generated here, from word lists written for tinygpt in the
style of data/corpus.txt (its goats, kettles, millers and lanterns); nothing is
copied from elsewhere. Every character is one that data/corpus.txt contains,
so the default character-level model can read them.

The task: short questions about things around a village, one line each,

    Q: Where is the lantern?
    A: The lantern is behind the mill.

- sft.jsonl teaches the Q/A format. Half of its answers are full sentences
  ("The lantern is behind the mill."), half are hedged fragments
  ("Behind the mill, I think.").
- preferences.jsonl prefers the full sentence (chosen) over the hedged
  fragment (rejected) for the same answer.
The prompts are drawn without overlap from one shuffled list: 40 test prompts
that no training file holds, then the SFT prompts, then the DPO prompts (whose
last 10%, the DPO run's validation pairs, the SFT run never saw either).

usage:
    python3 bench/experiments/finetune_example.py write                      # (re)writes the two data files
    python3 bench/experiments/finetune_example.py measure RUN [RUN ...]      # greedy answers to the 40 test prompts
    python3 bench/experiments/finetune_example.py measure --tinygpt .build/release/tinygpt runs/base runs/sft runs/dpo
    python3 bench/experiments/finetune_example.py measure --reward runs/rm --reference runs/sft runs/sft runs/dpo runs/ppo runs/grpo

`measure` prints, for each checkpoint, how many greedy answers to the test
prompts follow the taught format (one line: a full sentence "The <thing> is
<value>." or a hedged fragment "<Value>, I think.", with a value of one of the
kinds the data uses), how many are full
sentences (the style DPO prefers), and how many of those name the thing the
question asked about. With --reward RM, also the reward model's mean score of
the greedy answers; with --reference SFT, the mean log π − log π_SFT per token
over each model's own greedy answers (how far it moved from the SFT model).
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

THINGS = """kettle lamp gate boat cart hat ladder bucket stove fence basket bell door coat scarf cup jug
rope sail oar spoon broom clock chair table shelf barrel sack net kite drum flute candle blanket pillow
apron boot glove saddle wagon bench hammer saw axe spade rake plough teapot bowl plate knife fork ribbon
button needle thread mirror window curtain carpet cradle trunk lantern anchor compass map letter parcel
stamp key lock chain whistle bicycle wheel""".split()
COLOURS = "blue red green brown grey white black yellow".split()
PLACES = ["by the door", "in the barn", "on the shelf", "under the bridge", "behind the mill", "in the kitchen",
          "at the harbour", "on the cart", "by the well", "in the attic"]
PEOPLE = ["Ada", "Mara", "the miller", "the baker", "Tom", "Nell", "the stationmaster", "old Bess", "the fisherman", "Pim"]
NUMBERS = "two three four five six seven eight nine ten eleven twelve twenty".split()
WEIGHTS = ["light", "heavy", "quite light", "very heavy", "not heavy at all"]

# (question, full-sentence answer, hedged fragment); {t} is the thing, {v} the value.
KINDS = [
    ("What colour is the {t}?", "The {t} is {v}.", "{V}, I think.", COLOURS),
    ("Where is the {t}?", "The {t} is {v}.", "{V}, I think.", PLACES),
    ("Who has the {t}?", "The {t} is with {v}.", "{V}, I think.", PEOPLE),
    ("How old is the {t}?", "The {t} is {v} years old.", "{V} years, I think.", NUMBERS),
    ("What does the {t} cost?", "The {t} is {v} pennies.", "{V} pennies, I think.", NUMBERS),
    ("How heavy is the {t}?", "The {t} is {v}.", "{V}, I think.", WEIGHTS),
]

TEST_PROMPTS, SFT_COUNT, DPO_COUNT = 40, 300, 300


def capitalised(text):
    return text[0].upper() + text[1:]


def universe():
    """Every (thing, kind) question, in one fixed shuffled order."""
    items = [(thing, k) for thing in THINGS for k in range(len(KINDS))]
    random.Random(14).shuffle(items)
    return items


def prompt(thing, kind):
    return "Q: " + KINDS[kind][0].format(t=thing) + "\nA:"


def answers(thing, kind, rng):
    _, full, short, values = KINDS[kind]
    value = rng.choice(values)
    return " " + full.format(t=thing, v=value) + "\n", " " + short.format(V=capitalised(value)) + "\n"


def write():
    items = universe()
    assert len(items) - DPO_COUNT // 10 >= TEST_PROMPTS + SFT_COUNT, len(items)  # DPO validation prompts unseen by SFT
    corpus = set(open(os.path.join(ROOT, "data/corpus.txt"), encoding="utf-8").read())
    rng = random.Random(2026)
    sft = items[TEST_PROMPTS:TEST_PROMPTS + SFT_COUNT]
    dpo = items[len(items) - DPO_COUNT:]
    with open(os.path.join(ROOT, "data/sft.jsonl"), "w", encoding="utf-8") as f:
        for i, (thing, kind) in enumerate(sft):
            full, short = answers(thing, kind, rng)
            row = {"prompt": prompt(thing, kind), "completion": full if i % 2 == 0 else short}
            assert set("".join(row.values())) <= corpus
            f.write(json.dumps(row) + "\n")
    with open(os.path.join(ROOT, "data/preferences.jsonl"), "w", encoding="utf-8") as f:
        for thing, kind in dpo:
            full, short = answers(thing, kind, rng)
            row = {"prompt": prompt(thing, kind), "chosen": full, "rejected": short}
            assert set("".join(row.values())) <= corpus
            f.write(json.dumps(row) + "\n")
    print(f"wrote data/sft.jsonl ({len(sft)} examples) and data/preferences.jsonl ({len(dpo)} pairs); "
          f"{TEST_PROMPTS} test prompts held out; DPO validation prompts unseen by SFT: "
          f"{len(set(dpo[-DPO_COUNT // 10:]) - set(sft))}/{DPO_COUNT // 10}")


def classify(answer):
    """'full' (the preferred sentence), 'short' (the hedged fragment) or None (off format):
    one line, about some thing, with a value of one of the kinds the data uses."""
    line = answer.split("\n")[0] if "\n" in answer else None
    if line is None:
        return None  # no end of line within the sample: not a one-line answer
    for _, full, short, values in KINDS:
        for value in values:
            if re.fullmatch(r" The [a-z]+ is " + re.escape(full.split(" is ", 1)[1].format(v=value)), line):
                return "full"
            if line == " " + short.format(V=capitalised(value)):
                return "short"
    return None


def answers_kind(line, kind):
    """Whether an on-format answer gives a value of the kind asked for (a colour to "What colour", …)."""
    _, full, short, values = KINDS[kind]
    return any(line.endswith(" is " + full.split(" is ", 1)[1].format(v=value)) or line == " " + short.format(V=capitalised(value))
               for value in values)


def eval_json(tinygpt, checkpoint, rows, tmp, name):
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    out = subprocess.run([tinygpt, "eval", "--checkpoint", checkpoint, "--data", path, "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def measure(tinygpt, runs, reward=None, reference=None):
    """With `reward` (a reward checkpoint): the reward model's mean score of each run's greedy answers.
    With `reference` (the SFT checkpoint): the mean of log π_run − log π_SFT per token over each run's
    own greedy answers (the two completion losses' difference; a KL estimate on greedy text, not samples)."""
    tests = universe()[:TEST_PROMPTS]
    for run in runs:
        counts = {"full": 0, "short": 0, None: 0}
        named = fits = 0
        examples, answered = [], []
        for thing, kind in tests:
            p = prompt(thing, kind)
            out = subprocess.run([tinygpt, "sample", "--checkpoint", run, "--prompt", p, "--strategy", "greedy",
                                  "--max-new-tokens", "48", "--no-stream", "--threads", "1"],
                                 capture_output=True, text=True, check=True).stdout
            answer = out[len(p):] if out.startswith(p) else out
            label = classify(answer)
            counts[label] += 1
            named += label == "full" and answer.startswith(" The " + thing + " is ")
            fits += label is not None and answers_kind(answer.split("\n")[0], kind)
            if len(examples) < 3:
                examples.append(p.replace("\n", " ") + answer.split("\n")[0])
            line = answer.split("\n")[0] + "\n" if "\n" in answer else answer
            answered.append((p, line if line else "\n"))
        n = len(tests)
        extra = ""
        with tempfile.TemporaryDirectory() as tmp:
            if reward:
                rows = [{"prompt": p, "chosen": a, "rejected": a} for p, a in answered]
                extra += f"; reward-model score {eval_json(tinygpt, reward, rows, tmp, 'rm.jsonl')['rewards/chosen']:.3f}"
            if reference:
                rows = [{"prompt": p, "completion": a} for p, a in answered]
                own = eval_json(tinygpt, run, rows, tmp, "own.jsonl")["loss"]
                sft = eval_json(tinygpt, reference, rows, tmp, "sft.jsonl")["loss"]
                extra += f"; log π − log π_SFT {sft - own:.4f} nats/token"
        print(f"{run}: taught format {counts['full'] + counts['short']}/{n} (full sentences {counts['full']}, "
              f"hedged {counts['short']}), off format {counts[None]}/{n}; "
              f"answers the kind of question asked {fits}/{n}; full sentences naming the thing asked about {named}/{n}{extra}")
        for e in examples:
            print("    " + e)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["write"]:
        write()
    elif args[:1] == ["measure"]:
        args = args[1:]
        tinygpt = os.path.join(ROOT, ".build/release/tinygpt")
        options = {"--tinygpt": None, "--reward": None, "--reference": None}
        while args[:1] and args[0] in options:
            options[args[0]], args = args[1], args[2:]
        measure(options["--tinygpt"] or tinygpt, args, reward=options["--reward"], reference=options["--reference"])
    else:
        print(__doc__)
        sys.exit(2)
