"""The two halves of `make torch-check`'s comparison: fixed inputs, then our noise predictions
(examples/predict_eps) against PyTorch's (examples/pytorch/ddpm_torch.py eps) on them.

    /usr/bin/python3 examples/pytorch/check_eps.py inputs --data data/mnist --out in.safetensors
    /usr/bin/python3 examples/pytorch/check_eps.py compare --ours a.safetensors --torch b.safetensors --tol 1e-4

inputs: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps (Eq. 6, linear schedule) of the
first N test digits (t10k-images-idx3-ubyte[.gz] of --data), eps from torch.Generator(seed), at a
spread of t from 1 to 1000 (so the net sees inputs like those it was trained on, from nearly clean
digits to pure noise). Tensors x_t (N, 1, H, W) and t (N) as floats.

compare: for each eps.<weights> tensor of the two files, err = max |ours - torch| / RMS(torch),
the worst absolute difference relative to the typical size of the output; passes when err <= --tol
for every tensor. Prints the worst element's t. Exit status 1 on a failure, 2 on a bad file.
"""
import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ddpm_torch import Schedule, UserError, read_idx_images, read_safetensors, write_safetensors  # noqa: E402

TIMESTEPS = [1, 2, 5, 10, 50, 100, 250, 400, 500, 650, 800, 900, 990, 1000]


def cmd_inputs(a):
    x0 = torch.from_numpy(read_idx_images(a.data, "t10k")[:len(TIMESTEPS)].astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    if x0.shape[0] < len(TIMESTEPS):
        raise UserError("--data %s: fewer than %d test images" % (a.data, len(TIMESTEPS)))
    gen = torch.Generator().manual_seed(a.seed)
    eps = torch.randn(x0.shape, generator=gen)
    sch = Schedule("linear")
    t = torch.tensor(TIMESTEPS, dtype=torch.int64)
    xt = sch.at(sch.sqrt_alpha_bar, t) * x0 + sch.at(sch.sqrt_one_minus_alpha_bar, t) * eps   # Eq. 6
    write_safetensors(a.out, [("x_t", xt), ("t", t.to(torch.float32))],
                      {"by": "examples/pytorch/check_eps.py inputs", "seed": str(a.seed), "data": a.data})
    print("[check] %d inputs x_t %s at t = %s -> %s" % (len(TIMESTEPS), list(xt.shape), TIMESTEPS, a.out))


def cmd_compare(a):
    ours, _ = read_safetensors(a.ours)
    ref, _ = read_safetensors(a.torch)
    t = read_safetensors(a.inputs)[0]["t"] if a.inputs else None
    names = sorted(n for n in ref if n.startswith("eps."))
    if not names or set(names) != set(n for n in ours if n.startswith("eps.")):
        raise UserError("%s holds %s, %s holds %s: not the same predictions" % (a.ours, sorted(ours), a.torch, sorted(ref)))
    ok = True
    for n in names:
        o, r = ours[n].astype(np.float64), ref[n].astype(np.float64)
        if o.shape != r.shape:
            raise UserError("%s: %s has shape %s here and %s in %s" % (a.ours, n, list(o.shape), list(r.shape), a.torch))
        diff = np.abs(o - r)
        rms = math.sqrt(float(np.mean(r * r)))
        err = float(diff.max()) / rms if np.all(np.isfinite(diff)) else float("inf")
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        passed = err <= a.tol
        ok = ok and passed
        print("[check] %-10s max |ours - torch| %.3g, RMS(torch) %.3g: %.3g of the RMS (tolerance %g) %s; worst at image %d%s"
              % (n, float(diff.max()), rms, err, a.tol, "ok" if passed else "FAILED", worst[0],
                 " (t = %d)" % int(t[worst[0]]) if t is not None else ""))
        if t is not None:
            per_t = ", ".join("t=%d: %.2g" % (int(t[i]), float(diff[i].max()) / rms) for i in range(len(t)))
            print("[check]            per image: " + per_t)
    if not ok:
        sys.exit(1)


def main():
    p = argparse.ArgumentParser(prog="check_eps", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pi = sub.add_parser("inputs", help="fixed x_t and t for the comparison")
    pi.add_argument("--data", required=True, help="folder with t10k-images-idx3-ubyte[.gz]")
    pi.add_argument("--out", required=True)
    pi.add_argument("--seed", type=int, default=1234)
    pc = sub.add_parser("compare", help="our eps against PyTorch's")
    pc.add_argument("--ours", required=True, help="examples/predict_eps's output")
    pc.add_argument("--torch", required=True, help="ddpm_torch.py eps's output")
    pc.add_argument("--inputs", help="the inputs file, to name each image's t")
    pc.add_argument("--tol", type=float, required=True, help="max |ours - torch| / RMS(torch)")
    a = p.parse_args()
    try:
        {"inputs": cmd_inputs, "compare": cmd_compare}[a.cmd](a)
    except UserError as e:
        print("check_eps %s: %s" % (a.cmd, e), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
