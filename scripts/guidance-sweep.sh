#!/usr/bin/env bash
# make guidance-sweep: classifier-free guidance's trade-off for a conditional checkpoint. For each
# guidance weight w it draws the same N samples (the same seed; N / 10 of each digit, in order)
# and scores them with evaluate against the digits that were asked for, then prints one table:
# accuracy on the asked digits, mean confidence, class entropy and Frechet distance against w,
# each with its 95% bootstrap interval, and OUT_DIR/guidance.png, the same as plots (plot_scores).
#   scripts/guidance-sweep.sh CKPT OUT_DIR BUILD_DIR [N] [STEPS] ["W1 W2 ..."]
# Defaults: N = 260 (26 per digit), DDIM with 50 steps, w in 0 0.5 1 2 4.
set -euo pipefail
ckpt=$1
out=$2
build=$3
n=${4:-260}
steps=${5:-50}
weights=${6:-"0 0.5 1 2 4"}
mkdir -p "$out"
for w in $weights; do
    "$build/examples/sample_mnist" --ckpt "$ckpt" --label all --guidance "$w" --n "$n" --sampler ddim \
        --steps "$steps" --seed 0 --out "$out/w$w" > "$out/w$w.log"
    "$build/examples/evaluate" --samples "$out/w$w-idx3-ubyte" --labels "$out/w$w-labels-idx1-ubyte" \
        --json "$out/w$w.json" > "$out/w$w-scores.txt"
done
points=""
for w in $weights; do points="$points${points:+,}$w=$out/w$w.json"; done
"$build/examples/plot_scores" --points "$points" --x-label "guidance w" --out "$out/guidance.png"
/usr/bin/python3 - "$out" $weights <<'PY'
import json, sys
out, weights = sys.argv[1], sys.argv[2:]
def cell(s, fmt="{:.3f}"):
    return (fmt + " [" + fmt + ", " + fmt + "]").format(s["value"], s["lo"], s["hi"])
print("| w | accuracy on the asked digit | mean confidence | share > 0.9 | class entropy | Frechet distance |")
print("|---|---|---|---|---|---|")
for w in weights:
    j = json.load(open(f"{out}/w{w}.json"))
    share = {k: (100 * v if isinstance(v, float) else v) for k, v in j['confident_share'].items()}
    print(f"| {w} | {cell(j['accuracy'])} | {cell(j['mean_confidence'])} | {cell(share, '{:.1f}')} | "
          f"{cell(j['class_entropy'])} | {cell(j['frechet']['samples'], '{:.1f}')} |")
PY
