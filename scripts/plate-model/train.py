#!/usr/bin/python3
"""Trains the plate-ctc recognizer (a small convolutional CTC model) on plates drawn by generate.py, and exports it.

  python3 scripts/plate-model/train.py --out runs/plate-ctc --minutes 68 --threads 1
      trains until 68 minutes of training have been spent in that folder (all runs together): rerun the same
      command after a stop and it resumes from the last checkpoint (written every --checkpoint-minutes)
  python3 scripts/plate-model/train.py --out runs/plate-ctc --export
      writes models/plate-ctc.onnx and models/plate-ctc.json from the last checkpoint

Data are generated on the fly: batch b holds samples b*batch .. b*batch+batch-1 of generate.Generator(seed), so a
resumed run sees the same samples as an unbroken one. The held-out accuracy is measured on samples of another seed
(exact match of the whole label, greedy decoding). CPU only; a GPU is used with --device cuda but never needed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import ALPHABET, Generator  # noqa: E402

BLANK = 0  # class 0 is the CTC blank; class k (1..36) is ALPHABET[k-1]


def block(i: int, o: int) -> list[nn.Module]:
    return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]


class PlateCtc(nn.Module):
    """Grey 1 x 32 x 128 -> T=32 steps x 37 classes (blank + 0-9A-Z), softmax probabilities when exported."""

    def __init__(self, height: int = 32, classes: int = len(ALPHABET) + 1):
        super().__init__()
        self.features = nn.Sequential(
            *block(1, 16), nn.MaxPool2d(2),          # 16 x 64
            *block(16, 32), nn.MaxPool2d(2),         # 8 x 32
            *block(32, 64), *block(64, 64), nn.MaxPool2d((2, 1)),  # 4 x 32
            *block(64, 96), nn.MaxPool2d((2, 1)),    # 2 x 32
            *block(96, 128),
        )
        fh = height // 16
        self.seq = nn.Sequential(
            nn.Conv1d(128 * fh, 160, 3, padding=1, bias=False), nn.BatchNorm1d(160), nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Conv1d(160, 160, 3, padding=1, bias=False), nn.BatchNorm1d(160), nn.ReLU(inplace=True),
            nn.Conv1d(160, classes, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits [N, C, T]
        f = self.features(x)
        n, c, h, w = f.shape
        return self.seq(f.reshape(n, c * h, w))


class Exported(nn.Module):
    """What the ONNX file computes: probabilities [N, T, C]."""

    def __init__(self, m: PlateCtc):
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.m(x), dim=1).permute(0, 2, 1)


def normalise(batch: np.ndarray) -> torch.Tensor:
    return torch.from_numpy((batch.astype(np.float32) / 255.0 - 0.5) / 0.5).unsqueeze(1)


def make_batch(gen: Generator, start: int, n: int):
    imgs, labels = [], []
    for i in range(start, start + n):
        img, label = gen.sample(i)
        imgs.append(img)
        labels.append(label)
    return np.stack(imgs), labels


def greedy(logits: torch.Tensor) -> list[str]:
    out = []
    for seq in logits.argmax(1).tolist():
        s, prev = [], BLANK
        for k in seq:
            if k != BLANK and k != prev:
                s.append(ALPHABET[k - 1])
            prev = k
        out.append("".join(s))
    return out


def evaluate(model: PlateCtc, data) -> float:
    model.eval()
    imgs, labels = data
    right = 0
    with torch.no_grad():
        for i in range(0, len(labels), 256):
            pred = greedy(model(normalise(imgs[i: i + 256])))
            right += sum(p == t for p, t in zip(pred, labels[i: i + 256]))
    model.train()
    return right / len(labels)


def lr_at(frac: float, base: float) -> float:
    if frac < 0.03:
        return base * (0.1 + 0.9 * frac / 0.03)
    return base * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * min(1.0, (frac - 0.03) / 0.97))))


def save(path: str, state: dict) -> None:
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def export(args, model: PlateCtc, state: dict) -> None:
    model.eval()
    onnx_path = args.export_path
    os.makedirs(os.path.dirname(onnx_path) or ".", exist_ok=True)
    dummy = torch.zeros(1, 1, args.h, args.w)
    torch.onnx.export(Exported(model), dummy, onnx_path, opset_version=13, input_names=["input"],
                      output_names=["probs"], dynamic_axes={"input": {0: "n"}, "probs": {0: "n"}},
                      do_constant_folding=True)
    with torch.no_grad():
        steps = Exported(model)(dummy).shape[1]
    meta = {
        "model": os.path.basename(onnx_path),
        "alphabet": ALPHABET,
        "blank": BLANK,
        "classes": len(ALPHABET) + 1,
        "input": {"channels": 1, "height": args.h, "width": args.w, "colour": "grey",
                  "resize": "stretched to width x height (no aspect kept)",
                  "normalise": "v / 255 * 2 - 1 (0..255 grey to -1..1)"},
        "output": {"name": "probs", "shape": ["n", steps, len(ALPHABET) + 1], "kind": "softmax probabilities"},
        "steps_trained": state["step"],
        "samples_trained": state["step"] * state["batch"],
        "training_minutes": round(state["elapsed"] / 60, 1),
        "seed": state["seed"],
        "machine": state.get("machine", ""),
        "torch": torch.__version__,
        "synthetic_accuracy": state.get("heldout"),
        "synthetic_heldout": f"{state.get('heldout_count')} samples of generate.py seed {state['seed'] + 1000}, "
                             "exact match, greedy decoding",
        "onnx_bytes": os.path.getsize(onnx_path),
        "licence": "AGPL-3.0-or-later (alpr-edge); trained only on images drawn by scripts/plate-model/generate.py",
    }
    json_path = os.path.splitext(onnx_path)[0] + ".json"
    with open(json_path, "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"exported {onnx_path} ({meta['onnx_bytes']} bytes) and {json_path}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/plate-ctc", help="checkpoint folder (resumed from when it has one)")
    ap.add_argument("--minutes", type=float, default=68, help="total training time in this folder, all runs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--size", default="128x32", help="model input WxH")
    ap.add_argument("--checkpoint-minutes", type=float, default=5)
    ap.add_argument("--heldout", type=int, default=500, help="held-out synthetic samples")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--export", action="store_true", help="export the last checkpoint to ONNX and stop")
    ap.add_argument("--export-path", default="models/plate-ctc.onnx")
    args = ap.parse_args()
    args.w, args.h = (int(v) for v in args.size.lower().split("x"))

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    import cv2
    cv2.setNumThreads(1)
    torch.manual_seed(args.seed)

    os.makedirs(args.out, exist_ok=True)
    ckpt = os.path.join(args.out, "last.pt")
    model = PlateCtc(args.h)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    state = {"step": 0, "elapsed": 0.0, "seed": args.seed, "batch": args.batch, "heldout": None,
             "machine": f"{platform.machine()} {os.cpu_count()} cores, "
                        f"{args.threads} training thread(s), {args.device}".strip()}
    if os.path.exists(ckpt):
        saved = torch.load(ckpt, map_location="cpu")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        state.update(saved["state"])
        print(f"resumed from {ckpt}: step {state['step']}, {state['elapsed'] / 60:.1f} min trained", flush=True)
        if state["seed"] != args.seed or state["batch"] != args.batch:
            sys.exit(f"{ckpt} was trained with seed {state['seed']} batch {state['batch']}; "
                     f"rerun with the same --seed/--batch or use another --out")
    if args.export:
        if state["step"] == 0:
            sys.exit(f"no checkpoint in {args.out} to export")
        export(args, model, state)
        return

    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters; input 1x{args.h}x{args.w}; budget {args.minutes} min", flush=True)
    device = torch.device(args.device)
    model.to(device)
    for s in opt.state.values():
        for k, v in s.items():
            if isinstance(v, torch.Tensor):
                s[k] = v.to(device)
    gen = Generator(args.seed, args.w, args.h)
    t0 = time.time()
    held = make_batch(Generator(args.seed + 1000, args.w, args.h), 0, args.heldout)
    print(f"held-out set: {args.heldout} samples in {time.time() - t0:.1f} s", flush=True)

    ctc = nn.CTCLoss(blank=BLANK, zero_infinity=True)
    budget = args.minutes * 60
    last_ckpt = time.time()
    run_start = time.time() - state["elapsed"]
    loss_avg = None
    gen_time = 0.0
    model.train()

    def checkpoint() -> None:
        model.to("cpu")
        state["heldout"] = round(evaluate(model, held), 4)
        state["heldout_count"] = args.heldout
        model.to(device)
        save(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(), "state": state})
        print(f"checkpoint step {state['step']} at {state['elapsed'] / 60:.1f} min: held-out synthetic accuracy "
              f"{state['heldout'] * 100:.1f}%", flush=True)

    while state["elapsed"] < budget:
        g0 = time.time()
        imgs, labels = make_batch(gen, state["step"] * args.batch, args.batch)
        gen_time += time.time() - g0
        x = normalise(imgs).to(device)
        targets = torch.tensor([ALPHABET.index(c) + 1 for t in labels for c in t], dtype=torch.long)
        lengths = torch.tensor([len(t) for t in labels], dtype=torch.long)
        for group in opt.param_groups:
            group["lr"] = lr_at(state["elapsed"] / budget, args.lr)
        logits = model(x)  # N, C, T
        logp = logits.log_softmax(1).permute(2, 0, 1).cpu()  # T, N, C
        inp_len = torch.full((len(labels),), logp.shape[0], dtype=torch.long)
        loss = ctc(logp, targets, inp_len, lengths)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        state["step"] += 1
        state["elapsed"] = time.time() - run_start
        loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
        if state["step"] % 50 == 0:
            print(f"step {state['step']} {state['elapsed'] / 60:.1f} min loss {loss_avg:.3f} "
                  f"lr {opt.param_groups[0]['lr']:.2e} (data generation {gen_time / 60:.1f} min so far)",
                  flush=True)
        if time.time() - last_ckpt >= args.checkpoint_minutes * 60:
            checkpoint()
            last_ckpt = time.time()
            run_start = time.time() - state["elapsed"]  # evaluation time is not training time
    checkpoint()
    print("done", flush=True)


if __name__ == "__main__":
    main()
