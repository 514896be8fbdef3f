#!/usr/bin/python3
# The outside reference for `make train` (examples/train_mnist): PyTorch training the identical
# UNet-S on the same MNIST split with the plain DDPM recipe (Adam 2e-4, batch 64, EMA 0.999 without
# warm-up, constant learning rate), sampling 64 images with the 1000-step DDPM sampler from the EMA
# weights at chosen steps. The samples are written as IDX3 ubyte files, so examples/evaluate scores
# them with the same classifier as ours:
#
#   OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/train_mnist_torch.py --steps 5000 \
#       --sample-at 2000,3300,5000 --out out/torch_baseline
#   build/release/examples/evaluate --samples out/torch_baseline/samples_step5000.idx3-ubyte
#
# Results depend on steps, not on wall-clock time, so a busy machine slows the run but does not
# change it; images/s is printed so the step counts can be put on the wall clock of an idle machine
# (bench/train_step_torch.py measures it; ~211 images/s = 3.3 steps/s here).
import argparse
import copy
import gzip
import json
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step_torch import UNetS, linear_schedule, sample_step, train_step  # noqa: E402


def read_idx_images(path):
    """Standard IDX3 ubyte (plain or .gz) -> uint8 tensor (N, 28, 28)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 0x803:
        raise SystemExit(f"{path}: magic 0x{magic:08x} at byte 0, expected 0x00000803 (idx3 ubyte)")
    return torch.frombuffer(bytearray(data[16:16 + n * rows * cols]), dtype=torch.uint8).view(n, rows, cols)


def write_idx_images(path, images_u8):
    n, rows, cols = images_u8.shape
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, rows, cols))
        f.write(images_u8.contiguous().numpy().tobytes())
    os.replace(tmp, path)


@torch.no_grad()
def ddpm_samples(model, sch, n, gen_seed):
    """Algorithm 2 (Eq. 18) for T steps; returns uint8 images (n, 28, 28)."""
    torch.manual_seed(gen_seed)
    model.eval()
    x = torch.randn(n, 1, 28, 28)
    for t in range(sch["T"], 0, -1):
        x = sample_step(model, sch, x, t)
    model.train()
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).view(n, 28, 28)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/mnist", help="folder with train-images-idx3-ubyte")
    ap.add_argument("--out", default="out/torch_baseline")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--sample-at", default="2000,5000", help="comma-separated steps to sample at")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sample_at = sorted({int(s) for s in args.sample_at.split(",") if s})

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    images = read_idx_images(os.path.join(args.data, "train-images-idx3-ubyte"))
    x_all = images.float().div(127.5).sub(1).unsqueeze(1)  # pixels in [-1, 1], (N, 1, 28, 28)
    N = x_all.shape[0]

    model = UNetS()
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sch = linear_schedule()

    log = open(os.path.join(args.out, "log.jsonl"), "w")
    perm, pos = torch.randperm(N), 0
    t0 = time.perf_counter()
    train_seconds = 0.0
    smooth = None
    for step in range(1, args.steps + 1):
        if pos + args.batch > N:
            perm, pos = torch.randperm(N), 0
        x0 = x_all[perm[pos:pos + args.batch]]
        pos += args.batch
        ts = time.perf_counter()
        loss = train_step(model, opt, sch, x0).item()
        with torch.no_grad():  # EMA without warm-up: ema = d * ema + (1 - d) * theta
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.mul_(args.ema).add_(p, alpha=1 - args.ema)
        train_seconds += time.perf_counter() - ts
        smooth = loss if smooth is None else 0.98 * smooth + 0.02 * loss
        if step % 100 == 0 or step == args.steps:
            rec = {"step": step, "loss": smooth, "train_s": train_seconds,
                   "images_per_s": step * args.batch / train_seconds}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if step in sample_at:
            ss = time.perf_counter()
            u8 = ddpm_samples(ema, sch, args.samples, gen_seed=1234)
            path = os.path.join(args.out, f"samples_step{step}.idx3-ubyte")
            write_idx_images(path, u8)
            rec = {"step": step, "samples": path, "sample_s": time.perf_counter() - ss}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
    print(json.dumps({"done": True, "wall_s": time.perf_counter() - t0}), flush=True)


if __name__ == "__main__":
    main()
