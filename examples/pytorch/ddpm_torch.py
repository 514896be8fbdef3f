"""A train_mnist checkpoint in PyTorch: sample from it, continue training it on many processes or
GPUs (torch DistributedDataParallel), and save the result in OUR checkpoint format, so that
train_mnist --resume and sample_mnist read it back. The model is the PyTorch mirror of UNet-S
(tests/parity/torch_unet.py: the same module names, so named_parameters() gives our names).

    python3 examples/pytorch/ddpm_torch.py sample --ckpt out/mnist/checkpoint.safetensors --n 64 --out s.png
    torchrun --standalone --nproc_per_node=K examples/pytorch/ddpm_torch.py train \
        --ckpt out/mnist/checkpoint.safetensors --data data/mnist --steps 2000 --out runs/t/checkpoint.safetensors
    python3 examples/pytorch/ddpm_torch.py eps --ckpt CKPT --inputs in.safetensors --out eps.safetensors

(On Debian, python3-torch is importable by /usr/bin/python3 only; torchrun is
`/usr/bin/python3 -m torch.distributed.run`, and its torch 1.13 on Python 3.11 needs
`--redirects 1 --tee 1`.) examples/pytorch/README.md has the details.

The math is ours, line for line (the C++ file is named beside each part):
  schedule    diffusion/schedule.cpp: linear beta_t = 1e-4 + (t - 1)/(T - 1) (0.02 - 1e-4), T = 1000,
              or cosine (Eq. 21, s = 0.008, beta_t <= 0.999); coefficients in float64, used as float32
  sampling    diffusion/sampler.cpp: DDPM, Algorithm 2 (Eq. 18), x0_hat (Eq. 12) clipped to [-1, 1]
              and the mean from Eq. 11; sigma_t^2 = beta_t (or beta_tilde_t); z = 0 at t = 1.
              DDIM (Eq. 20, eta = 0) over round(T - i (T - 1)/(K - 1)), i = 0..K-1
  training    examples/common/ddpm_trainer.cpp: L_simple (Eq. 17) with t ~ U{1..T}, eps ~ N(0, I);
              global gradient norm clipped; Adam (0.9, 0.999, 1e-8) with linear warm-up then cosine
              decay to 5% (or constant); EMA decay_t = min(decay, (1 + t) / (10 + t)) with warm-up
Only the random numbers differ: PyTorch's generators, not our Philox streams.

Checkpoint (nn/checkpoint.h): one safetensors file; tensors model.<p>, ema.<p>, optim.adam.m.<p>,
optim.adam.v.<p> (float32); __metadata__: format "fw-train-state", format_version "2", step,
rng_seed, rng_offset, crc32.<tensor> (zlib's CRC-32 of its bytes, 8 lowercase hex digits), and the
run settings as strings (base, mid, groups, schedule, steps, batch, lr, warmup, lr_schedule,
ema_decay, ema_warmup, grad_clip, seed, train_images, image_rows, image_cols, train_crc32).
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F

# The mirror UNet: next to this file (when the two are copied elsewhere) or in tests/parity/.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "..", "tests", "parity"))
sys.path.insert(0, _HERE)
from torch_unet import UNet  # noqa: E402

PROG = "ddpm_torch"
CHECKPOINT_FORMAT = "fw-train-state"
CHECKPOINT_VERSION = 2
RESERVED = ("format", "format_version", "step", "rng_seed", "rng_offset")
CRC_PREFIX = "crc32."


class UserError(Exception):
    """A problem with the input (a file, a flag): printed as one line, exit status 2."""


# ---------------------------------------------------------------------------------------------
# safetensors (nn/safetensors.h): u64 LE header length N, N bytes of JSON, the raw tensor bytes

def read_safetensors(path):
    """-> ({name: float32 numpy array} in file order, {metadata})."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UserError("%s: cannot read: %s" % (path, e.strerror))
    if len(raw) < 8:
        raise UserError("%s: not a safetensors file (%d bytes)" % (path, len(raw)))
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise UserError("%s: truncated: header of %d bytes in a file of %d" % (path, n, len(raw)))
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise UserError("%s: header is not JSON: %s" % (path, e))
    data = memoryview(raw)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if info["dtype"] != "F32":
            raise UserError("%s: tensor '%s' has dtype %s; only F32 is read" % (path, name, info["dtype"]))
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if end - begin != 4 * int(np.prod(shape, dtype=np.int64)) or end > len(data):
            raise UserError("%s: tensor '%s': data_offsets %s do not hold shape %s" % (path, name, [begin, end], list(shape)))
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape).copy()
    return tensors, meta


def write_safetensors(path, tensors, meta):
    """tensors: list of (name, array or tensor), written in that order; meta: {str: str}.
    Atomic, as ours: a temp file in the same folder, fsync, rename."""
    header, blobs, offset = {"__metadata__": meta}, [], 0
    for name, t in tensors:
        if isinstance(t, torch.Tensor):
            t = t.detach().to("cpu", torch.float32).contiguous().numpy()
        b = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)  # the data starts at a multiple of 8 bytes
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise UserError("%s: cannot write: %s" % (path, e.strerror))


def crc32_hex(array):
    return "%08x" % (zlib.crc32(np.ascontiguousarray(array, dtype="<f4").tobytes()) & 0xFFFFFFFF)


# ---------------------------------------------------------------------------------------------
# checkpoints (nn/checkpoint.h)

class Checkpoint:
    def __init__(self, path):
        self.path = path
        self.tensors, meta = read_safetensors(path)
        where = "checkpoint %s" % path
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise UserError('%s: not a training checkpoint (its __metadata__ has no "format": "%s")' % (where, CHECKPOINT_FORMAT))
        version = meta.get("format_version", "")
        if version not in ("1", "2"):
            raise UserError("%s: format_version '%s'; this script reads versions 1 and 2" % (where, version))
        for key in ("step", "rng_seed", "rng_offset"):
            if not meta.get(key, "").isdigit():
                raise UserError("%s: __metadata__ '%s' = '%s' is not a decimal integer" % (where, key, meta.get(key)))
        self.step, self.rng_seed, self.rng_offset = (int(meta[k]) for k in ("step", "rng_seed", "rng_offset"))
        if version == "2":  # every tensor has its CRC-32, and every CRC-32 a tensor
            stored = {k[len(CRC_PREFIX):]: v for k, v in meta.items() if k.startswith(CRC_PREFIX)}
            for name, t in self.tensors.items():
                if name not in stored:
                    raise UserError("%s: tensor '%s' has no CRC-32 ('%s%s' in __metadata__)" % (where, name, CRC_PREFIX, name))
                got = crc32_hex(t)
                if got != stored.pop(name):
                    raise UserError("%s: tensor '%s' fails its CRC-32 check (stored %s, computed %s): the file is corrupt"
                                    % (where, name, meta[CRC_PREFIX + name], got))
            if stored:
                raise UserError("%s: __metadata__ holds a CRC-32 for '%s', which the file does not hold" % (where, next(iter(stored))))
        for name, t in self.tensors.items():
            bad = np.flatnonzero(~np.isfinite(t))
            if bad.size:
                raise UserError("%s: tensor '%s' holds %s at index %d" % (where, name, t.flat[bad[0]], bad[0]))
        self.settings = {k: v for k, v in meta.items() if k not in RESERVED and not k.startswith(CRC_PREFIX)}

    def setting(self, key):
        if key not in self.settings:
            raise UserError("checkpoint %s: has no setting '%s' (written by an older train_mnist?)" % (self.path, key))
        return self.settings[key]

    def setting_int(self, key):
        v = self.setting(key)
        if not v.lstrip("-").isdigit():
            raise UserError("checkpoint %s: setting '%s' = '%s' is not an integer" % (self.path, key, v))
        return int(v)

    def setting_float(self, key):
        try:
            v = float(self.setting(key))
        except ValueError:
            v = float("nan")
        if not math.isfinite(v):
            raise UserError("checkpoint %s: setting '%s' = '%s' is not a finite number" % (self.path, key, self.setting(key)))
        return v

    def group(self, prefix):
        """{name without prefix: array} of the tensors under `prefix`."""
        return {k[len(prefix):]: v for k, v in self.tensors.items() if k.startswith(prefix)}


def build_unet(ck):
    """UNet-S with the checkpoint's widths (the rest is UNetConfig::small(): time 32 -> 128)."""
    base, mid, groups = ck.setting_int("base"), ck.setting_int("mid"), ck.setting_int("groups")
    if base % groups or mid % groups:
        raise UserError("checkpoint %s: groups %d must divide base %d and mid %d" % (ck.path, groups, base, mid))
    return UNet(in_channels=1, base=base, mid=mid, time_dim=32, temb=128, groups=groups)


def load_group(net, ck, prefix):
    """Copies the checkpoint's tensors '<prefix><name>' into net's parameters, after checking that
    the names are the same sets and every shape agrees (as load_into in nn/checkpoint.cpp)."""
    saved = ck.group(prefix)
    params = dict(net.named_parameters())
    problems = ["tensor '%s%s' is missing" % (prefix, n) for n in params if n not in saved]
    problems += ["unexpected tensor '%s%s'" % (prefix, n) for n in saved if n not in params]
    problems += ["tensor '%s%s' has shape %s but the model expects %s" % (prefix, n, list(saved[n].shape), list(p.shape))
                 for n, p in params.items() if n in saved and tuple(saved[n].shape) != tuple(p.shape)]
    if problems:
        raise UserError("checkpoint %s: %s" % (ck.path, "; ".join(problems)))
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(torch.from_numpy(saved[n]))


def model_from(ck, weights, device):
    if weights == "ema" and not ck.group("ema."):
        raise UserError("checkpoint %s holds no EMA weights (no ema.* tensors); use --weights model" % ck.path)
    net = build_unet(ck)
    load_group(net, ck, weights + ".")
    return net.to(device).eval()


# ---------------------------------------------------------------------------------------------
# the noise schedule (diffusion/schedule.cpp): tables of T + 1 entries, index t = 0..T, in float64

class Schedule:
    def __init__(self, name, T=1000):
        if name == "linear":  # Eq. 1: beta_t = beta_1 + (t - 1) / (T - 1) (beta_T - beta_1)
            beta = [1e-4 + (t - 1) / (T - 1) * (0.02 - 1e-4) for t in range(1, T + 1)]
        elif name == "cosine":  # Eq. 21: alpha_bar_t = f(t) / f(0), beta_t = min(1 - alpha_bar_t / alpha_bar_{t-1}, 0.999)
            s = 0.008
            f = [math.cos(((t / T + s) / (1 + s)) * 1.5707963267948966) ** 2 for t in range(T + 1)]
            beta = [min(1 - (f[t] / f[0]) / (f[t - 1] / f[0]), 0.999) for t in range(1, T + 1)]
        else:
            raise UserError("schedule '%s': allowed: linear, cosine" % name)
        self.T = T
        self.beta = np.array([0.0] + beta)                      # beta[0] = 0
        self.alpha = 1.0 - self.beta                            # Eq. 3: alpha_t = 1 - beta_t
        self.alpha_bar = np.cumprod(self.alpha)                 # Eq. 6: alpha_bar_t = prod_{s<=t} alpha_s
        ab, ab_prev = self.alpha_bar, np.concatenate([[1.0], self.alpha_bar[:-1]])
        with np.errstate(divide="ignore", invalid="ignore"):    # the t = 0 entries are never used
            self.sqrt_alpha_bar = np.sqrt(ab)
            self.sqrt_one_minus_alpha_bar = np.sqrt(1.0 - ab)
            self.sqrt_recip_alpha_bar = 1.0 / np.sqrt(ab)
            self.sqrt_recip_alpha = 1.0 / np.sqrt(self.alpha)
            self.eps_coef = self.beta / np.sqrt(1.0 - ab)                        # Eq. 13
            self.beta_tilde = (1.0 - ab_prev) / (1.0 - ab) * self.beta           # Eq. 11
            self.posterior_coef_x0 = np.sqrt(ab_prev) * self.beta / (1.0 - ab)   # Eq. 11
            self.posterior_coef_xt = np.sqrt(self.alpha) * (1.0 - ab_prev) / (1.0 - ab)

    def at(self, table, t):
        """table[t] as a float32 (N, 1, 1, 1) tensor for a (N,) int64 tensor t (ours: table_at)."""
        return torch.from_numpy(table.astype(np.float32))[t.cpu()].reshape(-1, 1, 1, 1).to(t.device)


def ddim_timesteps(T, steps):
    """tau_i = round(T - i (T - 1) / (steps - 1)), i = 0..steps-1 (std::lround: halves away from 0)."""
    if steps == 1:
        return [T]
    stride = (T - 1) / (steps - 1)
    return [int(math.floor(T - i * stride + 0.5)) for i in range(steps)]


@torch.no_grad()
def sample(net, sch, n, rows, cols, gen, device, sampler="ddpm", steps=100, clip_x0=True, sigma="beta"):
    """n images (n, 1, rows, cols) in about [-1, 1]."""
    x = torch.randn(n, 1, rows, cols, generator=gen, device=device)  # Algorithm 2: x_T ~ N(0, I)
    if sampler == "ddpm":
        for step in range(sch.T, 0, -1):                               # Algorithm 2: for t = T, ..., 1
            t = torch.full((n,), step, dtype=torch.int64, device=device)
            eps = net(x, t)
            # Eq. 12: x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)
            x0 = sch.at(sch.sqrt_recip_alpha_bar, t) * (x - sch.at(sch.sqrt_one_minus_alpha_bar, t) * eps)
            if clip_x0:
                x0 = x0.clamp(-1.0, 1.0)
                # Eq. 11: mu_tilde_t = c_x0 x0_hat + c_xt x_t
                mean = sch.at(sch.posterior_coef_x0, t) * x0 + sch.at(sch.posterior_coef_xt, t) * x
            else:
                # Eq. 18: (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t)
                mean = sch.at(sch.sqrt_recip_alpha, t) * (x - sch.at(sch.eps_coef, t) * eps)
            if step == 1:                                              # Eq. 18: z = 0 at t = 1
                x = mean
            else:
                var = sch.beta[step] if sigma == "beta" else sch.beta_tilde[step]   # Eq. 14
                z = torch.randn(x.shape, generator=gen, device=device)
                x = mean + float(np.float32(math.sqrt(var))) * z        # x_{t-1} = mean + sigma_t z
        return x
    tau = ddim_timesteps(sch.T, steps)
    for i, step in enumerate(tau):                                     # Eq. 20 with eta = 0
        prev = tau[i + 1] if i + 1 < len(tau) else 0                   # alpha_bar_0 = 1 after the last
        t = torch.full((n,), step, dtype=torch.int64, device=device)
        eps = net(x, t)
        x0 = sch.at(sch.sqrt_recip_alpha_bar, t) * (x - sch.at(sch.sqrt_one_minus_alpha_bar, t) * eps)   # Eq. 12
        if clip_x0:
            x0 = x0.clamp(-1.0, 1.0)
        ab_prev = sch.alpha_bar[prev]
        # x_{t'} = sqrt(alpha_bar_{t'}) x0_hat + sqrt(1 - alpha_bar_{t'}) eps
        x = float(np.float32(math.sqrt(ab_prev))) * x0 + float(np.float32(math.sqrt(max(0.0, 1.0 - ab_prev)))) * eps
    return x


# ---------------------------------------------------------------------------------------------
# images: IDX files in (core/idx.h, plain or .gz), PNG grids / NPY / IDX out

def read_idx_images(folder, prefix="train"):
    """DIR/<prefix>-images-idx3-ubyte[.gz] -> uint8 array (n, rows, cols)."""
    name = os.path.join(folder, prefix + "-images-idx3-ubyte")
    path = name if os.path.exists(name) else name + ".gz"
    if not os.path.exists(path):
        raise UserError("--data %s: neither %s nor %s.gz exists" % (folder, name, name))
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise UserError("%s: cannot read: %s" % (path, e))
    if len(raw) < 16:
        raise UserError("%s: %d bytes, too short for an IDX3 header" % (path, len(raw)))
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x00000803:
        raise UserError("%s: magic 0x%08x is not that of IDX3 unsigned-byte images (0x00000803)" % (path, magic))
    if len(raw) != 16 + n * rows * cols:
        raise UserError("%s: %d images of %d x %d need %d bytes of data, the file has %d"
                        % (path, n, rows, cols, n * rows * cols, len(raw) - 16))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def to_bytes(x):
    """x in [-1, 1] -> bytes: round((x + 1) 127.5), clamped (data::unit_range_to_bytes)."""
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def write_png_gray(path, pixels):
    """pixels: uint8 (H, W) -> an 8-bit grayscale PNG."""
    h, w = pixels.shape
    rows = b"".join(b"\x00" + pixels[i].tobytes() for i in range(h))   # filter 0 on every row

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def write_images(path, x):
    """x (n, 1, H, W) float: .png (a grid, 10 a row, as sample_mnist), .npy (the floats), or IDX3
    unsigned bytes for any other name (e.g. samples-idx3-ubyte, what examples/evaluate scores)."""
    x = x.detach().cpu().numpy().astype(np.float32)
    n, _, h, w = x.shape
    if path.endswith(".npy"):
        np.save(path, x)
    elif path.endswith(".png"):
        cols, scale, pad = min(10, n), 2, 2
        grid_rows = (n + cols - 1) // cols
        canvas = np.full((pad + grid_rows * (h * scale + pad), pad + cols * (w * scale + pad)), 128, np.uint8)
        for k in range(n):
            r, c = divmod(k, cols)
            img = np.kron(to_bytes(x[k, 0]), np.ones((scale, scale), np.uint8))
            y0, x0 = pad + r * (h * scale + pad), pad + c * (w * scale + pad)
            canvas[y0:y0 + h * scale, x0:x0 + w * scale] = img
        write_png_gray(path, canvas)
    else:
        with open(path, "wb") as f:
            f.write(struct.pack(">IIII", 0x00000803, n, h, w) + to_bytes(x).tobytes())


# ---------------------------------------------------------------------------------------------
# sample

def pick_device(name, local_rank=0):
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise UserError("--device cuda: this PyTorch (%s) sees no CUDA GPU" % torch.__version__)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def cmd_sample(a):
    ck = Checkpoint(a.ckpt)
    device = pick_device(a.device)
    net = model_from(ck, a.weights, device)
    sch = Schedule(ck.setting("schedule"))
    rows = ck.setting_int("image_rows") if "image_rows" in ck.settings else 28
    cols = ck.setting_int("image_cols") if "image_cols" in ck.settings else 28
    gen = torch.Generator(device=device)
    gen.manual_seed(a.seed)
    print("[%s] drawing %d images of %d x %d with %s from the %s weights of %s (step %d) on %s"
          % (PROG, a.n, rows, cols, a.sampler if a.sampler == "ddpm" else "ddim-%d" % a.steps, a.weights, a.ckpt,
             ck.step, device), flush=True)
    t0 = time.time()
    chunks = [sample(net, sch, min(a.batch, a.n - s), rows, cols, gen, device, a.sampler, a.steps, not a.no_clip, a.sigma)
              for s in range(0, a.n, a.batch)]
    x = torch.cat(chunks)
    if not torch.isfinite(x).all():
        raise UserError("sampling produced non-finite values: the model's weights do not give finite predictions")
    write_images(a.out, x)
    print("[%s] %.1f s (%.2f images/s); wrote %s" % (PROG, time.time() - t0, a.n / (time.time() - t0), a.out))


# ---------------------------------------------------------------------------------------------
# eps: the noise predictions for given x_t and t (the check against ours)

def cmd_eps(a):
    ck = Checkpoint(a.ckpt)
    inputs, _ = read_safetensors(a.inputs)
    for k in ("x_t", "t"):
        if k not in inputs:
            raise UserError("%s: has no tensor '%s' (expects x_t (N, 1, H, W) and t (N) holding integers 1..1000)" % (a.inputs, k))
    x, tf = torch.from_numpy(inputs["x_t"]), inputs["t"]
    if x.dim() != 4 or x.shape[1] != 1 or tf.shape != (x.shape[0],):
        raise UserError("%s: x_t %s and t %s: expected (N, 1, H, W) and (N)" % (a.inputs, list(x.shape), list(tf.shape)))
    if not (np.all(tf == np.round(tf)) and tf.min() >= 1 and tf.max() <= 1000):
        raise UserError("%s: t must hold integers in 1..1000" % a.inputs)
    t = torch.from_numpy(tf.astype(np.int64))
    out = []
    weights = ["ema", "model"] if a.weights == "both" else [a.weights]
    for w in weights:
        if w == "ema" and a.weights == "both" and not ck.group("ema."):
            continue
        with torch.no_grad():
            out.append(("eps." + w, model_from(ck, w, torch.device("cpu"))(x, t)))
    write_safetensors(a.out, out, {"checkpoint": a.ckpt, "step": str(ck.step), "by": "examples/pytorch/ddpm_torch.py eps",
                                   "torch_version": torch.__version__})
    print("[%s] eps of %d inputs with the %s weights -> %s" % (PROG, x.shape[0], " and ".join(n[4:] for n, _ in out), a.out))


# ---------------------------------------------------------------------------------------------
# train: continue a run under DistributedDataParallel

def lr_at(settings, step, total):
    """The learning rate of update number `step` (1-indexed), as train_mnist's (nn/optim.cpp)."""
    base, warmup = settings["lr"], settings["warmup"]
    if warmup > 0 and step < warmup:
        return base * step / warmup                                     # linear warm-up
    if settings["lr_schedule"] == "constant" or total <= warmup:
        return base
    p = min(1.0, (step - max(warmup, 0)) / (total - max(warmup, 0)))
    f = 0.05                                                            # cosine decay to 5%
    return base * (f + (1 - f) * (1 + math.cos(math.pi * p)) / 2)


def exact_text(v):
    """A float as the shortest text that reads back to the same double (ours: exact_text)."""
    return repr(float(v))


def cmd_train(a):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    device = pick_device(a.device, local_rank)
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        backend = a.backend or ("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend)
    torch.set_num_threads(a.threads or max(1, (os.cpu_count() or 1) // local_world))
    say = (lambda *s: print("[%s]" % PROG, *s, flush=True)) if rank == 0 else (lambda *s: None)

    ck = Checkpoint(a.ckpt)
    images = read_idx_images(a.data)
    n, rows, cols = images.shape
    if rows % 4 or cols % 4:
        raise UserError("--data %s: images are %d x %d; the UNet needs sides that are multiples of 4" % (a.data, rows, cols))
    s = {k: ck.setting_float(k) for k in ("lr", "ema_decay", "grad_clip")}
    s.update({k: ck.setting_int(k) for k in ("steps", "batch", "warmup", "seed")})
    s["lr_schedule"], s["ema_warmup"], s["schedule"] = ck.setting("lr_schedule"), ck.setting("ema_warmup") == "on", ck.setting("schedule")
    for k in ("lr", "warmup", "lr_schedule", "batch"):                  # the flags that may override the run's
        if getattr(a, k) is not None:
            s[k] = getattr(a, k)
    B = s["batch"]                                                      # images per step, over all processes
    if B % world:
        raise UserError("--batch %d (images per step over all processes) is not a multiple of the %d processes" % (B, world))
    local_B = B // world
    if n < B:
        raise UserError("--data %s: %d images, fewer than one batch of %d" % (a.data, n, B))
    start = ck.step
    # The lr schedule's end, saved as the run's 'steps': the run's own, or later if this extends it.
    # train_mnist --resume on the result continues up to it.
    total = a.total_steps if a.total_steps is not None else max(s["steps"], start + a.steps)
    if total < start + a.steps:
        raise UserError("--total-steps %d: less than the checkpoint's step %d + --steps %d" % (total, start, a.steps))
    s["steps"] = total
    sch = Schedule(s["schedule"])

    net = build_unet(ck)
    load_group(net, ck, "model.")
    net.to(device)
    names = [name for name, _ in net.named_parameters()]
    params = [p for _, p in net.named_parameters()]
    ema_saved = ck.group("ema.")
    if ema_saved and set(ema_saved) != set(names):
        raise UserError("checkpoint %s: its ema.* tensors are not the model's parameters" % ck.path)
    if not ema_saved:
        say("note: %s holds no EMA weights; the EMA starts from the model's weights" % ck.path)
    ema = [torch.from_numpy(ema_saved[nm]).to(device) if ema_saved else p.detach().clone() for nm, p in zip(names, params)]
    opt = torch.optim.Adam(params, lr=s["lr"], betas=(0.9, 0.999), eps=1e-8)
    moments = ck.group("optim.adam.")
    if moments:   # Adam's state: optim.adam.m.<p>, optim.adam.v.<p>; its step count = the checkpoint's step
        for nm, p in zip(names, params):
            if "m." + nm not in moments or "v." + nm not in moments:
                raise UserError("checkpoint %s: has no optim.adam.m./v. tensors for '%s'" % (ck.path, nm))
            opt.state[p] = {"step": torch.tensor(float(start)),
                            "exp_avg": torch.from_numpy(moments["m." + nm]).to(device),
                            "exp_avg_sq": torch.from_numpy(moments["v." + nm]).to(device)}
    else:
        say("note: %s holds no Adam moments; Adam starts from zero moments at step %d" % (ck.path, start))
    model = DDP(net, device_ids=[device.index] if device.type == "cuda" else None) if distributed else net

    say("%s: step %d; %d more steps to %d (lr schedule '%s' ends at %d); %d processes x %d images = batch %d; "
        "%d training images of %d x %d from %s; torch %s on %s (%s)"
        % (ck.path, start, a.steps, start + a.steps, s["lr_schedule"], total, world, local_B, B, n, rows, cols, a.data,
           torch.__version__, device.type, dist.get_backend() if distributed else "one process"))
    gen = torch.Generator(device=device)                                 # t and eps: one stream per process
    gen.manual_seed(s["seed"] * 1_000_003 + 7919 * rank + start)
    per_epoch = n // B
    cached_epoch, order = -1, None
    sqrt_ab = torch.from_numpy(sch.sqrt_alpha_bar.astype(np.float32)).to(device)
    sqrt_1m_ab = torch.from_numpy(sch.sqrt_one_minus_alpha_bar.astype(np.float32)).to(device)
    t_start, step, losses = time.time(), start, []
    out_dir = os.path.dirname(os.path.abspath(a.out))
    if rank == 0:
        os.makedirs(out_dir, exist_ok=True)

    def save():
        # rng_offset: advanced by the blocks our trainer would have drawn in these steps (t: B
        # integers, eps: B H W normals, 4 per Philox block; core/rng.cpp, diffusion/loss.cpp
        # l_simple), so that train_mnist --resume draws fresh noise, not the noise of step `start`.
        blocks = (step - start) * ((B + 3) // 4 + (B * rows * cols + 3) // 4)
        meta = dict(ck.settings)   # the run's settings; those a flag changed are written as train_mnist would
        if a.lr is not None:
            meta["lr"] = exact_text(a.lr)
        meta.update({"steps": str(total), "batch": str(B), "warmup": str(s["warmup"]),
                     "lr_schedule": s["lr_schedule"], "train_images": str(n), "image_rows": str(rows),
                     "image_cols": str(cols), "train_crc32": "%08x" % (zlib.crc32(images.tobytes()) & 0xFFFFFFFF),
                     "continued_with": "examples/pytorch/ddpm_torch.py train, torch %s, %d processes, steps %d-%d"
                                       % (torch.__version__, world, start, step)})
        tensors = [("model." + nm, p) for nm, p in zip(names, params)]
        tensors += [("ema." + nm, e) for nm, e in zip(names, ema)]
        tensors += [("optim.adam.m." + nm, opt.state[p]["exp_avg"] if p in opt.state else torch.zeros_like(p))
                    for nm, p in zip(names, params)]
        tensors += [("optim.adam.v." + nm, opt.state[p]["exp_avg_sq"] if p in opt.state else torch.zeros_like(p))
                    for nm, p in zip(names, params)]
        tensors = [(nm, t.detach().to("cpu", torch.float32).contiguous().numpy()) for nm, t in tensors]
        for nm, t in tensors:   # as save_checkpoint: never write a NaN or Inf
            if not np.isfinite(t).all():
                raise UserError("tensor '%s' holds a non-finite value at step %d; refusing to write %s" % (nm, step, a.out))
        meta.update({CRC_PREFIX + nm: crc32_hex(t) for nm, t in tensors})
        meta.update({"format": CHECKPOINT_FORMAT, "format_version": str(CHECKPOINT_VERSION), "step": str(step),
                     "rng_seed": str(ck.rng_seed), "rng_offset": str(ck.rng_offset + blocks)})
        write_safetensors(a.out, tensors, meta)
        say("saved %s at step %d" % (a.out, step))

    while step < start + a.steps:
        epoch, pos = divmod(step, per_epoch)             # step s reads batch s % (n / B) of epoch s / (n / B)
        if epoch != cached_epoch:                        # the same permutation on every process
            order = torch.randperm(n, generator=torch.Generator().manual_seed(s["seed"] * 1_000_003 + 7919 * epoch + 17))
            cached_epoch = epoch
        idx = order[pos * B + rank * local_B: pos * B + (rank + 1) * local_B].numpy()
        x0 = torch.from_numpy(images[idx].astype(np.float32) / 127.5 - 1.0).unsqueeze(1).to(device)  # bytes -> [-1, 1]
        # Algorithm 1: t ~ U{1..T}, eps ~ N(0, I); Eq. 6: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
        t = torch.randint(1, sch.T + 1, (local_B,), generator=gen, device=device)
        eps = torch.randn(x0.shape, generator=gen, device=device)
        xt = sqrt_ab[t].view(-1, 1, 1, 1) * x0 + sqrt_1m_ab[t].view(-1, 1, 1, 1) * eps
        loss = F.mse_loss(model(xt, t), eps)             # Eq. 17; DDP averages the gradients over processes
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, s["grad_clip"]) if s["grad_clip"] > 0 else \
            torch.norm(torch.stack([p.grad.norm() for p in params]))
        if not torch.isfinite(norm):
            raise UserError("gradient norm is %s at step %d; stopped, %s not written" % (norm.item(), step + 1, a.out))
        lr = lr_at(s, step + 1, total)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        # EMA: shadow = d shadow + (1 - d) p, d = min(decay, (1 + t) / (10 + t)), t = updates before this one
        d = min(s["ema_decay"], (1.0 + step) / (10.0 + step)) if s["ema_warmup"] else s["ema_decay"]
        d = float(np.float32(d))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(d).add_(p.detach(), alpha=1.0 - d)
        step += 1
        losses.append(loss.detach())
        if step % a.log_every == 0 or step == start + a.steps:
            mean = torch.stack(losses).mean()
            if distributed:
                dist.all_reduce(mean)
                mean /= world
            elapsed = time.time() - t_start
            say("step %d  loss %.4f  lr %.3g  grad norm %.3f  %.1f images/s"
                % (step, mean.item(), lr, norm.item(), (step - start) * B / max(elapsed, 1e-9)))
            losses = []
        if rank == 0 and (step % a.ckpt_every == 0 or step == start + a.steps):
            save()
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    ps = sub.add_parser("sample", help="draw images from a checkpoint (DDPM, Algorithm 2, or DDIM)")
    ps.add_argument("--ckpt", required=True, help="a train_mnist checkpoint (.safetensors)")
    ps.add_argument("--weights", choices=["ema", "model"], default="ema", help="which weights (default: ema, as sample_mnist)")
    ps.add_argument("--ema", dest="weights", action="store_const", const="ema", help="the EMA weights (the default)")
    ps.add_argument("--n", type=int, default=64, help="number of images")
    ps.add_argument("--out", required=True, help="X.png (a grid), X.npy (floats in [-1, 1]) or an IDX3 file (any other name)")
    ps.add_argument("--sampler", choices=["ddpm", "ddim"], default="ddpm", help="DDPM (1000 steps) or DDIM (eta 0)")
    ps.add_argument("--steps", type=int, default=100, help="DDIM steps")
    ps.add_argument("--sigma", choices=["beta", "beta_tilde"], default="beta", help="DDPM's sigma_t^2 (Eq. 14)")
    ps.add_argument("--no-clip", action="store_true", help="do not clip the predicted x_0 to [-1, 1]")
    ps.add_argument("--seed", type=int, default=0)
    ps.add_argument("--batch", type=int, default=64, help="images sampled at once")
    ps.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")

    pt = sub.add_parser("train", help="continue training a checkpoint (run it under torchrun for several processes)")
    pt.add_argument("--ckpt", required=True, help="the checkpoint to continue")
    pt.add_argument("--data", required=True, help="folder with train-images-idx3-ubyte[.gz]")
    pt.add_argument("--steps", type=int, required=True, help="optimizer steps to take (more, from the checkpoint's step)")
    pt.add_argument("--out", required=True, help="the checkpoint to write (our format)")
    pt.add_argument("--total-steps", dest="total_steps", type=int,
                    help="where the lr schedule ends, saved as the run's 'steps' (default: the checkpoint's, or step + --steps if more)")
    pt.add_argument("--batch", type=int, help="images per step over all processes (default: the checkpoint's)")
    pt.add_argument("--lr", type=float, help="peak learning rate (default: the checkpoint's)")
    pt.add_argument("--warmup", type=int, help="warm-up steps of the lr schedule (default: the checkpoint's)")
    pt.add_argument("--lr-schedule", dest="lr_schedule", choices=["cosine", "constant"], help="default: the checkpoint's")
    pt.add_argument("--ckpt-every", dest="ckpt_every", type=int, default=1000, help="checkpoint interval in steps")
    pt.add_argument("--log-every", dest="log_every", type=int, default=50, help="progress line interval in steps")
    pt.add_argument("--threads", type=int, default=0, help="torch threads per process (0: cores / processes)")
    pt.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: one GPU per process if any")
    pt.add_argument("--backend", choices=["gloo", "nccl"], help="default: nccl on GPUs, gloo on the CPU")

    pe = sub.add_parser("eps", help="noise predictions eps_theta(x_t, t) for given inputs (the check against ours)")
    pe.add_argument("--ckpt", required=True)
    pe.add_argument("--inputs", required=True, help="safetensors with x_t (N, 1, H, W) and t (N), t integers as floats")
    pe.add_argument("--out", required=True, help="safetensors with eps.ema and eps.model (N, 1, H, W)")
    pe.add_argument("--weights", choices=["both", "ema", "model"], default="both")

    a = p.parse_args()
    for k in ("n", "steps", "batch", "ckpt_every", "log_every"):
        if getattr(a, k, 1) is not None and getattr(a, k, 1) < 1:
            p.error("--%s %d: must be >= 1" % (k.replace("_", "-"), getattr(a, k)))
    try:
        {"sample": cmd_sample, "train": cmd_train, "eps": cmd_eps}[a.cmd](a)
    except UserError as e:
        print("%s %s: %s" % (PROG, a.cmd, e), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
