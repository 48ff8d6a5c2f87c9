from pathlib import Path

import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "mi-warehouse.toml").write_text(text)
    return tmp_path


def test_defaults_without_a_file(tmp_path):
    s = load_settings(tmp_path, env={})
    assert s.hive_url == "hive://127.0.0.1:10000/default"
    assert (s.host, s.port, s.url_database) == ("127.0.0.1", 10000, "default")
    assert s.home == tmp_path / ".miw"
    assert s.storage_root == (tmp_path / ".miw" / "data").as_uri()
    assert s.model_store == s.storage_root + "/models"
    assert s.database == "mi" and s.phi_database == "mi_phi"
    assert s.is_embedded


def test_file_then_environment_precedence(tmp_path):
    write(tmp_path, '[hive]\nurl = "hive://db.example:10001/x"\nauth = "ldap"\n[tables]\nbuckets = 16\n')
    s = load_settings(tmp_path, env={})
    assert (s.host, s.port, s.auth, s.buckets) == ("db.example", 10001, "LDAP", 16)
    assert not s.is_embedded
    s = load_settings(tmp_path, env={"MIW_HIVE_URL": "hive://127.0.0.1:1234/default", "MIW_BUCKETS": "4",
                                     "MIW_HOME": str(tmp_path / "state")})
    assert (s.port, s.buckets, s.home) == (1234, 4, tmp_path / "state")
    assert s.storage_root.startswith((tmp_path / "state").as_uri())


def test_password_only_from_environment_and_never_displayed(tmp_path):
    s = load_settings(tmp_path, env={"MIW_HIVE_PASSWORD": "s3cret-value"})
    assert s.password == "s3cret-value"
    shown = s.public_dict()
    assert "s3cret-value" not in str(shown) and "s3cret-value" not in repr(s)
    write(tmp_path, '[hive]\npassword = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown setting \[hive\] password"):
        load_settings(tmp_path, env={})


@pytest.mark.parametrize("text, message", [
    ('[hive]\nauth = "TOKEN"\n', "auth 'TOKEN' is not one of"),
    ('[hive]\nurl = "mysql://x/y"\n', "is not of the form hive://"),
    ('[tables]\nbuckets = "many"\n', r"\[tables\] buckets: expected int"),
    ('[tables]\nbucketing_version = 3\n', "bucketing_version must be 1 or 2"),
    ('[databases]\ncore = "mi; DROP"\n', "must be letters, digits and underscores"),
    ('[hive\n', "mi-warehouse.toml"),
    ('[hive]\nurl = "hive://h:abc/default"\n', "Port could not be cast .*; write it as hive://HOST:PORT"),
    ('[hive]\nurl = "hive://h:99999/default"\n', "Port out of range"),
])
def test_bad_settings_fail_with_one_clear_line(tmp_path, text, message):
    write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as e:
        load_settings(tmp_path, env={})
    assert "\n" not in str(e.value)


def test_a_settings_file_that_is_not_utf8_is_a_config_error(tmp_path):
    (tmp_path / "mi-warehouse.toml").write_bytes(b'[hive]\nurl = "\xff"\n')
    with pytest.raises(ConfigError, match=r"mi-warehouse.toml: .*fix the file \(TOML, UTF-8\)"):
        load_settings(tmp_path, env={})


def test_project_dir_found_upwards(tmp_path, monkeypatch):
    write(tmp_path, '[tables]\nbuckets = 2\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    monkeypatch.delenv("MIW_PROJECT_DIR", raising=False)
    monkeypatch.delenv("MIW_BUCKETS", raising=False)
    s = load_settings()
    assert s.project_dir == tmp_path and s.buckets == 2


def test_engine_setting_from_file_then_environment(tmp_path):
    assert load_settings(tmp_path, env={}).engine == "auto"
    write(tmp_path, '[hive]\nengine = "Hive"\n')
    assert load_settings(tmp_path, env={}).engine == "hive"
    assert load_settings(tmp_path, env={"MIW_ENGINE": "spark"}).engine == "spark"
    with pytest.raises(ConfigError, match="engine 'presto' is not one of auto, hive, spark"):
        load_settings(tmp_path, env={"MIW_ENGINE": "presto"})
