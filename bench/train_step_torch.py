#!/usr/bin/python3
# The outside reference for bench/bench_train_step.cpp: the identical UNet-S (nn/unet.h) in PyTorch
# on the CPU, one full training step (q_sample -> forward -> L_simple -> backward -> Adam) at
# batch 64, and one DDPM sampling step of 64 images extrapolated to the 1000-step sampler.
#
# Run with Debian's system Python (/usr/bin/python3): python3-torch is importable only there.
#   OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/train_step_torch.py --out result.json
# Each result is printed as one JSON line {"bench": ..., ...}; --out writes them all to a file.
# How PyTorch is configured matters on a 2-core machine: with OpenBLAS's own thread pool left on,
# its threads and PyTorch's OpenMP pool fight over the cores, so `make bench` runs this script
# with OPENBLAS_NUM_THREADS=1 (the best configuration) and with the default, and reports both.
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

UNET_S_PARAMETERS = 776_929  # nn/unet.h


# ---------------------------------------------------------------------------------------------
# UNet-S, a line-by-line mirror of nn/unet.h / nn/unet.cpp (same module names, same order).

def sinusoidal_embedding(t, dim):
    # nn/time_embedding.cpp: f_i = exp(-ln(10000) i / half); [sin(t f), cos(t f)]
    half = dim // 2
    f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half).float()
    arg = t.float()[:, None] * f[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))            # h = Conv3x3(SiLU(GroupNorm(x)))
        h = h + self.temb_proj(e)[:, :, None, None]      # h += Linear(SiLU(temb)), broadcast
        h = self.conv2(F.silu(self.norm2(h)))            # h = Conv3x3(SiLU(GroupNorm(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class UNetS(nn.Module):
    def __init__(self, in_channels=1, base=32, mid=64, time_dim=32, temb=128, groups=8):
        super().__init__()
        B, M = base, mid
        self.time_dim = time_dim
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_channels, B, 3, padding=1)
        self.enc0 = ResBlock(B, B, temb, groups)
        self.down0 = nn.Conv2d(B, B, 3, stride=2, padding=1)
        self.enc1 = ResBlock(B, M, temb, groups)
        self.down1 = nn.Conv2d(M, M, 3, stride=2, padding=1)
        self.enc2 = ResBlock(M, M, temb, groups)
        self.mid0 = ResBlock(M, M, temb, groups)
        self.mid1 = ResBlock(M, M, temb, groups)
        self.dec0 = ResBlock(2 * M, M, temb, groups)
        self.up0 = nn.Conv2d(M, M, 3, padding=1)
        self.dec1 = ResBlock(2 * M, M, temb, groups)
        self.up1 = nn.Conv2d(M, M, 3, padding=1)
        self.dec2 = ResBlock(M + B, B, temb, groups)
        self.out_norm = nn.GroupNorm(groups, B, eps=1e-5)
        self.out_conv = nn.Conv2d(B, in_channels, 3, padding=1)

    def forward(self, x, t):
        e = F.silu(self.time_mlp(sinusoidal_embedding(t, self.time_dim)))  # SiLU(temb)
        h = self.conv_in(x)
        h = self.enc0(h, e); s0 = h                       # (N, B, 28, 28)
        h = self.down0(h)
        h = self.enc1(h, e); s1 = h                       # (N, M, 14, 14)
        h = self.down1(h)
        h = self.enc2(h, e); s2 = h                       # (N, M, 7, 7)
        h = self.mid0(h, e)
        h = self.mid1(h, e)
        h = self.dec0(torch.cat([h, s2], 1), e)           # (N, M, 7, 7)
        h = self.up0(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.dec1(torch.cat([h, s1], 1), e)           # (N, M, 14, 14)
        h = self.up1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.dec2(torch.cat([h, s0], 1), e)           # (N, B, 28, 28)
        return self.out_conv(F.silu(self.out_norm(h)))


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
    t = torch.randint(1, sch["T"] + 1, (N,))                 # Algorithm 1: t ~ U{1..T}
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
    eps = model(xt, torch.full((N,), t, dtype=torch.long))
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=10.0, help="seconds timed per measurement")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--config", default="", help="a label for this configuration (e.g. openblas_threads_1)")
    ap.add_argument("--out", help="also write the JSON lines to this file")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    env = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS")}
    common = {"config": args.config, "torch": torch.__version__, "threads": torch.get_num_threads(),
              "batch": args.batch, "env": env, "python": sys.executable}

    model = UNetS()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == UNET_S_PARAMETERS, f"UNet-S mirror has {n_params} parameters, nn/unet.h says {UNET_S_PARAMETERS}"
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    sch = linear_schedule()
    x0 = torch.rand(args.batch, 1, 28, 28) * 2 - 1

    lines = []

    def emit(rec):
        rec = {**rec, **common}
        print(json.dumps(rec), flush=True)
        lines.append(rec)

    # training step: forward + backward + Adam
    for _ in range(args.warmup):
        train_step(model, opt, sch, x0)
    n, s = timed(lambda: train_step(model, opt, sch, x0), args.min_time)
    emit({"bench": "train_step", "params": n_params, "iterations": n, "seconds": s,
          "s_per_step": s / n, "images_per_s": args.batch * n / s})

    # sampling: one DDPM step of `batch` images, extrapolated to T = 1000 steps (all steps cost the same)
    model.eval()
    xt = torch.randn(args.batch, 1, 28, 28)
    state = {"xt": xt, "t": sch["T"]}

    def one():
        state["xt"] = sample_step(model, sch, state["xt"], state["t"])
        state["t"] = state["t"] - 1 if state["t"] > 1 else sch["T"]

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
