"""OpenLineage run events for `load`, `infer` and `run`, where configured.

Set `[lineage] openlineage_url` (MIW_OPENLINEAGE_URL, an HTTP endpoint such as Marquez's) or
`[lineage] openlineage_file` (MIW_OPENLINEAGE_FILE, one JSON event per line). Each command then
emits START, and COMPLETE or FAIL, with its inputs and outputs as datasets named after the Hive
tables (`<db>.<table>`, namespace `hive://HOST:PORT`; load sources keep their own URI), so a
lineage server shows the same chain as `mi-warehouse lineage`. The OpenLineage run id is a UUID
derived from mi-warehouse's own run id (uuid5), so the two can be matched.

Lineage is a report about the work, not part of it: an endpoint that is down or a file that
cannot be written never fails `load`, `infer` or `run`. Each failed emission becomes a one-line
warning on the run (`EmittedRun.warnings`), which the command prints and records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from typing import Iterator

from .. import __version__
from ..config import Settings
from ..errors import ConfigError

PRODUCER = f"https://github.com/mi-warehouse/mi-warehouse/tree/{__version__}"
JOB_NAMESPACE = "mi-warehouse"


class Emitter:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.dataset_namespace = f"hive://{settings.host}:{settings.port}"
        self._client = _client(settings)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def _dataset(self, name: str | tuple[str, str]) -> tuple[str, str]:
        return name if isinstance(name, tuple) else (self.dataset_namespace, name)

    def _event(self, state: str, job: str, run_id: str, inputs: list, outputs: list,
               error: str | None = None):
        from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import error_message_run

        facets = {}
        if error:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="python")
        return RunEvent(
            eventType=getattr(RunState, state),
            eventTime=dt.datetime.now(dt.timezone.utc).isoformat(),
            run=Run(runId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"mi-warehouse:{run_id}")), facets=facets),
            job=Job(namespace=JOB_NAMESPACE, name=job),
            producer=PRODUCER,
            inputs=[InputDataset(namespace=ns, name=n) for ns, n in map(self._dataset, inputs)],
            outputs=[OutputDataset(namespace=ns, name=n) for ns, n in map(self._dataset, outputs)],
        )

    def _emit(self, run: "EmittedRun", state: str, job: str, run_id: str, inputs: list, outputs: list,
              error: str | None = None) -> None:
        try:
            self._client.emit(self._event(state, job, run_id, inputs, outputs, error))
        except Exception as e:  # lineage must never fail the work it describes
            where = self.settings.openlineage_url or self.settings.openlineage_file
            run.warnings.append(f"OpenLineage {state} event for {job} run {run_id} not sent to {where}: "
                                f"{type(e).__name__}: {' '.join(str(e).split())[:200]}")

    @contextlib.contextmanager
    def run(self, job: str, run_id: str, inputs: list, outputs: list) -> Iterator["EmittedRun"]:
        """Emit START now, COMPLETE when the block ends, FAIL (with the error) when it raises."""
        run = EmittedRun()
        if not self.enabled:
            yield run
            return
        self._emit(run, "START", job, run_id, inputs, outputs)
        try:
            yield run
        except BaseException as e:
            self._emit(run, "FAIL", job, run_id, inputs, outputs, str(e) or type(e).__name__)
            raise
        self._emit(run, "COMPLETE", job, run_id, inputs, outputs)


class EmittedRun:
    """What became of one run's lineage events: the warnings of those that could not be sent."""

    def __init__(self) -> None:
        self.warnings: list[str] = []


def _client(settings: Settings):
    if not (settings.openlineage_url or settings.openlineage_file):
        return None
    try:
        from openlineage.client import OpenLineageClient
    except ImportError:
        raise ConfigError("OpenLineage is configured but openlineage-python is not installed: "
                          "pip install 'mi-warehouse[lineage]'") from None
    if settings.openlineage_url:
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        return OpenLineageClient(transport=HttpTransport(HttpConfig(url=settings.openlineage_url)))
    from openlineage.client.transport.file import FileConfig, FileTransport

    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=settings.openlineage_file, append=True)))
