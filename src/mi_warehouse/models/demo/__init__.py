"""The demo chest-finding CNN shipped with the package: an ONNX file and its model card.

``DEMO_MODEL`` and ``DEMO_CARD`` are paths inside the installed package; both files are
package data.  ``python -m mi_warehouse.models.demo.train`` (needs torch) rebuilds them.
``SHORTCUT_MODEL`` and ``SHORTCUT_CARD``: the same network trained on purpose on data where one
site marks its positives (``train_shortcut``); it reads the marker, for showing shortcut learning.
"""

from pathlib import Path

__all__ = ["DEMO_DIR", "DEMO_MODEL", "DEMO_CARD", "SHORTCUT_MODEL", "SHORTCUT_CARD"]

DEMO_DIR = Path(__file__).resolve().parent
DEMO_MODEL = DEMO_DIR / "chest_finding_v1.onnx"
DEMO_CARD = DEMO_DIR / "card.yaml"
SHORTCUT_MODEL = DEMO_DIR / "chest_finding_shortcut_v1.onnx"
SHORTCUT_CARD = DEMO_DIR / "card_shortcut.yaml"
