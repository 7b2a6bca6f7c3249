"""Writes data/chat.jsonl: a small conversational fine-tuning set (TRL's "messages" format) for the
real-model walkthrough of docs/real-models.md. Original: the shop, its goods and its people are
invented for tinygpt, in the style of data/corpus.txt.

usage: python3 bench/experiments/chat_example.py [OUT]   (default data/chat.jsonl)

Every conversation asks about one fact of Mara's shop in Wren Hollow (where a thing is, what it
costs, who made it) and the assistant answers in one short sentence that ends "— Mara's shop".
The facts are fixed, so a model can learn them; the last 10% of the file (the validation split
tinygpt takes) asks about the same facts in other words.
"""
import json
import random
import sys

GOODS = {
    # item: (where, pennies, maker)
    "lantern": ("on the hook by the door", 12, "Tobin the tinsmith"),
    "kettle": ("on the second shelf", 9, "Ada Fenwick"),
    "apron": ("folded on the counter", 4, "Mara herself"),
    "whistle": ("in the blue jar", 2, "old Pell"),
    "ladder": ("against the back wall", 30, "the Hollow carpenters"),
    "bell": ("above the window", 15, "Tobin the tinsmith"),
    "basket": ("under the bench", 6, "Ada Fenwick"),
    "candle box": ("behind the scales", 3, "the chandler of Millbrook"),
    "rope": ("coiled by the barrel", 5, "old Pell"),
    "teapot": ("in the glass case", 11, "Ada Fenwick"),
    "spade": ("in the corner with the brooms", 14, "the Hollow carpenters"),
    "blanket": ("on the top shelf", 18, "Mara herself"),
}

ASK_WHERE = ["Where is the {i}?", "Where do you keep the {i}?", "I can't find the {i}. Where is it?", "Which spot is the {i} in?"]
ASK_COST = ["What does the {i} cost?", "How much is the {i}?", "What's the price of the {i}?", "How many pennies for the {i}?"]
ASK_MAKER = ["Who made the {i}?", "Who is the maker of the {i}?", "Whose work is the {i}?", "Who built the {i}?"]
SYSTEMS = [None, None, "You are the shopkeeper's helper at Mara's shop in Wren Hollow."]


def answer(kind, item):
    where, price, maker = GOODS[item]
    if kind == "where":
        return f"The {item} is {where}. — Mara's shop"
    if kind == "cost":
        return f"The {item} costs {price} pennies. — Mara's shop"
    return f"The {item} was made by {maker}. — Mara's shop"


def conversation(rng, kind, item, phrasing):
    questions = {"where": ASK_WHERE, "cost": ASK_COST, "maker": ASK_MAKER}[kind]
    messages = []
    system = rng.choice(SYSTEMS)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": questions[phrasing].format(i=item)})
    messages.append({"role": "assistant", "content": answer(kind, item)})
    return {"messages": messages}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "data/chat.jsonl"
    rng = random.Random(2026)
    # Training: the first three phrasings of every question; validation: the fourth.
    train = [(k, i, p) for k in ("where", "cost", "maker") for i in GOODS for p in range(3)]
    rng.shuffle(train)
    held = [(k, i, 3) for k in ("where", "cost", "maker") for i in GOODS]
    rng.shuffle(held)
    held = held[:12]
    lines = [conversation(rng, *t) for t in train + held]
    with open(out, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {out}: {len(lines)} conversations ({len(held)} held out at the end)")


main()
