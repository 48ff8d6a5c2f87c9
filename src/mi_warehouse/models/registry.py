"""The model registry: ONNX files in the model store, one immutable row per version in Hive.

`register()` checks the model against its card, copies file and card (as JSON) to
`<model_store>/<name>/<version>/`, and appends a row to `<db>.model_versions`. A name and version
is registered once: the same file again is a no-op, another file is refused.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..engine import literals as lit
from ..engine.connection import Session
from ..errors import MiWarehouseError
from ..runtime import rows as table_rows
from ..runtime.storage import filesystem, join
from ..runtime.tables import MODEL_VERSIONS
from .card import ModelCard, load_card
from .checks import inspect_model

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class VersionConflict(MiWarehouseError):
    """The name and version are registered with another checksum: versions are immutable."""


class ModelNotFound(MiWarehouseError):
    """No such model version in the registry."""


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    sha256: str
    uri: str
    opset: int
    input_shape: list
    preprocessing: str
    labels: list
    decision_threshold: float
    training_cohort: str
    training_run: str
    card: str
    registered_by: str
    registered_at: object
    parent_version: str | None

    @property
    def card_uri(self) -> str:
        return self.uri.rsplit("/", 1)[0] + "/card.json"

    def model_card(self) -> ModelCard:
        return ModelCard.from_json(self.card, f"{self.name}:{self.version}")


COLUMNS = MODEL_VERSIONS.names  # ModelVersion's fields, in the table's order (a test checks)


def _from_row(row) -> ModelVersion:
    """HiveServer2 sends ARRAY columns as JSON text."""
    d = dict(zip(COLUMNS, row))
    for key in ("input_shape", "labels"):
        if isinstance(d[key], str):
            d[key] = json.loads(d[key])
    return ModelVersion(**d)


def parse_ref(ref: str) -> tuple[str, str]:
    """'name:version' -> (name, version)."""
    name, sep, version = ref.partition(":")
    if not sep or not _NAME.match(name) or not _NAME.match(version):
        raise ModelNotFound(f"model reference {ref!r} must be NAME:VERSION")
    return name, version


def get(session: Session, settings: Settings, name: str, version: str) -> ModelVersion | None:
    rows = session.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {settings.database}.model_versions "
        f"WHERE name = {lit.string(name)} AND version = {lit.string(version)} ORDER BY registered_at"
    ).rows
    return _from_row(rows[0]) if rows else None


def require(session: Session, settings: Settings, ref: str) -> ModelVersion:
    name, version = parse_ref(ref)
    mv = get(session, settings, name, version)
    if mv is None:
        raise ModelNotFound(f"model {ref} is not registered: `mi-warehouse model register FILE.onnx "
                            f"--name {name} --version {version} --card CARD.yaml`")
    return mv


def list_versions(session: Session, settings: Settings) -> list[ModelVersion]:
    rows = session.execute(f"SELECT {', '.join(COLUMNS)} FROM {settings.database}.model_versions "
                           f"ORDER BY name, registered_at").rows
    return [_from_row(r) for r in rows]


def register(session: Session, settings: Settings, file: Path, name: str, version: str,
             card_path: Path | None = None, parent_version: str | None = None) -> tuple[ModelVersion, bool]:
    """Register a model version; returns (version, registered_now)."""
    if not _NAME.match(name) or not _NAME.match(version):
        raise MiWarehouseError(f"model name and version must be letters, digits, '.', '_' or '-': "
                               f"{name!r} {version!r}")
    card = load_card(card_path) if card_path else None
    if card is None:
        raise MiWarehouseError(f"{file}: a model card is required (--card CARD.yaml)")
    if (card.name, card.version) != (name, version):
        raise MiWarehouseError(f"{card_path}: the card describes {card.name}:{card.version}, not {name}:{version}")
    info = inspect_model(file, card)
    existing = get(session, settings, name, version)
    if existing is not None:
        if existing.sha256 != info.sha256:
            raise VersionConflict(
                f"{name}:{version} is registered with sha256 {existing.sha256[:16]}..., {file} has "
                f"{info.sha256[:16]}...: versions are immutable, register it under a new version")
        return existing, False

    fs, base = filesystem(settings.model_store)
    folder = join(base, name, version)
    fs.create_dir(folder, recursive=True)
    target = join(folder, "model.onnx")
    with open(file, "rb") as src, fs.open_output_stream(target) as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    card_json = card.to_json()
    with fs.open_output_stream(join(folder, "card.json")) as dst:
        dst.write(card_json.encode("utf-8"))
    uri = join(settings.model_store, name, version, "model.onnx")
    pre = json.dumps(card.to_dict()["preprocessing"], sort_keys=True)
    shape = [d if isinstance(d, int) else -1 for d in info.input_shape]
    table_rows.insert(session, settings, MODEL_VERSIONS, [{
        "name": name, "version": version, "sha256": info.sha256, "uri": uri, "opset": info.opset,
        "input_shape": shape, "preprocessing": pre, "labels": list(card.labels),
        "decision_threshold": card.decision_threshold, "training_cohort": card.training.cohort or None,
        "training_run": card.training.run or None, "card": card_json,
        "registered_by": f"{getpass.getuser()}@{socket.gethostname()}", "registered_at": dt.datetime.now(),
        "parent_version": parent_version or card.training.parent_version,
    }])
    return require(session, settings, f"{name}:{version}"), True
