#!/usr/bin/python3
# The outside reference for bench/bench_train_step.cpp: the identical UNet-S (nn/unet.h) in PyTorch
# on the CPU, one full training step (q_sample -> forward -> L_simple -> backward -> Adam) at
# batch 64, and one DDPM sampling step of 64 images extrapolated to the 1000-step sampler.
#
# Run with Debian's system Python (/usr/bin/python3): python3-torch is importable only there.
#   OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/train_step_torch.py --out result.json
# On the CPU the training step is timed twice: alone, and while another process spins on one core
# ("train_step_contended", as bench_train_step.cpp's case of that name), for what sharing the
# machine costs each framework.
# Each result is printed as one JSON line {"bench": ..., ...}; --out writes them all to a file.
# How PyTorch is configured matters on a 2-core machine: with OpenBLAS's own thread pool left on,
# its threads and PyTorch's OpenMP pool fight over the cores, so `make bench` runs this script
# with OPENBLAS_NUM_THREADS=1 (the best configuration) and with the default, and reports both.
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

# UNet-S: the mirror of nn/unet.h that tests/parity checks against our C++ (one copy of the model).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "parity"))
from torch_unet import UNET_S_PARAMETERS, UNet as UNetS  # noqa: E402


# ---------------------------------------------------------------------------------------------
# DDPM pieces (diffusion/): linear schedule, 1-indexed tables with alpha_bar[0] = 1.

def linear_schedule(T=1000, beta_1=1e-4, beta_T=0.02):
    beta = torch.cat([torch.zeros(1, dtype=torch.float64), torch.linspace(beta_1, beta_T, T, dtype=torch.float64)])
    alpha = 1.0 - beta
    alpha_bar = torch.cumprod(alpha, 0)  # alpha_bar[0] = 1
    return {"T": T, "beta": beta.float(), "alpha": alpha.float(), "alpha_bar": alpha_bar.float(),
            "sqrt_alpha_bar": alpha_bar.sqrt().float(), "sqrt_one_minus_alpha_bar": (1 - alpha_bar).sqrt().float(),
            "sqrt_recip_alpha": (1 / alpha.sqrt()).float(),
            "eps_coef": (beta / (1 - alpha_bar).clamp(min=1e-20).sqrt()).float()}


def train_step(model, opt, sch, x0):
    N = x0.shape[0]
    t = torch.randint(1, sch["T"] + 1, (N,), device=x0.device)  # Algorithm 1: t ~ U{1..T}
    eps = torch.randn_like(x0)                               # eps ~ N(0, I)
    # Eq. 6: x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps
    xt = sch["sqrt_alpha_bar"][t].view(N, 1, 1, 1) * x0 + sch["sqrt_one_minus_alpha_bar"][t].view(N, 1, 1, 1) * eps
    loss = F.mse_loss(model(xt, t), eps)                     # Eq. 17: L_simple
    opt.zero_grad(set_to_none=False)
    loss.backward()
    opt.step()
    return loss


@torch.no_grad()
def sample_step(model, sch, xt, t):
    N = xt.shape[0]
    eps = model(xt, torch.full((N,), t, dtype=torch.long, device=xt.device))
    # Eq. 18: x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sigma_t z, sigma_t^2 = beta_t
    mean = sch["sqrt_recip_alpha"][t] * (xt - sch["eps_coef"][t] * eps)
    return mean + sch["beta"][t].sqrt() * torch.randn_like(xt) if t > 1 else mean


def timed(fn, min_time):
    """Runs fn until min_time seconds have passed; returns (iterations, seconds)."""
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        s = time.perf_counter() - t0
        if s >= min_time:
            return n, s


# the busy process of bench_train_step.cpp's contended case (a shell loop that ends with its parent)
BUSY_LOOP = "while kill -0 $PPID 2>/dev/null; do i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; done"


def busy_process():
    """Another process spinning on one core until killed (the contended case)."""
    return subprocess.Popen(["/bin/sh", "-c", BUSY_LOOP])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=10.0, help="seconds timed per measurement")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--config", default="", help="a label for this configuration (e.g. openblas_threads_1)")
    ap.add_argument("--out", help="also write the JSON lines to this file")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="cuda: the same on the GPU (eager mode; each timed step ends with torch.cuda.synchronize())")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    env = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS")}
    common = {"config": args.config, "torch": torch.__version__, "threads": torch.get_num_threads(),
              "batch": args.batch, "env": env, "python": sys.executable, "device": args.device}
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit(f"train_step_torch.py --device cuda: this PyTorch ({torch.__version__}) sees no CUDA GPU")
    dev = torch.device(args.device)
    if args.device == "cuda":
        common["gpu"] = torch.cuda.get_device_name(0)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)

    model = UNetS().to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == UNET_S_PARAMETERS, f"UNet-S mirror has {n_params} parameters, nn/unet.h says {UNET_S_PARAMETERS}"
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    sch = {k: (v.to(dev) if torch.is_tensor(v) else v) for k, v in linear_schedule().items()}
    x0 = torch.rand(args.batch, 1, 28, 28, device=dev) * 2 - 1

    lines = []

    def emit(rec):
        rec = {**rec, **common}
        print(json.dumps(rec), flush=True)
        lines.append(rec)

    # training step: forward + backward + Adam
    def one_train_step():
        train_step(model, opt, sch, x0)
        sync()

    for _ in range(args.warmup):
        one_train_step()
    n, s = timed(one_train_step, args.min_time)
    emit({"bench": "train_step", "params": n_params, "iterations": n, "seconds": s,
          "s_per_step": s / n, "images_per_s": args.batch * n / s})

    if args.device == "cpu":  # the same step while another process is busy on one core
        busy = busy_process()
        try:
            for _ in range(args.warmup):
                one_train_step()
            n, s = timed(one_train_step, args.min_time)
        finally:
            busy.kill()
            busy.wait()
        emit({"bench": "train_step_contended", "iterations": n, "seconds": s,
              "s_per_step": s / n, "images_per_s": args.batch * n / s})

    # sampling: one DDPM step of `batch` images, extrapolated to T = 1000 steps (all steps cost the same)
    model.eval()
    xt = torch.randn(args.batch, 1, 28, 28, device=dev)
    state = {"xt": xt, "t": sch["T"]}

    def one():
        state["xt"] = sample_step(model, sch, state["xt"], state["t"])
        state["t"] = state["t"] - 1 if state["t"] > 1 else sch["T"]
        sync()

    for _ in range(args.warmup):
        one()
    n, s = timed(one, max(args.min_time / 2, 1.0))
    emit({"bench": "sample_step", "iterations": n, "seconds": s, "s_per_step": s / n,
          "s_per_1000_steps": 1000 * s / n, "extrapolated_from_steps": n})

    if args.out:
        with open(args.out, "w") as f:
            for rec in lines:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
