"""Loss curves of bench/experiments/depth_experiment.sh: training loss (every log step) of
each run, one colour per norm placement, one dash style per learning rate.

    python3 bench/experiments/depth_plot.py OUT.svg runs/depth/pre-lr0.003 runs/depth/post-lr0.003 ...

Reads each run's metrics.jsonl; prints a Markdown table of the final
validation loss; standard library only.
"""
import json, os, sys

out, runs = sys.argv[1], sys.argv[2:]
series = []
for run in runs:
    records = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl")) if l.strip()]
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    series.append((os.path.basename(run.rstrip("/")), train, val))

print("| run | val loss at step 0 | best val loss | final val loss |")
print("|---|---:|---:|---:|")
for name, _, val in series:
    print(f"| {name} | {val[0][1]:.3f} | {min(v for _, v in val):.3f} | {val[-1][1]:.3f} |")

width, height, left, right, top, bottom = 760, 460, 70, 200, 40, 60
steps = max(s for _, t, _ in series for s, _ in t)
losses = [l for _, t, _ in series for _, l in t]
y_min, y_max = max(0, min(losses) - 0.1), min(max(losses), 5) + 0.1
x = lambda s: left + s / steps * (width - left - right)
y = lambda l: height - bottom - (min(l, y_max) - y_min) / (y_max - y_min) * (height - top - bottom)
colors = {"pre": "#1f77b4", "post": "#d62728", "deepnorm": "#2ca02c"}
dashes = {}
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
       '<rect width="100%" height="100%" fill="white"/>',
       f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">24 layers: pre-norm, post-norm, DeepNorm (training loss)</text>']
for i in range(6):
    s, l = steps * i / 5, y_min + (y_max - y_min) * i / 5
    svg.append(f'<line x1="{x(s):.1f}" y1="{height - bottom}" x2="{x(s):.1f}" y2="{top}" stroke="#eee"/>'
               f'<text x="{x(s):.1f}" y="{height - bottom + 18}" text-anchor="middle">{round(s)}</text>')
    svg.append(f'<line x1="{left}" y1="{y(l):.1f}" x2="{width - right}" y2="{y(l):.1f}" stroke="#eee"/>'
               f'<text x="{left - 8}" y="{y(l) + 4:.1f}" text-anchor="end">{l:.2f}</text>')
svg.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>'
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>')
svg.append(f'<text x="{(left + width - right) / 2}" y="{height - 18}" text-anchor="middle">step</text>')
svg.append(f'<text x="18" y="{(top + height - bottom) / 2}" text-anchor="middle" '
           f'transform="rotate(-90 18 {(top + height - bottom) / 2})">training loss (nats per token)</text>')
for k, (name, train, _) in enumerate(series):
    norm, lr = name.split("-lr")
    dash = dashes.setdefault(lr, ["", "6 3", "2 2", "8 2 2 2"][len(dashes) % 4])
    pts = " ".join(f"{x(s):.1f},{y(l):.1f}" for s, l in train)
    svg.append(f'<polyline fill="none" stroke="{colors.get(norm, "#777")}" stroke-width="2" stroke-dasharray="{dash}" points="{pts}"/>')
    ly = top + 10 + k * 18
    svg.append(f'<line x1="{width - right + 10}" y1="{ly}" x2="{width - right + 40}" y2="{ly}" stroke="{colors.get(norm, "#777")}" '
               f'stroke-width="2" stroke-dasharray="{dash}"/><text x="{width - right + 46}" y="{ly + 4}">{norm}, lr {lr}</text>')
svg.append("</svg>")
open(out, "w").write("\n".join(svg) + "\n")
