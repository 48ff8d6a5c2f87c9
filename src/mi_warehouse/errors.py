"""Named errors. Each message says what went wrong and, where it can, how to fix it.

The CLI turns any `MiWarehouseError` into one line on stderr and exit status 1; any other
exception is a bug, reported as one line naming its type and exit status 2 (MIW_DEBUG=1 shows
the traceback). Errors that callers used to catch as `ValueError` still are one.
"""


class MiWarehouseError(Exception):
    """Base of every error the CLI reports as one line."""


class ConfigError(MiWarehouseError):
    """A setting in mi-warehouse.toml or the environment is invalid."""


class JavaMissing(MiWarehouseError):
    """No Java runtime: the embedded server needs Java 17 (apt-get install -y openjdk-17-jre-headless)."""


class PortInUse(MiWarehouseError):
    """The configured HiveServer2 port is taken by a process that is not ours."""


class ServerStartFailed(MiWarehouseError):
    """The embedded server exited or did not answer in time; its log says why."""


class ServerUnavailable(MiWarehouseError):
    """No HiveServer2 answers at the configured URL."""


class QueryFailed(MiWarehouseError):
    """The engine rejected a statement."""

    def __init__(self, message: str, engine_message: str = ""):
        super().__init__(message)
        self.engine_message = engine_message


class MigrationFailed(MiWarehouseError):
    """A migration statement failed; the history table records how far it got."""


class ChecksumDrift(MiWarehouseError):
    """An applied migration was edited: restore it, add a new migration, or run `apply --repair`."""


class Locked(MiWarehouseError):
    """Another mi-warehouse command holds the lock this one needs (apply, load, infer)."""


MigrationLocked = Locked  # the name earlier releases raised


class MigrationFileError(MiWarehouseError):
    """A migration file is misnamed, duplicated or cannot be rendered."""


class SqlSplitError(MiWarehouseError):
    """A SQL script has an unterminated string, identifier or comment."""


class InvalidIdentifier(MiWarehouseError, ValueError):
    """A database, table or column name holds more than letters, digits and underscores."""


class UnknownFormat(MiWarehouseError, ValueError):
    """An output format other than table, csv or json was asked for."""


class InvalidPrivateTag(MiWarehouseError, ValueError):
    """A `--private-allow` value is not a DICOM tag written as 8 hex digits (GGGGEEEE)."""


class NoPredictions(MiWarehouseError):
    """The image has no predictions: check the SOP Instance UID, or score a cohort holding it with `infer`."""


class ScriptUnreadable(MiWarehouseError):
    """A SQL script file cannot be read as UTF-8 text."""


class BeelineMissing(MiWarehouseError):
    """The bundled Beeline script is not where the pyspark wheel (or SPARK_HOME) should put it."""
