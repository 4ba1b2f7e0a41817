"""Store URLs: ``open_store`` picks the backend, refuses what it does not know, and never shows a password."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow import ConfigError
from sim_servicenow.engine import MemoryStore, PostgresStore, SqliteStore, mask_store_url, open_store


def test_memory_url_opens_a_memory_store() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)


def test_sqlite_urls_take_relative_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data dir").mkdir()

    relative = open_store("sqlite:///data%20dir/state.db")
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")  # tmp_path starts with "/": four slashes in all
    upper = open_store(f"SQLite:///{tmp_path}/upper.db")

    assert isinstance(relative, SqliteStore)
    assert isinstance(absolute, SqliteStore)
    assert relative.path == str(tmp_path / "data dir" / "state.db")
    assert absolute.path == str(tmp_path / "abs.db")
    assert (tmp_path / "data dir" / "state.db").exists()
    assert (tmp_path / "upper.db").exists()
    for store in (relative, absolute, upper):
        store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgresql_urls_open_a_postgres_store(postgres_dsn: str, scheme: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(postgres_dsn)
    options = str(parts["options"]).replace(" ", "%20").replace("=", "%3D")
    url = f"{scheme}://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}?options={options}"

    store = open_store(url)

    assert isinstance(store, PostgresStore)
    store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("state.db", "not a store URL"),
        ("mysql://app:hunter2@db/state", "unknown store scheme 'mysql'"),
        ("redis://:hunter2@cache:6379/0", "unknown store scheme 'redis'"),
        ("sqlite://state.db", "three slashes"),
        ("sqlite://host/state.db", "three slashes"),
        ("sqlite:///", "give a file path"),
        ("sqlite:///:memory:", "use memory://"),
        ("sqlite:///state.db?mode=ro", "no query"),
        ("memory://somewhere", "memory:// takes no path"),
    ],
)
def test_urls_that_name_no_store_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match="invalid store URL") as refused:
        open_store(url)

    assert [p.path for p in refused.value.problems] == ["store"]
    assert message in refused.value.problems[0].message
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://sim:pw@db:5432/sim", "postgresql://sim:***@db:5432/sim"),
        ("postgresql://sim@db/sim", "postgresql://sim@db/sim"),
        ("postgresql://sim:p%40ss@db1:5432,db2:5432/sim", "postgresql://sim:***@db1:5432,db2:5432/sim"),
        (
            "postgresql://db/sim?user=sim&password=pw&sslmode=require",
            "postgresql://db/sim?user=sim&password=***&sslmode=require",
        ),
        ("host=db password=pw dbname=sim", "host=db password=*** dbname=sim"),
        ("host=db password = 'p w\\'x' dbname=sim", "host=db password = *** dbname=sim"),
        ("host=db PASSWORD=pw", "host=db PASSWORD=***"),
        ("sqlite:////var/lib/sim/state.db", "sqlite:////var/lib/sim/state.db"),
        ("memory://", "memory://"),
    ],
)
def test_mask_store_url(url: str, masked: str) -> None:
    assert mask_store_url(url) == masked


_secret = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$()*+,;-._~", min_size=6, max_size=30)


@given(password=_secret, user=st.from_regex(r"[a-z]{1,8}", fullmatch=True))
def test_no_password_survives_masking(password: str, user: str) -> None:
    password = f"Zq{password}"  # cannot occur elsewhere in the URL by chance
    for url in (
        f"postgresql://{user}:{password}@db.example:5432/sim",
        f"postgresql://{user}@db.example/sim?password={password}",
        f"host=db.example user={user} password={password} dbname=sim",
        f"host=db.example user={user} password='{password}' dbname=sim",
    ):
        assert password not in mask_store_url(url)


def test_postgres_without_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the postgres extra were not installed

    with pytest.raises(ConfigError, match=r"pip install 'sim-servicenow\[postgres\]'"):
        open_store("postgresql://sim@db.example/sim")
