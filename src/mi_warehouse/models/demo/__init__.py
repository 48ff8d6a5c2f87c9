"""The demo chest-finding CNN shipped with the package: an ONNX file and its model card.

``DEMO_MODEL`` and ``DEMO_CARD`` are paths inside the installed package; both files are
package data.  ``python -m mi_warehouse.models.demo.train`` (needs torch) rebuilds them.
"""

from pathlib import Path

__all__ = ["DEMO_DIR", "DEMO_MODEL", "DEMO_CARD"]

DEMO_DIR = Path(__file__).resolve().parent
DEMO_MODEL = DEMO_DIR / "chest_finding_v1.onnx"
DEMO_CARD = DEMO_DIR / "card.yaml"
