"""Settings: built once from BEELDBEL_* variables and an optional TOML file.

They fail fast, naming the setting that is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from beeldbel.settings import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("BEELDBEL_"):
            monkeypatch.delenv(name)


def test_defaults_serve_the_embedded_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.port == 8080
    assert settings.host == "127.0.0.1"
    assert settings.data_dir == tmp_path / "var"
    assert settings.is_sqlite
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path}/var/beeldbel.sqlite3"
    assert settings.keys_dir == tmp_path / "var" / "keys"


def test_environment_overrides_file_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "beeldbel.toml"
    config.write_text('port = 9000\nlog_format = "console"\nhost = "127.0.0.2"\n')
    monkeypatch.setenv("BEELDBEL_PORT", "9100")
    settings = load_settings(config)
    assert (settings.port, settings.log_format.value, settings.host) == (
        9100,
        "console",
        "127.0.0.2",
    )
    monkeypatch.setenv("BEELDBEL_CONFIG", str(config))
    monkeypatch.delenv("BEELDBEL_PORT")
    assert load_settings().port == 9000


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("BEELDBEL_PORT", "eighty", "BEELDBEL_PORT"),
        ("BEELDBEL_PORT", "70000", "BEELDBEL_PORT"),
        ("BEELDBEL_LOG_LEVEL", "loud", "BEELDBEL_LOG_LEVEL"),
        ("BEELDBEL_DATABASE_URL", "mysql://x", "BEELDBEL_DATABASE_URL"),
        ("BEELDBEL_MAX_BODY_BYTES", "5", "BEELDBEL_MAX_BODY_BYTES"),
    ],
)
def test_a_bad_variable_fails_fast_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert named in str(caught.value)


def test_unknown_key_or_broken_file_or_missing_file_is_a_config_error(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("prot = 8080\n")
    with pytest.raises(ConfigError, match="BEELDBEL_PROT"):
        load_settings(unknown)
    broken = tmp_path / "broken.toml"
    broken.write_text("port = [\n")
    with pytest.raises(ConfigError, match="invalid configuration"):
        load_settings(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml")


def test_secrets_do_not_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEELDBEL_METRICS_TOKEN", "s3cret-value")
    settings = load_settings()
    assert settings.metrics_token == "s3cret-value"
    assert "s3cret-value" not in repr(settings)
