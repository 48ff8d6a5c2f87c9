"""The lineage of one image's predictions: prediction -> inference run -> model version ->
training cohort -> the source partitions the run read."""

from __future__ import annotations

import json

from ..config import Settings
from ..engine import literals as lit
from ..engine.connection import Result, Session
from ..errors import NoPredictions


def lineage(session: Session, settings: Settings, sop_instance_uid: str) -> Result:
    db = settings.database
    return session.execute(f"""
SELECT p.sop_instance_uid, p.model_name, p.model_version, p.status, p.predicted_label, p.probability,
       p.predicted_at, p.run_id, r.model_sha256, mv.sha256 AS registry_sha256, mv.parent_version,
       mv.training_cohort, mv.training_run, r.input_table AS run_cohort, r.partitions_read,
       r.provider, r.started_at AS run_started_at,
       concat('study_year=', CAST(m.study_year AS STRING), '/study_month=', CAST(m.study_month AS STRING),
              '/modality=', m.modality) AS image_partition
FROM {db}.predictions p
LEFT JOIN {db}.inference_runs r ON r.run_id = p.run_id
LEFT JOIN {db}.model_versions mv ON mv.name = p.model_name AND mv.version = p.model_version
LEFT JOIN {db}.dicom_metadata m ON m.sop_instance_uid = p.sop_instance_uid
WHERE p.sop_instance_uid = {lit.string(sop_instance_uid)}
ORDER BY p.model_name, p.model_version, p.predicted_at""")


def checked_lineage(session: Session, settings: Settings, sop_instance_uid: str) -> list[dict]:
    """The rows of `lineage()`, each with `checksum_matches` (the model file the run used is the
    registered one) and `partitions` (the source partitions the run read, as a list)."""
    rows = lineage(session, settings, sop_instance_uid).dicts()
    if not rows:
        raise NoPredictions(f"no predictions for image {sop_instance_uid}: check the SOP Instance UID, "
                            f"or score a cohort that holds it with `mi-warehouse infer`")
    for r in rows:
        r["checksum_matches"] = r["model_sha256"] == r["registry_sha256"]
        r["partitions"] = json.loads(r["partitions_read"] or "[]")
    return rows
