"""Train the demo chest-finding CNN; write ``chest_finding_v1.onnx`` and ``card.yaml``.

    python -m mi_warehouse.models.demo.train [--patients 1000] [--seed 7] [--epochs 40] [--out DIR]

Needs the optional ``train`` extra (torch, CPU is enough); nothing else in the package
imports this module or torch.  Steps: generate a synthetic corpus (``synth``) in a
temporary directory; preprocess its chest CR/DX images exactly as the card says
(``training_prep``); split by patient 70/15/15; train a small residual CNN (bottleneck
blocks, global average pooling, a 64-wide embedding, softmax over normal/finding), keeping
the epoch with the best validation AUC; export to ONNX (opset 17, dynamic batch, IR set to
the minimum opset 17 needs so older onnxruntimes load it); check onnxruntime against torch
(max |diff| < 1e-5); score the test split with onnxruntime and write the card with those
held-out metrics.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import yaml

from mi_warehouse.models.card import ModelCard, load_card
from mi_warehouse.models.checks import inspect_model
from mi_warehouse.models.demo.dataset import ChestImages, load_chest_images, split_patients
from mi_warehouse.models.metrics import binary_metrics, roc_auc

HERE = Path(__file__).resolve().parent
OPSET = 17
TOLERANCE = 1e-5
BASE_CARD = {
    "name": "chest-finding-resnet",
    "version": "1.0.0",
    "description": "Demo residual CNN: is there a bright nodule-like finding on a chest "
                   "radiograph (CR/DX)? Trained on synthetic images only; not for clinical use.",
    "labels": ["normal", "finding"],
    "positive_label": "finding",
    "decision_threshold": 0.5,
    "input": {"name": "image", "layout": "NCHW", "channels": 1, "height": 64, "width": 64},
    "output": {"name": "probabilities", "kind": "softmax"},
    "embedding_output": "embedding",
    "preprocessing": {"scaling": "window", "window": {"center": None, "width": None},
                      "percentile": [1.0, 99.0], "normalisation": {"mean": 0.5, "std": 0.25},
                      "resize": "bilinear"},
}


def build_net(embedding: int = 64):
    """The CNN: stride-2 stem, three stride-2 bottleneck blocks, GAP, embedding, 2-way head.

    64x64 -> 32 (stem) -> 16 -> 8 -> 4 (blocks) -> 128 channels -> GAP -> 64 -> 2 logits.
    """
    from torch import nn

    class Bottleneck(nn.Module):
        """1x1 reduce -> 3x3 (stride) -> 1x1 expand, plus a projected skip connection."""

        def __init__(self, c_in: int, c_mid: int, c_out: int, stride: int):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(c_in, c_mid, 1, bias=False), nn.BatchNorm2d(c_mid), nn.ReLU(inplace=True),
                nn.Conv2d(c_mid, c_mid, 3, stride, 1, bias=False), nn.BatchNorm2d(c_mid),
                nn.ReLU(inplace=True),
                nn.Conv2d(c_mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
            self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                      nn.BatchNorm2d(c_out))
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            return self.relu(self.body(x) + self.skip(x))

    class ChestNet(nn.Module):
        """Returns (logits, embedding); :class:`Exported` turns logits into probabilities."""

        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                      nn.ReLU(inplace=True))
            self.blocks = nn.Sequential(Bottleneck(16, 8, 32, 2), Bottleneck(32, 16, 64, 2),
                                        Bottleneck(64, 32, 128, 2))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.embed = nn.Sequential(nn.Flatten(), nn.Linear(128, embedding), nn.ReLU(inplace=True))
            self.head = nn.Linear(embedding, 2)

        def forward(self, x):
            e = self.embed(self.pool(self.blocks(self.stem(x))))
            return self.head(e), e

    return ChestNet()


def exported(net):
    """Wrap ``net`` so that it returns (softmax probabilities, embedding)."""
    import torch

    class Exported(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, image):
            logits, embedding = self.inner(image)
            return torch.softmax(logits, dim=1), embedding

    return Exported(net).eval()


def _augment(torch, x):
    """Random left-right flips and shifts of up to 2 pixels (the finding is anywhere in a lung)."""
    flip = torch.rand(x.shape[0]) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    dy, dx = (int(v) for v in torch.randint(-2, 3, (2,)))
    return torch.roll(x, (dy, dx), dims=(2, 3))


def _validate(torch, net, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(AUC, mean cross-entropy) of ``net`` on a held-out split."""
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(x))[0]
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)).item()
        return roc_auc(y, torch.softmax(logits, dim=1)[:, 1].numpy()), loss


def train(data: ChestImages, splits: dict, epochs: int, seed: int, log=print, select: str = "auc"):
    """Fit the CNN on the train split; returns the net at its best validation AUC (ties: lowest
    validation loss), or with ``select="loss"`` at its lowest validation loss, and that epoch."""
    import torch

    torch.manual_seed(seed)
    net = build_net()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    xt = torch.from_numpy(data.x[splits["train"]])
    yt = torch.from_numpy(data.y[splits["train"]])
    steps = epochs * ((len(xt) + 63) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loss_fn = torch.nn.CrossEntropyLoss()
    best = ((-float("inf"), 0.0), 0, None)
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(xt))
        total = 0.0
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            logits, _ = net(_augment(torch, xt[idx]))
            loss = loss_fn(logits, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        val_auc, val_loss = _validate(torch, net, data.x[splits["val"]], data.y[splits["val"]])
        log(f"epoch {epoch:2d}  loss {total / len(xt):.4f}  val loss {val_loss:.4f}  "
            f"val AUC {val_auc:.4f}")
        score = (val_auc, -val_loss) if select == "auc" else (-val_loss, val_auc)
        if score > best[0]:
            best = (score, epoch, {k: v.clone() for k, v in net.state_dict().items()})
    net.load_state_dict(best[2])
    return net.eval(), best[1]


def export_onnx(net, card: ModelCard, path: Path) -> None:
    """Export with a dynamic batch axis, then stamp the lowest IR version opset 17 needs."""
    import onnx
    import torch

    spec = card.input
    dummy = torch.zeros(1, spec.channels, spec.height, spec.width)
    names = [card.output.name, card.embedding_output]
    warnings.filterwarnings("ignore", "You are using the legacy TorchScript", DeprecationWarning)
    torch.onnx.export(exported(net), (dummy,), str(path), input_names=[spec.name],
                      output_names=names, opset_version=OPSET, dynamo=False,
                      dynamic_axes={n: {0: "batch"} for n in [spec.name, *names]})
    model = onnx.load(str(path))
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    model.producer_name, model.producer_version = "mi_warehouse.models.demo.train", torch.__version__
    model.doc_string = f"{card.name} {card.version}: {card.description}"
    for node in model.graph.node:
        node.doc_string = ""
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def verify_and_score(net, card: ModelCard, path: Path, x: np.ndarray) -> np.ndarray:
    """Run ``x`` through onnxruntime (CPU) and torch; fail beyond 1e-5; return ORT probabilities."""
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [card.output.name, card.embedding_output]
    got = sess.run(names, {card.input.name: x})
    with torch.no_grad():
        want = [t.numpy() for t in exported(net)(torch.from_numpy(x))]
    for name, g, w in zip(names, got, want):
        diff = float(np.max(np.abs(g - w)))
        if not diff < TOLERANCE:
            raise SystemExit(f"onnxruntime and torch differ on {name!r} by {diff:g}")
    one = sess.run(names, {card.input.name: x[:1]})[0]
    if not np.allclose(one, got[0][:1], atol=TOLERANCE):
        raise SystemExit("batch of one differs from the batched run")
    return got[0]


def _split_text(data: ChestImages, splits: dict) -> str:
    parts = []
    for name, mask in splits.items():
        parts.append(f"{name} {int(mask.sum())} images / {len(np.unique(data.patients[mask]))} "
                     f"patients ({int(data.y[mask].sum())} finding)")
    return "patient-level split 70/15/15: " + "; ".join(parts)


def write_card(card: ModelCard, path: Path) -> None:
    """Write the card as YAML with a short header; re-read it to validate."""
    header = ("# Model card of the demo CNN, written by mi_warehouse.models.demo.train.\n"
              "# metrics.held_out: the test split, scored by onnxruntime from the ONNX file.\n")
    path.write_text(header + yaml.safe_dump(card.to_dict(), sort_keys=False, allow_unicode=True,
                                            width=100), encoding="utf-8")
    load_card(path)


def arguments(doc: str, corpus_seed: int, epochs: int) -> argparse.ArgumentParser:
    """The options every demo training script takes (corpus size and seed, seed, epochs, threads, out)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--corpus-seed", type=int, default=corpus_seed)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE)
    return ap


def main(argv=None) -> None:
    """Command line entry point (see the module docstring)."""
    import torch

    args = arguments(__doc__, corpus_seed=20250101, epochs=40).parse_args(argv)
    torch.set_num_threads(args.threads)
    np.random.seed(args.seed)
    base = ModelCard.from_dict(BASE_CARD, "BASE_CARD")
    with tempfile.TemporaryDirectory(prefix="miw_demo_corpus_") as tmp:
        from mi_warehouse.synth import generate

        generate(Path(tmp), args.patients, seed=args.corpus_seed, image_size=base.input.height)
        data = load_chest_images(Path(tmp), base)
    splits = split_patients(data.patients, args.seed)
    print(_split_text(data, splits))
    t0 = time.monotonic()
    net, best_epoch = train(data, splits, args.epochs, args.seed)
    seconds = time.monotonic() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path, card_path = args.out / "chest_finding_v1.onnx", args.out / "card.yaml"
    export_onnx(net, base, onnx_path)
    metrics = {}
    for split in ("test", "val"):
        probs = verify_and_score(net, base, onnx_path, data.x[splits[split]])
        metrics["held_out" if split == "test" else "validation"] = {
            "split": split, "scored_by": "onnxruntime CPU",
            **binary_metrics(data.y[splits[split]], probs[:, base.positive_index],
                             base.decision_threshold)}
    card = dataclasses.replace(base, metrics=metrics, training=dataclasses.replace(
        base.training,
        cohort=f"synthetic chest CR/DX radiographs from mi_warehouse.synth.generate("
               f"patients={args.patients}, seed={args.corpus_seed}, image_size={base.input.height})"
               f"; ~35% carry a finding",
        run=f"python -m mi_warehouse.models.demo.train --patients {args.patients} "
            f"--corpus-seed {args.corpus_seed} --seed {args.seed} --epochs {args.epochs}; "
            f"torch {torch.__version__}, CPU x{args.threads}, {seconds:.0f} s; AdamW one-cycle "
            f"lr 3e-3, batch 64, flips+shifts; kept epoch {best_epoch} (best val AUC, then val loss)",
        data=_split_text(data, splits)))
    write_card(card, card_path)
    info = inspect_model(onnx_path, load_card(card_path))
    print(f"wrote {onnx_path} ({info.size_bytes} bytes, IR {info.ir_version}, opset {info.opset}, "
          f"sha256 {info.sha256[:12]}) and {card_path}")
    print("held out:", metrics["held_out"])


if __name__ == "__main__":
    main()
