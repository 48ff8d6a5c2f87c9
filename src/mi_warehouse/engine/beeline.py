"""The bundled Beeline (Hive 2.3's JDBC shell from the pyspark wheel), pointed at the configured server."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Settings
from ..errors import BeelineMissing
from .server import java_executable, spark_home


def jdbc_url(settings: Settings) -> str:
    url = f"jdbc:hive2://{settings.host}:{settings.port}/{settings.url_database}"
    opts = dict(settings.url_options)
    if settings.auth == "NOSASL":
        opts.setdefault("auth", "noSasl")
    if settings.auth == "KERBEROS":
        opts.setdefault("principal", f"{settings.kerberos_service_name}/_HOST@REALM")
    return url + "".join(f";{k}={v}" for k, v in opts.items())


def command(settings: Settings, args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The Beeline command line and environment; the password travels in the environment only."""
    home = spark_home()
    beeline = home / "bin" / "beeline"
    if not beeline.is_file():
        raise BeelineMissing(f"no Beeline at {beeline}: set SPARK_HOME to a Spark with bin/beeline, or reinstall "
                             "the pyspark wheel (pip install --force-reinstall 'pyspark>=4.3,<4.4')")
    cmd = [str(beeline), "-u", jdbc_url(settings)]
    if settings.username:
        cmd += ["-n", settings.username]
    env = dict(os.environ)
    env["SPARK_HOME"] = str(home)
    env.setdefault("JAVA_HOME", str(Path(os.path.realpath(java_executable())).parent.parent))
    if settings.password and settings.auth in ("LDAP", "CUSTOM"):
        # Beeline reads -w FILE; keep the secret off the process list
        pw_file = settings.home / "beeline.pw"
        pw_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(settings.password)
        cmd += ["-w", str(pw_file)]
    return cmd + list(args), env
