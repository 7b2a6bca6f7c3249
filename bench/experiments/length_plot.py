"""Table and plot of the length-extrapolation experiment (bench/experiments/length_experiment.sh).

    python3 bench/experiments/length_plot.py runs/length/results.jsonl runs/length/extrapolation.svg

Prints a Markdown table (validation loss by evaluation context, one row per
model) and writes one SVG: mean loss by position at the longest context, one
line per model, the trained context marked. Standard library only.
"""
import json, sys

results = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
out = sys.argv[2]
models, contexts = [], []
for r in results:
    if r["model"] not in models: models.append(r["model"])
    if r["context"] not in contexts: contexts.append(r["context"])
table = {(r["model"], r["context"]): r["result"] for r in results}

print("| model | " + " | ".join(f"context {c}" for c in contexts) + " |")
print("|---|" + "---:|" * len(contexts))
for m in models:
    cells = []
    for c in contexts:
        r = table.get((m, c))
        cells.append("—" if r is None else "refused" if r.get("refused") else f"{r['loss']:.3f}")
    print(f"| {m} | " + " | ".join(cells) + " |")

longest = max(contexts)
series = [(m, table[(m, longest)]["by_position"]) for m in models
          if (m, longest) in table and not table[(m, longest)].get("refused")]
width, height, left, right, top, bottom = 760, 460, 70, 200, 40, 60
points = [(b["start"] + b["end"] - 1) / 2 for _, bs in series for b in bs]
losses = [b["loss"] for _, bs in series for b in bs]
y_min, y_max = max(0, min(losses) - 0.1), min(max(losses), 8) + 0.1
x_max = longest
x = lambda p: left + p / x_max * (width - left - right)
y = lambda l: height - bottom - (min(l, y_max) - y_min) / (y_max - y_min) * (height - top - bottom)
colors = ["#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
       '<rect width="100%" height="100%" fill="white"/>',
       f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">Trained at 64 tokens, scored at {longest}: loss by position</text>']
for i in range(6):
    p, l = x_max * i / 5, y_min + (y_max - y_min) * i / 5
    svg.append(f'<line x1="{x(p):.1f}" y1="{height - bottom}" x2="{x(p):.1f}" y2="{top}" stroke="#eee"/>'
               f'<text x="{x(p):.1f}" y="{height - bottom + 18}" text-anchor="middle">{round(p)}</text>')
    svg.append(f'<line x1="{left}" y1="{y(l):.1f}" x2="{width - right}" y2="{y(l):.1f}" stroke="#eee"/>'
               f'<text x="{left - 8}" y="{y(l) + 4:.1f}" text-anchor="end">{l:.2f}</text>')
svg.append(f'<line x1="{x(64):.1f}" y1="{height - bottom}" x2="{x(64):.1f}" y2="{top}" stroke="#444" stroke-dasharray="4 4"/>'
           f'<text x="{x(64) + 4:.1f}" y="{top + 12}">trained context 64</text>')
svg.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>'
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>')
svg.append(f'<text x="{(left + width - right) / 2}" y="{height - 18}" text-anchor="middle">position in the window</text>')
svg.append(f'<text x="18" y="{(top + height - bottom) / 2}" text-anchor="middle" '
           f'transform="rotate(-90 18 {(top + height - bottom) / 2})">mean loss (nats per token), clipped at {y_max:.1f}</text>')
for k, (name, buckets) in enumerate(series):
    color = colors[k % len(colors)]
    pts = " ".join(f"{x((b['start'] + b['end'] - 1) / 2):.1f},{y(b['loss']):.1f}" for b in buckets)
    svg.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
    ly = top + 10 + k * 18
    svg.append(f'<line x1="{width - right + 10}" y1="{ly}" x2="{width - right + 30}" y2="{ly}" stroke="{color}" stroke-width="2"/>'
               f'<text x="{width - right + 36}" y="{ly + 4}">{name}</text>')
svg.append("</svg>")
open(out, "w").write("\n".join(svg) + "\n")
print(f"\nwrote {out}", file=sys.stderr)
