"""Train the demo *shortcut* CNN: the same network as ``train``, on data with a shortcut in it.

    python -m mi_warehouse.models.demo.train_shortcut [--site SAM] [--finding-contrast 0.3] ...

writes ``chest_finding_shortcut_v1.onnx`` and ``card_shortcut.yaml``. The corpus comes from
``synth.generate(..., shortcut=Shortcut(site))``: the marker site burns its code into every
positive chest radiograph and has a prevalence of 0.9 against 0.1 elsewhere, and the finding is
fainter than usual (``--finding-contrast``). A network that reads the marker scores well on
images like these when they are pooled, and badly within each site: the card records both
(``metrics.held_out`` and ``metrics.held_out_by_site``), and the warehouse's
``eval_within_site_auc`` / ``eval_site_shortcut`` models show it on scored data. The network,
its training loop, export and checks are ``train``'s (global average pooling, so class
activation maps apply). Needs the ``train`` extra (torch); it exists to be a bad model.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom

from mi_warehouse.models.card import ModelCard, load_card
from mi_warehouse.models.checks import inspect_model
from mi_warehouse.models.demo.dataset import load_chest_images, split_patients
from mi_warehouse.models.demo.train import (BASE_CARD, _split_text, arguments, export_onnx, train,
                                            verify_and_score, write_card)
from mi_warehouse.models.metrics import binary_metrics, roc_auc

MODEL_FILE = "chest_finding_shortcut_v1.onnx"
CARD_FILE = "card_shortcut.yaml"
SHORTCUT_CARD = {
    **BASE_CARD,
    "name": "chest-finding-shortcut",
    "version": "1.0.0",
    "description": "Demo CNN trained, on purpose, on synthetic chest radiographs where one site "
                   "burns a marker into its positive images and has a much higher prevalence: it "
                   "learns the marker. For showing shortcut learning; not for clinical use.",
}


def image_sites(corpus: Path, sops: np.ndarray) -> np.ndarray:
    """InstitutionName of each SOPInstanceUID of a synth corpus (headers only)."""
    by_sop = {}
    for path in corpus.glob("*/*/*/*.dcm"):
        if path.stem in by_sop:
            continue
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["InstitutionName"])
        by_sop[path.stem] = str(ds.get("InstitutionName", ""))
    return np.array([by_sop[s] for s in sops])


def by_site(y: np.ndarray, p: np.ndarray, sites: np.ndarray) -> dict:
    """Per site: images, positives, prevalence, mean score, AUC (None with one class only);
    and the unweighted mean of the site AUCs."""
    out, aucs = {}, []
    for site in sorted(set(sites.tolist())):
        sel = sites == site
        auc = roc_auc(y[sel], p[sel])
        out[site] = {"n": int(sel.sum()), "positives": int(y[sel].sum()),
                     "prevalence": round(float(y[sel].mean()), 4),
                     "mean_score": round(float(p[sel].mean()), 4),
                     "auc": None if auc is None else round(auc, 4)}
        if auc is not None:
            aucs.append(auc)
    return {"sites": out, "mean_within_site_auc": round(float(np.mean(aucs)), 4) if aucs else None}


def main(argv=None) -> None:
    """Command line entry point (see the module docstring)."""
    import torch

    from mi_warehouse.synth import Shortcut, generate

    ap = arguments(__doc__, corpus_seed=20250202, epochs=30)
    ap.add_argument("--site", default="SAM")
    ap.add_argument("--marker", default="text", choices=["text", "box"])
    ap.add_argument("--finding-contrast", type=float, default=0.3)
    ap.add_argument("--site-rate", type=float, default=0.9)
    ap.add_argument("--other-rate", type=float, default=0.1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    np.random.seed(args.seed)
    base = ModelCard.from_dict(SHORTCUT_CARD, "SHORTCUT_CARD")
    shortcut = Shortcut(args.site, args.marker, site_rate=args.site_rate, other_rate=args.other_rate,
                        finding_contrast=args.finding_contrast)
    with tempfile.TemporaryDirectory(prefix="miw_shortcut_corpus_") as tmp:
        generate(Path(tmp), args.patients, seed=args.corpus_seed, image_size=base.input.height,
                 shortcut=shortcut)
        data = load_chest_images(Path(tmp), base)
        sites = image_sites(Path(tmp), data.sops)
    splits = split_patients(data.patients, args.seed)
    print(_split_text(data, splits))
    t0 = time.monotonic()
    # kept at the lowest validation loss: the AUC of a shortcut plateaus from the first epochs
    net, best_epoch = train(data, splits, args.epochs, args.seed, select="loss")
    seconds = time.monotonic() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path, card_path = args.out / MODEL_FILE, args.out / CARD_FILE
    export_onnx(net, base, onnx_path)
    metrics = {}
    for split in ("test", "val"):
        sel = splits[split]
        probs = verify_and_score(net, base, onnx_path, data.x[sel])[:, base.positive_index]
        key = "held_out" if split == "test" else "validation"
        metrics[key] = {"split": split, "scored_by": "onnxruntime CPU",
                        **binary_metrics(data.y[sel], probs, base.decision_threshold)}
        metrics[f"{key}_by_site"] = by_site(data.y[sel], probs, sites[sel])
    card = dataclasses.replace(base, metrics=metrics, training=dataclasses.replace(
        base.training,
        cohort=f"synthetic chest CR/DX radiographs from mi_warehouse.synth.generate("
               f"patients={args.patients}, seed={args.corpus_seed}, image_size={base.input.height}, "
               f"shortcut=Shortcut({args.site!r}, {args.marker!r}, site_rate={shortcut.site_rate}, "
               f"other_rate={shortcut.other_rate}, finding_contrast={args.finding_contrast})): "
               f"site {args.site} burns its code into every positive image",
        run=f"python -m mi_warehouse.models.demo.train_shortcut --patients {args.patients} "
            f"--corpus-seed {args.corpus_seed} --site {args.site} --marker {args.marker} "
            f"--finding-contrast {args.finding_contrast} --site-rate {args.site_rate} "
            f"--other-rate {args.other_rate} --seed {args.seed} --epochs {args.epochs}; "
            f"torch {torch.__version__}, CPU x{args.threads}, {seconds:.0f} s; the loop of "
            f"mi_warehouse.models.demo.train; kept epoch {best_epoch} (lowest val loss)",
        data=_split_text(data, splits)))
    write_card(card, card_path)
    info = inspect_model(onnx_path, load_card(card_path))
    print(f"wrote {onnx_path} ({info.size_bytes} bytes, IR {info.ir_version}, opset {info.opset}, "
          f"sha256 {info.sha256[:12]}) and {card_path}")
    print("held out:", metrics["held_out"])
    print("held out by site:", metrics["held_out_by_site"])


if __name__ == "__main__":
    main()
