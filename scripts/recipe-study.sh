#!/usr/bin/env bash
# make recipe-study: which training recipe gives the best digits in a fixed wall-clock budget.
# Every setting trains for the same --minutes (train_mnist plans its steps from its own speed), is
# sampled the same way (N images, DDIM with STEPS steps, seed 0) and scored by evaluate against the
# held-out digits, each score with its 95% bootstrap interval; one markdown table at the end.
# The sampler settings (sigma, clipping) reuse the base run's checkpoint; DDPM samples of two
# settings check that DDIM ranks them as DDPM would.
#   scripts/recipe-study.sh OUT_DIR BUILD_DIR [MINUTES=25] [N=1000] [STEPS=100] ["NAME ..." (default all)]
# Runs one thing at a time (timings of two runs at once would be meaningless); a setting whose
# scores exist is not run again, so an interrupted study continues where it stopped.
set -euo pipefail
out=$1
build=$2
minutes=${3:-25}
n=${4:-1000}
steps=${5:-100}
only=${6:-}
mkdir -p "$out"

# name|train_mnist flags beyond the defaults (the base recipe is `make train`'s, with --minutes)
settings=(
    "base|"
    "lr-5e-4|--lr 5e-4"
    "lr-2e-3|--lr 2e-3"
    "batch-64|--batch 64"
    "ema-0.9995|--ema 0.9995"
    "no-ema-warmup|--no-ema-warmup"
    "cosine-noise|--schedule cosine"
    "wide-48-96|--base 48 --mid 96"
)
# name|base run's samples drawn with these sample_mnist flags instead (sigma is DDPM's: DDIM at
# eta = 0 adds no noise; "ddpm" beside "base" is the check that DDIM ranks like DDPM)
samplers=(
    "no-clip|--sampler ddim --steps $steps --no-clip"
    "ddpm|--sampler ddpm"
    "ddpm-sigma-beta-tilde|--sampler ddpm --sigma beta_tilde"
)

wanted() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }

score() {  # name: evaluate the samples $out/$1-idx3-ubyte into $out/$1.json
    [ -f "$out/$1.json" ] || "$build/examples/evaluate" --samples "$out/$1-idx3-ubyte" --json "$out/$1.json" \
        > "$out/$1-scores.txt"
}

for s in "${settings[@]}"; do
    name=${s%%|*}
    flags=${s#*|}
    wanted "$name" || continue
    if [ ! -f "$out/$name.json" ]; then
        echo "[study] $name: train_mnist --minutes $minutes $flags"
        # shellcheck disable=SC2086
        "$build/examples/train_mnist" --out "$out/$name" --resume --minutes "$minutes" --sample-every 0 \
            --samples 1 --sampler ddim --sample-steps 1 $flags > "$out/$name.log"
        "$build/examples/sample_mnist" --ckpt "$out/$name/checkpoint.safetensors" --n "$n" --sampler ddim \
            --steps "$steps" --seed 0 --out "$out/$name" > /dev/null
        score "$name"
    fi
done
for s in "${samplers[@]}"; do
    name=${s%%|*}
    flags=${s#*|}
    wanted "$name" && [ -f "$out/base/checkpoint.safetensors" ] || continue
    if [ ! -f "$out/$name.json" ]; then
        echo "[study] $name: the base checkpoint sampled with $flags"
        # shellcheck disable=SC2086
        "$build/examples/sample_mnist" --ckpt "$out/base/checkpoint.safetensors" --n "$n" --seed 0 \
            --out "$out/$name" $flags > /dev/null
        score "$name"
    fi
done

/usr/bin/python3 - "$out" <<'PY'
import glob, json, os, re, sys
out = sys.argv[1]
def cell(s, scale=1.0, fmt="{:.3f}"):
    if s.get("lo") is None:
        return fmt.format(scale * s["value"])
    return (fmt + " [" + fmt + ", " + fmt + "]").format(scale * s["value"], scale * s["lo"], scale * s["hi"])
def steps(name):
    log = os.path.join(out, name + ".log")
    if not os.path.exists(log):
        return ""
    m = re.findall(r"\[train\] the budget: \S+ of \S+ used by (\d+) steps", open(log).read())
    return m[-1] if m else ""
print("| setting | steps | mean confidence | share > 0.9 (%) | class entropy | Frechet distance |")
print("|---|---|---|---|---|---|")
real = None
for path in sorted(glob.glob(os.path.join(out, "*.json")), key=os.path.getmtime):
    name = os.path.basename(path)[:-5]
    j = json.load(open(path))
    real = j["frechet"]["real"]
    print(f"| {name} | {steps(name)} | {cell(j['mean_confidence'])} | {cell(j['confident_share'], 100, '{:.1f}')} | "
          f"{cell(j['class_entropy'])} | {cell(j['frechet']['samples'], 1, '{:.1f}')} |")
if real:
    print(f"| real training digits (same count) | | | | | {cell(real, 1, '{:.1f}')} |")
PY
