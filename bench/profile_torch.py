#!/usr/bin/python3
# PyTorch's per-op profile of one UNet-S training step on the CPU: the same step that
# bench/train_step_torch.py times (q_sample -> forward -> L_simple -> backward -> Adam, batch 64,
# 2 threads), run under torch.profiler and printed as a table in the form of ours. The model,
# its parameter check and the schedule come from train_step_torch.py; its train_step() is copied
# here (same math) only to mark its parts with record_function.
#
# Run with Debian's system Python (/usr/bin/python3): python3-torch is importable only there.
#   OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/profile_torch.py [--json out.json]
# It takes about 20 seconds on a 2-core machine. It is a tool for reading, not part of `make test`
# or `make bench`.
#
# How it maps to our FW_PROFILE table (core/watch.h, printed by core/watch.cpp print_profile):
#   - the first table has our columns (op, pass, calls/step, ms/step, share, GFLOP/s, of peak,
#     GB/s); its rows are PyTorch's events grouped by name and pass, timed by *self* CPU time
#     (what the event spent outside the events it contains), so the rows add up without counting
#     anything twice. "other" is as ours: time outside every op (here: Python between the ops);
#     "other ops" sums the rows below the top --top; "total" is the measured time per step.
#   - pass: the step is split by record_function ranges, "forward" (q_sample, model, loss),
#     "backward" (loss.backward()) and "zero_grad"/"optimizer" (our "update"); each event gets the
#     pass of the range around it (its cpu_parent chain, else the range whose time window holds it).
#   - the second table merges PyTorch's names into our op vocabulary (conv2d, group_norm, silu,
#     linear, add, mul, mse_loss, upsample2x, concat, adam, ...): each event counts for the
#     outermost op around it that has one of our names, e.g. aten::mkldnn_convolution inside
#     aten::conv2d is conv2d, the aten::add_ inside Adam.step is adam; accumulate_grad is the
#     engine summing the gradients of a tensor used twice and adding into .grad; "(unmapped)" is
#     the rest (dtype casts, copies, allocation outside any named op). Our UNet fuses group_norm
#     + silu into group_norm_silu: compare it with group_norm and silu together.
#   - GFLOP/s is given for the whole step only (0.823 GFLOP per image per training step).
import argparse
import json
import os
import re
import sys
import time
from collections import defaultdict

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step_torch import UNET_S_PARAMETERS, UNetS, linear_schedule  # noqa: E402

GFLOP_PER_IMAGE = 0.823  # one training step of UNet-S, direct-convolution count (bench_train_step)
PASS_OF_RANGE = {"forward": "forward", "backward": "backward", "zero_grad": "update", "optimizer": "update"}
STEP_RANGE = "step"
ENGINE = "autograd::engine::evaluate_function: "  # the autograd engine's range around each node


def train_step(model, opt, sch, x0):
    """train_step() of train_step_torch.py, the same math, with each part marked as a range."""
    with record_function("forward"):
        N = x0.shape[0]
        t = torch.randint(1, sch["T"] + 1, (N,), device=x0.device)  # t ~ U{1..T}
        eps = torch.randn_like(x0)
        xt = sch["sqrt_alpha_bar"][t].view(N, 1, 1, 1) * x0 + sch["sqrt_one_minus_alpha_bar"][t].view(N, 1, 1, 1) * eps
        loss = F.mse_loss(model(xt, t), eps)                     # L_simple
    with record_function("zero_grad"):
        opt.zero_grad(set_to_none=False)
    with record_function("backward"):
        loss.backward()
    with record_function("optimizer"):
        opt.step()
    return loss


# --- our op vocabulary ------------------------------------------------------------------------
# PyTorch name (without "aten::", the engine prefix and a trailing BackwardN) -> our op name.
OUR_OP = {}
for ours, theirs in {
    "conv2d": "conv2d convolution _convolution mkldnn_convolution convolution_backward thnn_conv2d "
              "_slow_conv2d_forward _slow_conv2d_backward mkldnn_convolution_backward Convolution",
    "group_norm": "group_norm native_group_norm native_group_norm_backward NativeGroupNorm",
    "silu": "silu silu_backward Silu",
    "linear": "linear addmm mm Addmm Mm T",
    "add": "add Add", "mul": "mul Mul",
    "mse_loss": "mse_loss mse_loss_backward MseLoss",
    "upsample2x": "upsample_nearest2d upsample_nearest2d_backward UpsampleNearest2D",
    "concat": "cat Cat",
    "q_sample": "randint randn_like index",
    "time_embedding": "sin cos exp arange",
    "reshape/slice": "view reshape _reshape_alias unsqueeze squeeze slice slice_backward expand Slice Unsqueeze View",
    "adam": "Optimizer.step#Adam.step",
    "zero_grad": "Optimizer.zero_grad#Adam.zero_grad",
    "accumulate_grad": "torch::autograd::AccumulateGrad",
}.items():
    OUR_OP.update({name: ours for name in theirs.split()})


def our_op(name):
    base = name[len(ENGINE):] if name.startswith(ENGINE) else name
    base = re.sub(r"^aten::", "", base)
    return OUR_OP.get(base) or OUR_OP.get(re.sub(r"Backward\d+$", "", base))


def short(name):
    return name.replace(ENGINE, "engine: ")


# --- attributing events -----------------------------------------------------------------------
def ancestors(e):
    while e is not None:
        yield e
        e = e.cpu_parent


def pass_of(e, windows):
    for a in ancestors(e):
        if a.name in PASS_OF_RANGE:
            return PASS_OF_RANGE[a.name]
    # not nested under a range (e.g. an autograd engine thread): the range whose time holds it
    for name, start, end in windows:
        if start <= e.time_range.start < end:
            return PASS_OF_RANGE[name]
    return "?"


def merged_op(e):
    """Our name of the outermost op around e (itself included) that has one; None: unmapped."""
    parent = e.cpu_parent.name if e.cpu_parent else ""
    if e.name == "aten::add" and parent.startswith(ENGINE):  # the engine summing two gradients
        return "accumulate_grad"
    found = None
    for a in ancestors(e):
        if a.name in PASS_OF_RANGE or a.name == STEP_RANGE:
            break
        found = our_op(a.name) or found
    return found


def collect(events):
    """(name, pass) -> [calls, self us] and (our op, pass) -> self us, of the events that are ops.

    Left out (so they fall in "other"): the self time of our ranges (Python between the ops) and
    of the tensors record_function makes as a range opens (the profiler's cost)."""
    windows = [(e.name, e.time_range.start, e.time_range.end) for e in events if e.name in PASS_OF_RANGE]
    rows, merged = defaultdict(lambda: [0, 0.0]), defaultdict(float)
    for e in events:
        p = pass_of(e, windows)
        if e.name in PASS_OF_RANGE or e.name == STEP_RANGE or p == "?":
            continue
        rows[(e.name, p)][0] += 1
        rows[(e.name, p)][1] += e.self_cpu_time_total
        merged[(merged_op(e) or "(unmapped)", p)] += e.self_cpu_time_total
    return rows, merged


# --- printing ---------------------------------------------------------------------------------
def print_ops(rows, step_ms, steps, top, gflops):
    ordered = sorted(rows.items(), key=lambda kv: -kv[1][1])
    share = lambda ms: 100.0 * ms / step_ms  # noqa: E731
    print(f"{'op':<44} {'pass':<8} {'calls/step':>10} {'ms/step':>10} {'share':>7} {'GFLOP/s':>9} {'of peak':>8} {'GB/s':>8}")
    out = []
    for (name, p), (calls, us) in ordered:
        out.append({"op": name, "pass": p, "calls_per_step": calls / steps, "ms_per_step": us / 1e3 / steps})
    for r in out[:top]:
        print(f"{short(r['op'])[:44]:<44} {r['pass']:<8} {r['calls_per_step']:10.1f} {r['ms_per_step']:10.3f} {share(r['ms_per_step']):6.1f}%")
    rest = sum(r["ms_per_step"] for r in out[top:])
    other = step_ms - sum(r["ms_per_step"] for r in out)  # outside every op, in or out of our ranges
    print(f"{'other ops (%d more rows)' % max(0, len(out) - top):<44} {'':<8} {'':>10} {rest:10.3f} {share(rest):6.1f}%")
    print(f"{'other':<44} {'':<8} {'':>10} {other:10.3f} {share(other):6.1f}%   "
          "(outside every op: Python between the ops, the profiler's marks)")
    print(f"{'total':<44} {'':<8} {'':>10} {step_ms:10.3f} {100.0:6.1f}% {gflops:9.1f}")
    return out, other


def print_merged(merged, other_ms, step_ms, steps):
    ops = defaultdict(lambda: {"forward": 0.0, "backward": 0.0, "update": 0.0})
    for (op, p), us in merged.items():
        ops[op][p] += us / 1e3 / steps
    print(f"\n{'our op':<18} {'forward':>10} {'backward':>10} {'update':>10} {'ms/step':>10} {'share':>7}")
    out = []
    for op, by in sorted(ops.items(), key=lambda kv: -sum(kv[1].values())):
        ms = sum(by.values())
        out.append({"op": op, **by, "ms_per_step": ms})
        print(f"{op:<18} {by['forward']:10.3f} {by['backward']:10.3f} {by['update']:10.3f} {ms:10.3f} {100 * ms / step_ms:6.1f}%")
    print(f"{'other':<18} {'':>10} {'':>10} {'':>10} {other_ms:10.3f} {100 * other_ms / step_ms:6.1f}%")
    print(f"{'total':<18} {'':>10} {'':>10} {'':>10} {step_ms:10.3f} {100.0:6.1f}%")
    print("(ms/step of self CPU time; group_norm + silu is our fused group_norm_silu)")
    return out


def main():
    ap = argparse.ArgumentParser(description="torch.profiler per-op table of one UNet-S training step (CPU)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--steps", type=int, default=5, help="steps profiled (and timed without the profiler)")
    ap.add_argument("--top", type=int, default=20, help="rows shown in the per-op table")
    ap.add_argument("--json", metavar="OUT", help="also write the rows to this JSON file")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = UNetS()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == UNET_S_PARAMETERS, f"UNet-S mirror has {n_params} parameters, nn/unet.h says {UNET_S_PARAMETERS}"
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    sch = linear_schedule()
    x0 = torch.rand(args.batch, 1, 28, 28) * 2 - 1

    for _ in range(args.warmup):
        train_step(model, opt, sch, x0)
    t0 = time.perf_counter()  # the same steps without the profiler: what it costs
    for _ in range(args.steps):
        train_step(model, opt, sch, x0)
    plain_ms = (time.perf_counter() - t0) * 1e3 / args.steps

    with profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
        t0 = time.perf_counter()
        for _ in range(args.steps):
            with record_function(STEP_RANGE):
                train_step(model, opt, sch, x0)
        step_ms = (time.perf_counter() - t0) * 1e3 / args.steps

    rows, merged = collect(prof.events())
    gflops = args.batch * GFLOP_PER_IMAGE / (step_ms / 1e3)
    print(f"[profile torch] {args.steps} steps at batch {args.batch}, {step_ms:.1f} ms/step profiled "
          f"({plain_ms:.1f} ms/step without the profiler); torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"{args.batch * 1e3 / step_ms:.1f} images/s = {gflops:.1f} GFLOP/s ({GFLOP_PER_IMAGE} GFLOP/image)")
    op_rows, other_ms = print_ops(rows, step_ms, args.steps, args.top, gflops)
    merged_rows = print_merged(merged, other_ms, step_ms, args.steps)

    if args.json:
        meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "batch": args.batch, "steps": args.steps,
                "ms_per_step": step_ms, "ms_per_step_unprofiled": plain_ms, "other_ms_per_step": other_ms,
                "gflops_per_s": gflops, "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "ops": op_rows, "our_ops": merged_rows}, f, indent=1)


if __name__ == "__main__":
    main()
