#!/usr/bin/env bash
# make torch-check: our checkpoints in PyTorch and back, end to end (examples/pytorch/README.md).
#   examples/pytorch/check.sh BUILD DATA_DIR WORK_DIR [PYTHON]
# BUILD holds examples/{train_mnist,sample_mnist,predict_eps}; DATA_DIR the MNIST IDX files;
# WORK_DIR is emptied and receives everything. PYTHON must import torch (Debian: /usr/bin/python3).
#
#  1. train_mnist trains UNet-S for 50 steps                         -> WORK/ours/checkpoint.safetensors
#  2. fixed inputs: 14 test digits noised by Eq. 6 at t = 1 .. 1000 (check_eps.py inputs)
#  3. eps_theta(x_t, t) of its EMA and model weights, ours (predict_eps) and PyTorch's
#     (ddpm_torch.py eps); max |ours - torch| / RMS(torch) must be <= TOL for both
#  4. torchrun, 2 processes on the CPU (gloo), continues it for 3 steps, reading the data as .gz,
#     and saves OUR format                                            -> WORK/torch/checkpoint.safetensors
#  5. the same comparison on the checkpoint PyTorch wrote (its tensors reach us unchanged)
#  6. sample_mnist samples from it; train_mnist --resume takes it back (settings, data CRC, model,
#     EMA, Adam) and trains the 3 steps left to --total-steps
#  7. ddpm_torch.py samples (DDPM, 1000 steps) from the checkpoint train_mnist wrote
# Any failure stops the script with a non-zero status.
set -euo pipefail
build=$1
data=$2
work=$3
py=${4:-/usr/bin/python3}
# float32 on both sides, different summation orders (our Winograd F(4x4, 3x3) and implicit-GEMM
# convs against PyTorch's) through ~20 layers: measured 5e-6 of the output's RMS on trained
# weights, 1.8e-5 on random ones. 5e-5 leaves 2.7x over the worst and still fails a subtle slip:
# GroupNorm's eps 1e-6 instead of 1e-5 gives 1.6e-4, t + 1 for t 7e-2, the model's weights for the EMA's 0.13.
tol=${TORCH_CHECK_TOL:-5e-5}
here=$(dirname "$0")
export OPENBLAS_NUM_THREADS=1
say() { echo "[torch-check] $*"; }
t0=$(date +%s)

rm -rf "$work"
mkdir -p "$work"

say "1. train_mnist: UNet-S, 50 steps of batch 16"
"$build/examples/train_mnist" --data "$data" --out "$work/ours" --steps 50 --batch 16 --warmup 10 --threads 2 \
    --sample-every 0 --samples 4 --sampler ddim --sample-steps 5 > "$work/train_mnist.log"
tail -n 2 "$work/train_mnist.log"

compare() {  # compare CKPT NAME: both sides' eps on the fixed inputs
    "$build/examples/predict_eps" --ckpt "$1" --inputs "$work/inputs.safetensors" --out "$work/eps_ours_$2.safetensors" --threads 2
    "$py" "$here/ddpm_torch.py" eps --ckpt "$1" --inputs "$work/inputs.safetensors" --out "$work/eps_torch_$2.safetensors"
    "$py" "$here/check_eps.py" compare --ours "$work/eps_ours_$2.safetensors" --torch "$work/eps_torch_$2.safetensors" \
        --inputs "$work/inputs.safetensors" --tol "$tol"
}
say "2. fixed inputs"
"$py" "$here/check_eps.py" inputs --data "$data" --out "$work/inputs.safetensors"
say "3. noise predictions of train_mnist's checkpoint: ours against PyTorch's"
compare "$work/ours/checkpoint.safetensors" ours

say "4. torchrun --nproc_per_node=2 (gloo on the CPU): 3 more steps, the data read from .gz copies"
mkdir -p "$work/data-gz"
for n in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    if [ -e "$data/$n" ]; then gzip -c "$data/$n" > "$work/data-gz/$n.gz"; else cp "$data/$n.gz" "$work/data-gz/"; fi
done
# --redirects 1 --tee 1: Debian's torch 1.13 launcher fails on Python 3.11 with its default "0"
# (AttributeError: 'NoneType' object has no attribute 'get'; see README.md); any torchrun works here.
"$py" -m torch.distributed.run --standalone --nproc_per_node=2 --redirects 1 --tee 1 --log_dir "$work/torchrun-logs" \
    "$here/ddpm_torch.py" train --ckpt "$work/ours/checkpoint.safetensors" --data "$work/data-gz" --steps 3 \
    --total-steps 56 --log-every 1 --device cpu --threads 1 --out "$work/torch/checkpoint.safetensors"

say "5. noise predictions of the checkpoint PyTorch wrote: ours against PyTorch's"
compare "$work/torch/checkpoint.safetensors" torch

say "6. back here: sample_mnist, then train_mnist --resume (steps 54-56)"
"$build/examples/sample_mnist" --ckpt "$work/torch/checkpoint.safetensors" --n 8 --sampler ddim --steps 10 \
    --threads 2 --out "$work/torch/sample_mnist"
"$build/examples/train_mnist" --data "$work/data-gz" --out "$work/torch" --resume --threads 2 \
    --samples 4 --sampler ddim --sample-steps 5 > "$work/train_mnist_resume.log"
grep -E "resumed|done" "$work/train_mnist_resume.log"
grep -q "resumed $work/torch/checkpoint.safetensors at step 53 of 56" "$work/train_mnist_resume.log"
grep -q "done: 3 steps" "$work/train_mnist_resume.log"

say "7. ddpm_torch.py sample: DDPM (1000 steps) from the checkpoint train_mnist wrote"
"$py" "$here/ddpm_torch.py" sample --ckpt "$work/torch/checkpoint.safetensors" --n 2 --sampler ddpm --device cpu \
    --out "$work/torch/ddpm_torch.npy"
"$py" "$here/ddpm_torch.py" sample --ckpt "$work/torch/checkpoint.safetensors" --n 8 --sampler ddim --steps 10 \
    --device cpu --out "$work/torch/ddpm_torch.png"

say "passed in $(( $(date +%s) - t0 )) s (tolerance $tol of the RMS); files in $work"
