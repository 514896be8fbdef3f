#!/usr/bin/env bash
# make recipe-study: which training recipe gives the best digits in a fixed wall-clock budget.
# Every setting trains for the same --minutes (train_mnist plans its steps from its own speed), is
# sampled the same way (N images, DDIM with STEPS steps, seed 0) and scored by evaluate against the
# held-out digits, each score with its 95% bootstrap interval; one markdown table at the end.
# The sampler settings (sigma, clipping) reuse the base run's checkpoint; DDPM samples of two
# settings check that DDIM ranks them as DDPM would.
#   scripts/recipe-study.sh OUT_DIR BUILD_DIR [MINUTES=25] [N=1000] [STEPS=100] ["NAME ..." (default all)]
# A setting whose step costs what the base's does (learning rate, EMA, noise schedule: the same
# arithmetic per step) gets in the budget the step count the base got in it, so once the base has
# run, such a setting trains `--steps <base's count> --lr-schedule wsd` (what the base's log says
# retrains it bit for bit): its result then does not depend on the machine's load, and two of them
# may run at once (STUDY_THREADS=1 each: on 2 cores two 1-thread runs made 2 x ~170 images/s
# where one 2-thread run makes ~261, and results do not depend on the thread count). Settings that
# change the step's cost (batch, width) train for --minutes and need the machine to themselves.
# A setting whose scores exist is not run again, so an interrupted study continues where it stopped.
set -euo pipefail
out=$1
build=$2
minutes=${3:-25}
n=${4:-1000}
steps=${5:-100}
only=${6:-}
threads=${STUDY_THREADS:-0}
mkdir -p "$out"

# name|budget|train_mnist flags beyond the defaults (the base recipe is `make train`'s, with
# --minutes). budget: "minutes" (a timed run) or "base-steps" (the base's step count, see above)
settings=(
    "base|minutes|"
    "lr-5e-4|base-steps|--lr 5e-4"
    "lr-2e-3|minutes|--lr 2e-3"
    "batch-64|minutes|--batch 64"
    "ema-0.9995|base-steps|--ema 0.9995"
    "no-ema-warmup|base-steps|--no-ema-warmup"
    "cosine-noise|base-steps|--schedule cosine"
    "wide-48-96|minutes|--base 48 --mid 96"
)
# name|the setting whose checkpoint is sampled|sample_mnist flags instead of DDIM's (sigma is
# DDPM's: DDIM at eta = 0 adds no noise). "ddpm" and "SETTING-ddpm" beside the DDIM scores of
# "base" and SETTING check that DDIM ranks settings as DDPM would.
samplers=(
    "no-clip|base|--sampler ddim --steps $steps --no-clip"
    "ddpm|base|--sampler ddpm"
    "ddpm-sigma-beta-tilde|base|--sampler ddpm --sigma beta_tilde"
    "cosine-noise-ddpm|cosine-noise|--sampler ddpm"
)

wanted() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }

score() {  # name: evaluate the samples $out/$1-idx3-ubyte into $out/$1.json
    [ -f "$out/$1.json" ] || "$build/examples/evaluate" --samples "$out/$1-idx3-ubyte" --json "$out/$1.json" \
        > "$out/$1-scores.txt"
}

budget_steps() {  # name: the step count its --minutes run ended with (from its log), or nothing
    if [ -f "$out/$1.log" ]; then
        sed -n 's/^\[train\] the budget: .* used by \([0-9]*\) steps.*/\1/p' "$out/$1.log" | tail -n 1
    fi
}

for s in "${settings[@]}"; do
    IFS='|' read -r name budget flags <<< "$s"
    wanted "$name" || continue
    if [ ! -f "$out/$name.json" ]; then
        length="--minutes $minutes" train_threads=0  # a timed run has all the cores, as the base had
        if [ "$budget" = base-steps ]; then
            base_steps=$(budget_steps base)
            [ -n "$base_steps" ] || { echo "[study] $name needs the base's step count: run base first" >&2; exit 1; }
            length="--steps $base_steps --lr-schedule wsd" train_threads=$threads
        fi
        echo "[study] $name: train_mnist $length $flags"
        # shellcheck disable=SC2086
        "$build/examples/train_mnist" --out "$out/$name" --resume $length --threads "$train_threads" --sample-every 0 \
            --samples 1 --sampler ddim --sample-steps 1 $flags > "$out/$name.log"
        "$build/examples/sample_mnist" --ckpt "$out/$name/checkpoint.safetensors" --n "$n" --sampler ddim \
            --steps "$steps" --seed 0 --threads "$threads" --out "$out/$name" > /dev/null
        score "$name"
    fi
done
for s in "${samplers[@]}"; do
    IFS='|' read -r name from flags <<< "$s"
    wanted "$name" || continue
    if [ ! -f "$out/$name.json" ]; then
        [ -f "$out/$from.json" ] || { echo "[study] $name samples $from's checkpoint: run $from first" >&2; exit 1; }
        echo "[study] $name: $from's checkpoint sampled with $flags"
        # shellcheck disable=SC2086
        "$build/examples/sample_mnist" --ckpt "$out/$from/checkpoint.safetensors" --n "$n" --seed 0 \
            --threads "$threads" --out "$out/$name" $flags > /dev/null
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
    m = re.findall(r"\[train\] done: (\d+) steps", open(log).read())
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
