"""The `mi-warehouse` command: a thin layer over the library. Each command loads the settings,
makes one library call and prints the result. `reports_errors` is the one place that decides how
a failure reaches the user: a `MiWarehouseError` as one line on stderr (exit status 1), anything
else as one line naming the exception (exit status 2; MIW_DEBUG=1 shows the traceback)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import traceback
from pathlib import Path

import click

from . import __version__
from .config import Settings, load_settings
from .errors import MiWarehouseError


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj["settings_factory"]()


@contextlib.contextmanager
def _connected(ctx: click.Context):
    """The settings and an open session to the configured HiveServer2: what most commands need."""
    from .engine.connection import connect

    s = _settings(ctx)
    with connect(s) as session:
        yield s, session


def _one_line(e: BaseException) -> str:
    text = str(e) or (type(e).__doc__ or "").strip()
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or type(e).__name__


def reports_errors(f):
    """Every command's error policy: a named error is one line saying what to do (exit status 1);
    any other exception is a bug, one line naming its type (exit status 2). With MIW_DEBUG=1 the
    traceback is printed first. Click's own exits and usage errors pass through unchanged."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        debug = os.environ.get("MIW_DEBUG", "") not in ("", "0")
        try:
            return f(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except MiWarehouseError as e:
            if debug:
                traceback.print_exc()
            raise click.ClickException(_one_line(e)) from None
        except Exception as e:  # noqa: BLE001 - the one place unexpected errors become a line
            if debug:
                traceback.print_exc()
            err = click.ClickException(f"{type(e).__name__}: {_one_line(e)}"
                                       + ("" if debug else " (run with MIW_DEBUG=1 for the traceback)"))
            err.exit_code = 2
            raise err from None

    wrapper.reports_errors = True  # copied onto click's callback; tests check every command has it
    return wrapper


def _info(msg: str) -> None:
    click.echo(msg, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mi-warehouse")
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory holding mi-warehouse.toml and sql/ (default: nearest one upwards from here).")
@click.pass_context
def main(ctx: click.Context, project_dir: Path | None) -> None:
    """mi-warehouse: SQL analytics over DICOM, on Hive or the embedded HiveServer2."""
    cache: dict = {}

    def factory() -> Settings:
        if "s" not in cache:
            cache["s"] = load_settings(project_dir)  # a ConfigError reaches the command's reports_errors
        return cache["s"]

    ctx.obj = {"settings_factory": factory}


# --- config -----------------------------------------------------------------------
@main.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@reports_errors
def config_cmd(ctx, as_json: bool) -> None:
    """Print the effective settings (secrets are never shown)."""
    d = _settings(ctx).public_dict()
    if as_json:
        click.echo(json.dumps(d, indent=2))
    else:
        for k, v in d.items():
            click.echo(f"{k:<22} {v}")


# --- server -----------------------------------------------------------------------
@main.group("server")
def server_grp() -> None:
    """Run the embedded HiveServer2 (Spark Thrift Server from the pyspark wheel)."""


@server_grp.command("start")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for the first answer.")
@click.pass_context
@reports_errors
def server_start(ctx, timeout: float | None) -> None:
    """Start the server under MIW_HOME and wait until a query answers."""
    from .engine.server import EmbeddedServer

    srv = EmbeddedServer(_settings(ctx))
    _info(f"starting the embedded HiveServer2 (log: {srv.log_file}) ...")
    state, info, started = srv.start(timeout)
    engine = f"{info.dbms_name} {info.version}" if info else "?"
    if started:
        click.echo(f"started: {engine} at {state.url} (pid {state.pid})")
    else:
        click.echo(f"already running: {engine} at {state.url} (pid {state.pid})")


@server_grp.command("stop")
@click.pass_context
@reports_errors
def server_stop(ctx) -> None:
    """Stop the server this MIW_HOME started (gracefully, then firmly)."""
    from .engine.server import EmbeddedServer

    click.echo(EmbeddedServer(_settings(ctx)).stop())


@server_grp.command("status")
@click.pass_context
@reports_errors
def server_status(ctx) -> None:
    """Say whether the embedded server runs; exit status 3 when it does not."""
    from .engine.server import EmbeddedServer

    state = EmbeddedServer(_settings(ctx)).status()
    click.echo(state.message)
    if not state.running:
        ctx.exit(3)


@server_grp.command("logs")
@click.option("-n", "--lines", type=int, default=50, show_default=True)
@click.pass_context
@reports_errors
def server_logs(ctx, lines: int) -> None:
    """Print the end of the server's log."""
    from .engine.server import EmbeddedServer

    click.echo(EmbeddedServer(_settings(ctx)).tail(lines))


# --- apply ------------------------------------------------------------------------
@main.command("apply")
@click.option("--dry-run", is_flag=True, help="Print every script rendered for the engine; connects to nothing.")
@click.option("--engine", type=click.Choice(["hive", "spark"]), default=None,
              help="The engine to render for (default: [hive] engine; --dry-run: auto is spark on a loopback URL).")
@click.option("--status", "show_status", is_flag=True, help="List applied, pending, failed and drifted scripts.")
@click.option("--repair", is_flag=True, help="Accept the new checksum of edited, already-applied scripts.")
@click.option("--lock-timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for another apply to finish.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Migrations directory (default: sql/migrations).")
@click.pass_context
@reports_errors
def apply_cmd(ctx, dry_run: bool, engine: str | None, show_status: bool, repair: bool, lock_timeout: float,
              directory: Path | None) -> None:
    """Apply versioned (V*) and repeatable (R__*) HiveQL migrations in order."""
    from dataclasses import replace

    from .engine.connection import connect
    from .migrations.runner import Migrator, preview

    s = _settings(ctx)
    if dry_run:
        from .engine.target import Target

        click.echo(preview(s, Target.offline(s, engine, "apply --dry-run"), directory))
        return
    with connect(replace(s, engine=engine or s.engine)) as session:
        m = Migrator(session, s, directory, log=_info)
        if show_status:
            from .engine.output import render

            click.echo(render(m.status_table()), nl=False)
            return
        done = m.apply(repair=repair, lock_timeout=lock_timeout)
        click.echo(f"applied {len(done)} script(s)" if done else "nothing to apply: up to date")


# --- loading ----------------------------------------------------------------------
@main.command("load")
@click.argument("sources", nargs=-1, required=True)
@click.option("--workers", type=int, default=0, help="Processes extracting headers, this one included (default: all cores).")
@click.option("--batch-rows", type=int, default=1000, show_default=True, help="Rows staged per batch.")
@click.option("--deid", type=click.Choice(["on", "off"]), default="on", show_default=True,
              help="De-identify on the way in; 'off' only for data already de-identified.")
@click.option("--keep-phi-map", is_flag=True, help="Keep the re-identification map in <phi_db>.patient_map.")
@click.option("--bulk-limit", type=int, default=1024, show_default=True,
              help="Binary values longer than this many bytes are left out of header_json.")
@click.option("--private-allow", multiple=True, metavar="GGGGEEEE",
              help="A private tag (8 hex digits) to keep in header_json when de-identifying. Repeatable.")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="local: worker processes here; spark: extraction as a Spark job (see --spark-master).")
@click.option("--spark-master", default=None,
              help="Spark master for --engine spark (default: spark-submit's, else local[*]).")
@click.option("--lock-timeout", type=float, default=3600.0, show_default=True,
              help="Seconds to wait for another load into the same database.")
@click.pass_context
@reports_errors
def load_cmd(ctx, sources, workers, batch_rows, deid, keep_phi_map, bulk_limit, private_allow, engine,
             spark_master, lock_timeout) -> None:
    """Load DICOM headers from SOURCES (directories, globs, file:// hdfs:// s3:// URIs)."""
    from .engine.connection import connect
    from .loaders.load import LoadOptions, run_load
    from .loaders.private_tags import private_tags
    from .progress import LoadProgress

    s = _settings(ctx)
    opts = LoadOptions(workers=workers, batch_rows=batch_rows, deid=(deid == "on"),
                       keep_phi_map=keep_phi_map, bulk_limit=bulk_limit, engine=engine, spark_master=spark_master,
                       private_allow=private_tags(private_allow), lock_timeout=lock_timeout)
    with connect(s) as session, LoadProgress() as bar:
        summary = run_load(session, s, list(sources), opts, progress=bar.update, log=bar.log)
    click.echo(
        f"run {summary.run_id}: {summary.files_seen} files seen, {summary.loaded} loaded, "
        f"{summary.skipped} already loaded, {summary.duplicates} duplicates, {summary.errors} errors, "
        f"{summary.warnings} warnings, {summary.partitions} partitions, {summary.rate:.0f} files/s"
    )
    if summary.error_classes:
        click.echo("errors by class: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.error_classes.items()))
                   + f" (details: SELECT * FROM {s.database}.load_errors WHERE run_id = '{summary.run_id}'; "
                   f"with real paths, for those allowed: {s.phi_database}.load_errors_located)")
    _warn_lineage(summary.lineage_warnings)


@main.command("synth")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--patients", type=int, default=50, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--image-size", type=int, default=64, show_default=True,
              help="Chest radiographs N x N (2048-2500 is realistic); CT/MR/PET min(N, 512).")
@click.option("--transfer-syntax", default="explicit", show_default=True,
              type=click.Choice(["explicit", "jpeg2000", "jpegls", "jpeg-lossless", "rle"]),
              help="Pixel Data encoding; every choice is lossless.")
@click.option("--hostile", is_flag=True,
              help="Instead: a corpus with each patient's identifiers planted everywhere (tests the audit).")
@click.option("--shortcut-site", type=click.Choice(["NGH", "SAM", "RUC", "LII"], case_sensitive=False),
              default=None, help="This site burns a marker into its positive chest images and has a "
                                 "higher prevalence (a shortcut for a model to learn).")
@click.option("--shortcut-marker", type=click.Choice(["text", "box"]), default="text", show_default=True,
              help="The burned-in marker: the site code as text, or a filled box.")
@click.option("--finding-contrast", type=float, default=1.0, show_default=True,
              help="With --shortcut-site: the finding's brightness (< 1: subtler than usual).")
@reports_errors
def synth_cmd(out: Path, patients: int, seed: int, image_size: int, transfer_syntax: str,
              hostile: bool, shortcut_site: str | None, shortcut_marker: str, finding_contrast: float) -> None:
    """Write a synthetic DICOM corpus (no real patient data) and its labels.csv."""
    from .synth import Shortcut, generate

    if hostile:
        from .synth.hostile import generate_hostile

        planted = generate_hostile(out, max(patients, 2), seed=seed)
        click.echo(f"{len(planted.files)} hostile files for {len(planted.patients)} patients in {out}")
        return
    shortcut = None if shortcut_site is None else Shortcut(shortcut_site.upper(), shortcut_marker,
                                                            finding_contrast=finding_contrast)
    summary = generate(out, patients, seed=seed, image_size=image_size, transfer_syntax=transfer_syntax,
                       shortcut=shortcut)
    mods = ", ".join(f"{k} {v}" for k, v in sorted(summary.modality_counts.items()))
    marked = f"; {summary.marked} images marked at {shortcut.site}" if shortcut else ""
    click.echo(f"{summary.files_written} files for {summary.patients} patients ({mods}); "
               f"labels: {summary.labels_csv}{marked}")


@main.group("labels")
def labels_grp() -> None:
    """Ground-truth labels."""


@labels_grp.command("load")
@click.argument("csv_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--source", default=None, help="Label source to record (default: the CSV's source column).")
@click.pass_context
@reports_errors
def labels_load_cmd(ctx, csv_file: Path, source: str | None) -> None:
    """Load a label CSV (sop_instance_uid, study_uid, label, label_value[, source]) into <db>.labels."""
    from .loaders.labels import load_labels

    with _connected(ctx) as (s, session):
        n = load_labels(session, s, csv_file, source)
    click.echo(f"loaded {n} labels from {csv_file}")


@main.group("audit")
def audit_grp() -> None:
    """Audits of what the warehouse holds."""


@audit_grp.command("phi")
@click.option("--sources", "sources", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="Original DICOM directory whose identifiers to look for too. Repeatable.")
@click.option("--no-phi-db", is_flag=True, help="Do not read identifiers from the PHI database.")
@click.pass_context
@reports_errors
def audit_phi_cmd(ctx, sources, no_phi_db) -> None:
    """Scan every file of the core database for patient identifiers; exit status 1 on any finding."""
    from .audit.phi import scan
    from .engine.connection import Result
    from .engine.output import render

    s = _settings(ctx)
    findings = scan(s, list(sources), use_phi_database=not no_phi_db, log=_info)
    if not findings:
        click.echo(f"no identifiers found in {s.database} ({s.storage_path}/{s.database})")
        return
    click.echo(render(Result(["table", "file", "column", "tag", "kind", "count"],
                             [(f.table, f.file, f.column, f.tag, f.kind, f.count) for f in findings])), nl=False)
    click.echo(f"{len(findings)} finding(s) in {s.database}: do not let these data leave the hospital")
    ctx.exit(1)


@main.command("compact")
@click.option("--partition", "partitions", multiple=True, metavar="study_year=Y[/study_month=M[/modality=MOD]]",
              help="Only these partitions (any leading part of the spec). Repeatable. Default: all.")
@click.option("--lock-timeout", type=float, default=3600.0, show_default=True,
              help="Seconds to wait for a running load to finish.")
@click.pass_context
@reports_errors
def compact_cmd(ctx, partitions, lock_timeout) -> None:
    """Merge appended bucket files of dicom_metadata back to one sorted file per bucket (crash-safe)."""
    from .loaders.compact import run_compact

    with _connected(ctx) as (s, session):
        r = run_compact(session, s, partitions, lock_timeout, progress=_info)
    click.echo(f"{r.partitions_compacted} of {r.partitions_seen} partitions compacted: {r.files_before} files -> "
               f"{r.files_after}, {r.rows} rows, {r.duplicates_dropped} duplicates dropped, "
               f"{len(r.recovered)} interrupted compactions finished")


@main.command("catalog")
@reports_errors
def catalog_cmd() -> None:
    """Print the column catalog of dicom_metadata (DICOM keyword, tag, Hive type) as Markdown."""
    from .serde.catalog import markdown_table

    click.echo(markdown_table(), nl=False)


# --- models, inference, lineage -----------------------------------------------------
@main.group("model")
def model_grp() -> None:
    """The model registry: ONNX files, versions, checksums, model cards."""


@model_grp.command("register")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--name", required=True)
@click.option("--version", "version", required=True)
@click.option("--card", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="Model card (YAML or JSON).")
@click.option("--parent", default=None, help="Parent version this one was derived from.")
@click.pass_context
@reports_errors
def model_register_cmd(ctx, file, name, version, card, parent) -> None:
    """Check FILE.onnx against its card and register it as NAME:VERSION (immutable)."""
    from .models.registry import register

    with _connected(ctx) as (s, session):
        mv, new = register(session, s, file, name, version, card, parent)
    what = "registered" if new else "already registered (same checksum)"
    click.echo(f"{what}: {mv.name}:{mv.version} sha256 {mv.sha256} at {mv.uri}")


@model_grp.command("list")
@click.pass_context
@reports_errors
def model_list_cmd(ctx) -> None:
    """List registered model versions."""
    from .engine.connection import Result
    from .engine.output import render
    from .models.registry import list_versions

    with _connected(ctx) as (s, session):
        rows = [(m.name, m.version, m.sha256[:16], m.decision_threshold, m.training_cohort, str(m.registered_at))
                for m in list_versions(session, s)]
    click.echo(render(Result(["name", "version", "sha256", "threshold", "training_cohort", "registered_at"],
                             rows)), nl=False)


@model_grp.command("show")
@click.argument("ref")
@click.pass_context
@reports_errors
def model_show_cmd(ctx, ref) -> None:
    """Show NAME:VERSION with its model card."""
    from .models.registry import require

    with _connected(ctx) as (s, session):
        m = require(session, s, ref)
    click.echo(f"{m.name}:{m.version}\n  sha256     {m.sha256}\n  uri        {m.uri}\n  opset      {m.opset}"
               f"\n  input      {m.input_shape}\n  labels     {m.labels}\n  threshold  {m.decision_threshold}"
               f"\n  trained on {m.training_cohort} (run {m.training_run})\n  parent     {m.parent_version}"
               f"\n  registered {m.registered_at} by {m.registered_by}\n  card:")
    click.echo(json.dumps(json.loads(m.card), indent=2))


@main.command("infer")
@click.option("--model", "model_ref", required=True, help="NAME:VERSION of a registered model.")
@click.option("--cohort", required=True, help="A table (db.table) or a SELECT returning sop_instance_uid.")
@click.option("--force", is_flag=True, help="Recompute and replace predictions that already succeeded.")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--providers", type=click.Choice(["auto", "cpu", "cuda", "tensorrt"]), default="auto",
              show_default=True)
@click.option("--print-sql", is_flag=True, help="Print the HiveQL for Beeline/Hue on a cluster; run nothing.")
@click.option("--lock-timeout", type=float, default=3600.0, show_default=True,
              help="Seconds to wait for another inference with the same model version.")
@click.pass_context
@reports_errors
def infer_cmd(ctx, model_ref, cohort, force, batch_size, providers, print_sql, lock_timeout) -> None:
    """Run a registered ONNX model over a cohort's images, as a Hive TRANSFORM, into predictions."""
    from .inference.run import print_sql as sql_for_cluster
    from .inference.run import run_inference
    from .progress import Spinner

    with _connected(ctx) as (s, session):
        if print_sql:
            click.echo(sql_for_cluster(session, s, model_ref, cohort, force, batch_size), nl=False)
            return
        with Spinner(f"scoring with {model_ref}") as spin:
            summary = run_inference(session, s, model_ref, cohort, force, batch_size, providers, log=spin.log,
                                    lock_timeout=lock_timeout)
    click.echo(f"run {summary.run_id}: {summary.input_rows} images in cohort, {summary.scored} scored "
               f"({summary.rows_ok} ok, {summary.rows_error} errors) on {summary.provider or '-'} in "
               f"{summary.seconds:.1f}s ({summary.rate:.0f} images/s)")
    _warn_lineage(summary.lineage_warnings)


def _warn_lineage(warnings: list[str]) -> None:
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


@main.command("explain")
@click.option("--model", "model_ref", required=True, help="NAME:VERSION of a registered model.")
@click.option("--cohort", required=True, help="A table (db.table) or a SELECT returning sop_instance_uid.")
@click.option("--out", required=True,
              help="Output folder: a relative name goes under <PHI database location>/_explain/; "
                   "an absolute one must be inside the PHI database's location.")
@click.option("--method", type=click.Choice(["cam", "occlusion"]), default=None,
              help="cam (class activation maps; the default when the card declares cam) or occlusion.")
@click.option("--limit", type=int, default=None, help="At most this many images (in UID order).")
@click.option("--grid", type=int, default=8, show_default=True,
              help="Occlusion: the patch is 1/GRID of the model input's side, moved by half a patch.")
@click.pass_context
@reports_errors
def explain_cmd(ctx, model_ref, cohort, out, method, limit, grid) -> None:
    """Write a PNG overlay per image of where the model looked (PHI side of storage only)."""
    from .explain.run import explain

    with _connected(ctx) as (s, session):
        summary = explain(session, s, model_ref, cohort, out, method, limit, grid, log=_info)
    click.echo(f"{summary.written} of {summary.images} images explained with {model_ref} ({summary.method}) "
               f"in {summary.seconds:.1f}s into {summary.out}"
               + (f"; {len(summary.errors)} could not be read (see manifest.json)" if summary.errors else ""))


@main.command("lineage")
@click.argument("sop_instance_uid")
@click.pass_context
@reports_errors
def lineage_cmd(ctx, sop_instance_uid) -> None:
    """Print, for one image, every prediction with its run, model version, checksum and training cohort."""
    from .inference.lineage import checked_lineage

    with _connected(ctx) as (s, session):
        rows = checked_lineage(session, s, sop_instance_uid)
    click.echo(f"image {sop_instance_uid}  [{rows[0]['image_partition']}]")
    for r in rows:
        p = r["probability"]
        click.echo(f"  prediction  {r['predicted_label']} p={p:.4f} ({r['status']}) at {r['predicted_at']}"
                   if p is not None else f"  prediction  ({r['status']}) at {r['predicted_at']}")
        click.echo(f"    run       {r['run_id']} on {r['provider']}, cohort {r['run_cohort']}, "
                   f"{len(r['partitions'])} source partition(s) read")
        check = "" if r["checksum_matches"] else "  (MISMATCH with the registry)"
        click.echo(f"    model     {r['model_name']}:{r['model_version']} sha256 {r['model_sha256']}{check}"
                   + (f", parent {r['parent_version']}" if r["parent_version"] else ""))
        click.echo(f"    trained   on cohort {r['training_cohort']} (run {r['training_run']})")


# --- dbt_like: compile / run / test -------------------------------------------------
_select = click.option("-s", "--select", "select", multiple=True,
                       help="Models: NAME, +NAME (with ancestors), NAME+ (descendants), tag:X. Repeatable.")
_vars_opt = click.option("--vars", "vars_json", default=None, help='Template variables as JSON: \'{"min_age": 18}\'')


@main.command("compile")
@_select
@_vars_opt
@click.option("--engine", type=click.Choice(["hive", "spark"]), default=None,
              help="Compile for this engine (default: [hive] engine; auto is spark on a loopback URL). "
                   "Never connects.")
@click.option("--check-hive", is_flag=True, help="Also parse every statement with Hive's own parser.")
@click.pass_context
@reports_errors
def compile_cmd(ctx, select, vars_json, engine, check_hive) -> None:
    """Write plain HiveQL to target/compiled/ and the lineage graph to target/manifest.json."""
    from .dbt_like.compiler import compile_project
    from .dbt_like.project import load_project
    from .dbt_like.variables import parse_vars
    from .engine.target import Target

    s = _settings(ctx)
    target = Target.offline(s, engine, "compile")
    manifest = compile_project(load_project(s.sql_dir, s), target, list(select) or None, parse_vars(vars_json),
                               target_dir=s.project_dir / "target")
    click.echo(f"compiled {len(manifest.selected)} model(s) and {len(manifest.selected_tests)} test(s) "
               f"for {target.engine} into {s.project_dir / 'target'}")
    if check_hive:
        from .dbt_like.hive_parser import check_manifest

        problems = check_manifest(manifest)
        for p in problems:
            click.echo(f"hive parser: {p}", err=True)
        if problems:
            raise click.ClickException(f"{len(problems)} statement(s) do not parse as HiveQL")
        click.echo("every compiled statement parses with Hive's own parser")


@main.command("run")
@_select
@_vars_opt
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.pass_context
@reports_errors
def run_cmd(ctx, select, vars_json, full_refresh) -> None:
    """Materialise the models of sql/models in DAG order."""
    from .dbt_like.runner import run_models
    from .dbt_like.variables import parse_vars
    from .engine.connection import connect

    s, variables = _settings(ctx), parse_vars(vars_json)
    with connect(s) as session:
        summary = run_models(session, s, list(select) or None, variables, full_refresh, log=_info)
    click.echo(f"run {summary.run_id}: {summary.count('success')} ok, {summary.count('error')} failed, "
               f"{summary.count('skipped')} skipped")
    for r in summary.results:
        if r.status == "error":
            click.echo(f"  failed: {r.name}: {r.message}")
    if not summary.ok:
        ctx.exit(1)


@main.command("test")
@_select
@_vars_opt
@click.pass_context
@reports_errors
def test_cmd(ctx, select, vars_json) -> None:
    """Run the schema tests (schema.yml) and SQL tests (sql/tests/)."""
    from .dbt_like.runner import test_models
    from .dbt_like.variables import parse_vars
    from .engine.connection import connect

    s, variables = _settings(ctx), parse_vars(vars_json)
    with connect(s) as session:
        summary = test_models(session, s, list(select) or None, variables, log=_info)
    click.echo(f"{summary.count('pass')} passed, {summary.count('fail') + summary.count('error')} failed")
    if not summary.ok:
        ctx.exit(1)


# --- demo -------------------------------------------------------------------------
@main.command("demo")
@click.option("--patients", type=int, default=300, show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@click.pass_context
@reports_errors
def demo_cmd(ctx, patients: int, seed: int) -> None:
    """The main job end to end on the embedded engine; leaves the server running. Safe to re-run."""
    from .demo import run_demo
    from .engine.output import render

    s = _settings(ctx)
    result = run_demo(s, patients, seed, log=_info)
    click.echo("\nEvaluation of the demo models on the adult chest radiograph cohort:")
    click.echo(render(result.evaluation), nl=False)
    if result.shortcut is not None:
        click.echo("\nShortcut check, pooled against within-site AUC (split all: neither model saw this "
                   "corpus); the shortcut model reads a site's burned-in marker:")
        click.echo(render(result.shortcut), nl=False)
    if result.report:
        click.echo(f"\nReport (ROC, calibration, confusion matrix, per-site table, saliency gallery; holds "
                   f"patient images): {result.report}")
    if result.shortcut_report:
        click.echo(f"Shortcut model's report (its saliency gallery shows the marker): {result.shortcut_report}")
    click.echo(f"\nDone in {result.seconds:.0f}s. The server keeps running; try:\n"
               f"  .venv/bin/mi-warehouse beeline -e \"SELECT modality, count(*) FROM {s.database}.dicom_metadata "
               f"GROUP BY modality\"\n  .venv/bin/mi-warehouse lineage $(.venv/bin/mi-warehouse sql "
               f"\"SELECT sop_instance_uid FROM {s.database}.predictions LIMIT 1\" --format csv | tail -1)\n"
               f"Stop it with: .venv/bin/mi-warehouse server stop")


# --- sql / beeline ----------------------------------------------------------------
@main.command("sql")
@click.argument("query", required=False)
@click.option("-f", "--file", "file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Run the statements of a script file.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.pass_context
@reports_errors
def sql_cmd(ctx, query: str | None, file: Path | None, fmt: str) -> None:
    """Run HiveQL and print the results."""
    from .engine.connection import connect
    from .engine.output import render
    from .engine.script import Script

    if bool(query) == bool(file):
        raise click.UsageError("give a QUERY or -f FILE (one of them)")
    script = Script.read(file) if file else Script.parse(query)
    with connect(_settings(ctx)) as session:
        for done in script.run(session):
            if done.worth_showing(fmt):
                click.echo(render(done.result, fmt), nl=False)


@main.command("beeline", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@reports_errors
def beeline_cmd(ctx, args: tuple[str, ...]) -> None:
    """Open the bundled Beeline connected to the configured server; extra ARGS go to Beeline."""
    from .engine.beeline import command

    cmd, env = command(_settings(ctx), list(args))
    sys.stdout.flush()
    os.execvpe(cmd[0], cmd, env)


if __name__ == "__main__":  # pragma: no cover
    main()
