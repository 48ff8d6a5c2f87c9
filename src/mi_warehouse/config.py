"""Settings: one place, `mi-warehouse.toml` in the project directory, overridden by environment variables.

Precedence, lowest first: built-in defaults, `mi-warehouse.toml`, `MIW_*` environment variables.
`MIW_HOME` relocates all embedded state (metastore, warehouse, logs, pid file, lock files);
`MIW_HIVE_URL` overrides the HiveServer2 URL.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from .errors import ConfigError

CONFIG_FILE = "mi-warehouse.toml"
AUTH_MODES = ("NONE", "NOSASL", "LDAP", "KERBEROS", "CUSTOM")
BUCKETING_VERSIONS = (1, 2)
ENGINE_SETTINGS = ("auto", "hive", "spark")  # the rows of engine/dialects.py, and auto
MISSING_PATIENT_ID = ("reject", "surrogate")  # a file without PatientID: load_errors, or keyed by its study

# (toml section, key) -> (attribute, environment variable, type)
_SETTINGS = {
    ("hive", "url"): ("hive_url", "MIW_HIVE_URL", str),
    ("hive", "auth"): ("auth", "MIW_HIVE_AUTH", str),
    ("hive", "username"): ("username", "MIW_HIVE_USER", str),
    ("hive", "kerberos_service_name"): ("kerberos_service_name", "MIW_KERBEROS_SERVICE", str),
    ("hive", "engine"): ("engine", "MIW_ENGINE", str),
    ("databases", "core"): ("database", "MIW_DATABASE", str),
    ("databases", "phi"): ("phi_database", "MIW_PHI_DATABASE", str),
    ("storage", "root"): ("storage_root", "MIW_STORAGE_ROOT", str),
    ("storage", "model_store"): ("model_store", "MIW_MODEL_STORE", str),
    ("tables", "buckets"): ("buckets", "MIW_BUCKETS", int),
    ("tables", "bucketing_version"): ("bucketing_version", "MIW_BUCKETING_VERSION", int),
    ("deid", "key_file"): ("key_file", "MIW_KEY_FILE", str),
    ("deid", "options"): ("deid_options", "MIW_DEID_OPTIONS", lambda v: _names(v, ",")),  # a,b
    ("deid", "safe_private"): ("deid_safe_private", "MIW_DEID_SAFE_PRIVATE", lambda v: _names(v, ";")),  # a;b
    ("loader", "strictness"): ("strictness", "MIW_STRICTNESS", str),
    ("loader", "missing_patient_id"): ("missing_patient_id", "MIW_MISSING_PATIENT_ID", str),
    ("server", "driver_memory"): ("driver_memory", "MIW_DRIVER_MEMORY", str),
    ("server", "start_timeout"): ("start_timeout", "MIW_START_TIMEOUT", int),
    ("lineage", "openlineage_url"): ("openlineage_url", "MIW_OPENLINEAGE_URL", str),
    ("lineage", "openlineage_file"): ("openlineage_file", "MIW_OPENLINEAGE_FILE", str),
}
# Secrets come only from the environment, never from the toml file, and are never printed.
_SECRET_ENV = {"password": "MIW_HIVE_PASSWORD"}


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    home: Path
    hive_url: str = "hive://127.0.0.1:10000/default"
    auth: str = "NONE"
    username: str = ""
    password: str = field(default="", repr=False)
    kerberos_service_name: str = "hive"
    engine: str = "auto"  # auto (detect when connected), hive or spark
    database: str = "mi"
    phi_database: str = "mi_phi"
    storage_root: str = ""  # default: file://<home>/data
    model_store: str = ""  # default: <storage_root>/models
    buckets: int = 8
    bucketing_version: int = 1
    key_file: str = ""  # default: <home>/deid.key
    # PS3.15 Annex E options in force (loaders/deid/policy.py lists them); Retain Safe Private's
    # allow-list as 'GGGG,xxEE,PRIVATE CREATOR' entries
    deid_options: tuple[str, ...] = ("retain_uids", "retain_long_modified_dates", "retain_patient_characteristics",
                                     "clean_descriptors", "retain_safe_private")
    deid_safe_private: tuple[str, ...] = ()
    strictness: str = "default"  # lenient, default or strict: loaders/strictness.py, shown by `config`
    missing_patient_id: str = ""  # reject or surrogate; default: what the strictness level says
    driver_memory: str = "2g"
    start_timeout: int = 240
    openlineage_url: str = ""  # emit OpenLineage events over HTTP (e.g. Marquez)
    openlineage_file: str = ""  # or append them to this file, one JSON event per line
    config_file: Path | None = None

    # --- derived -------------------------------------------------------------
    @property
    def sql_dir(self) -> Path:
        return self.project_dir / "sql"

    @property
    def host(self) -> str:
        return _parse_url(self.hive_url)["host"]

    @property
    def port(self) -> int:
        return _parse_url(self.hive_url)["port"]

    @property
    def url_database(self) -> str:
        return _parse_url(self.hive_url)["database"]

    @property
    def url_options(self) -> dict[str, str]:
        return _parse_url(self.hive_url)["options"]

    @property
    def is_embedded(self) -> bool:
        """The server is ours to start: a loopback address."""
        return self.host in ("127.0.0.1", "localhost", "::1")

    @property
    def storage_path(self) -> str:
        """The storage root as a URI (file:///..., hdfs://..., s3a://...)."""
        return self.storage_root.rstrip("/")

    @property
    def local_storage_dir(self) -> Path | None:
        """The storage root as a local path, or None when it is remote."""
        u = urlparse(self.storage_path)
        if u.scheme in ("", "file"):
            return Path(unquote(u.path))
        return None

    def public_dict(self) -> dict[str, object]:
        """Effective settings for display: the password is never included."""
        out: dict[str, object] = {}
        for f in fields(self):
            if f.name == "password":
                out["password"] = "(set)" if self.password else "(not set)"
                continue
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else value
            if f.name == "strictness":
                from .loaders.strictness import describe

                out["strictness"] = describe(self.strictness)
        return out


def _parse_url(url: str) -> dict:
    u = urlparse(url)
    if u.scheme not in ("hive", "hive2", "jdbc:hive2") or not u.hostname:
        raise ConfigError(f"hive url {url!r} is not of the form hive://HOST:PORT/DATABASE")
    try:
        port = u.port or 10000
    except ValueError as e:  # not a number, or out of range
        raise ConfigError(f"hive url {url!r}: {e}; write it as hive://HOST:PORT/DATABASE") from None
    return {
        "host": u.hostname,
        "port": port,
        "database": (u.path or "/default").strip("/") or "default",
        "options": {k: v[-1] for k, v in parse_qs(u.query).items()},
    }


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory, from `start` upwards, holding mi-warehouse.toml; else `start`."""
    env = os.environ.get("MIW_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    start = (start or Path.cwd()).resolve()
    for d in (start, *start.parents):
        if (d / CONFIG_FILE).is_file():
            return d
    return start


def load_settings(project_dir: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    project_dir = Path(project_dir).resolve() if project_dir else find_project_dir()
    values: dict[str, object] = {}
    cfg_path = project_dir / CONFIG_FILE
    config_file = None
    if cfg_path.is_file():
        config_file = cfg_path
        try:
            data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{cfg_path}: {e}; fix the file (TOML, UTF-8)") from None
        except OSError as e:
            raise ConfigError(f"cannot read {cfg_path}: {e}") from None
        for section, table in data.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{cfg_path}: top-level key {section!r} must be a [section]")
            for key, value in table.items():
                if (section, key) not in _SETTINGS:
                    raise ConfigError(f"{cfg_path}: unknown setting [{section}] {key}")
                attr, _, typ = _SETTINGS[(section, key)]
                values[attr] = _coerce(value, typ, f"{cfg_path} [{section}] {key}")
    for (section, key), (attr, var, typ) in _SETTINGS.items():
        if env.get(var):
            values[attr] = _coerce(env[var], typ, f"environment variable {var}")
    for attr, var in _SECRET_ENV.items():
        if env.get(var):
            values[attr] = env[var]

    home = Path(env.get("MIW_HOME") or project_dir / ".miw").expanduser().resolve()
    s = Settings(project_dir=project_dir, home=home, config_file=config_file, **values)
    if not s.storage_root:
        s = replace(s, storage_root=(home / "data").as_uri())
    if not s.model_store:
        s = replace(s, model_store=s.storage_path + "/models")
    if not s.key_file:
        s = replace(s, key_file=str(home / "deid.key"))
    return _validate(s)


def _names(value: object, sep: str) -> tuple[str, ...]:
    """A list setting: a TOML array, or one string with `sep` between entries (environment)."""
    items = value.split(sep) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise TypeError("expected a list of strings")
    return tuple(i.strip() for i in items if i.strip())


def _coerce(value: object, typ: type, where: str) -> object:
    try:
        return typ(value)
    except (TypeError, ValueError):
        expected = "a list of strings" if typ.__name__ == "<lambda>" else typ.__name__
        raise ConfigError(f"{where}: expected {expected}, got {value!r}") from None


def _validate(s: Settings) -> Settings:
    _parse_url(s.hive_url)
    auth = s.auth.upper()
    if auth not in AUTH_MODES:
        raise ConfigError(f"auth {s.auth!r} is not one of {', '.join(AUTH_MODES)}")
    if s.bucketing_version not in BUCKETING_VERSIONS:
        raise ConfigError(f"bucketing_version must be 1 or 2, got {s.bucketing_version}")
    if s.engine.lower() not in ENGINE_SETTINGS:
        raise ConfigError(f"engine {s.engine!r} is not one of {', '.join(ENGINE_SETTINGS)}")
    from .loaders import strictness

    if s.strictness not in strictness.LEVELS:
        raise ConfigError(f"[loader] strictness {s.strictness!r} is not one of {', '.join(strictness.LEVELS)}")
    if not s.missing_patient_id:
        s = replace(s, missing_patient_id=strictness.missing_patient_id_mode(s.strictness))
    if s.missing_patient_id not in MISSING_PATIENT_ID:
        raise ConfigError(f"[loader] missing_patient_id {s.missing_patient_id!r} is not one of "
                          f"{', '.join(MISSING_PATIENT_ID)}")
    if s.buckets < 1:
        raise ConfigError(f"buckets must be at least 1, got {s.buckets}")
    for name in ("database", "phi_database"):
        value = getattr(s, name)
        if not value.replace("_", "").isalnum():
            raise ConfigError(f"database name {value!r} must be letters, digits and underscores")
    from .loaders.deid.policy import parse_options, parse_safe_private

    parse_safe_private(s.deid_safe_private)
    return replace(s, auth=auth, engine=s.engine.lower(), deid_options=parse_options(s.deid_options))
