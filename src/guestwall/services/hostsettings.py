"""Host settings that change enforcement, kept in the store as desired state (table ``host_settings``).

Which interfaces are guest ports, what unbound guest ports get (dropped, or a default filter) and the DHCP
snooping rates decide what the kernel enforces. Read from a configuration file by each command, a later
command run without that file would silently undo them (fail-closed drops removed, ports open again). So
they live in the store: ``guestwall host-settings set`` changes them and enforces at once; a configuration
file seeds them into a store that has none (the first enforcing command that reads it), and afterwards a
file that says otherwise is reported, never obeyed silently. The file's [agent] timings stay the file's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from guestwall.config import (
    ENFORCEMENT_KEYS,
    ConfigError,
    HostConfig,
    enforcement_settings,
    load_config,
    with_settings,
)
from guestwall.dataplane.apply import ApplyResult
from guestwall.errors import StoreError
from guestwall.store.records import Reader, Store, Writer
from guestwall.store.tables import HostSettingRow

log = logging.getLogger("guestwall.settings")
SOURCE = "host settings in the store"
_reported: set[tuple[str, str]] = set()



if TYPE_CHECKING:
    from guestwall.engine import Engine

def stored_settings(reader: Reader) -> dict[str, Any] | None:
    """The stored settings by TOML key, or None when none were ever stored (or the reader cannot tell:
    the sqlite3 fast path has no settings reader)."""
    from guestwall.store.sqlstore import SqlReader

    if not isinstance(reader, SqlReader):
        return None
    rows = reader.session.execute(select(HostSettingRow.name, HostSettingRow.value)).all()
    if not rows:
        return None
    try:
        return {name: json.loads(value) for name, value in rows}
    except ValueError as e:
        raise StoreError(f"the stored host settings are not valid JSON: {e}") from None


def write_settings(writer: Writer, settings: Mapping[str, Any]) -> None:
    """Replace the stored settings (every enforcement key, defaults included: a stored store is complete)."""
    from guestwall.store.sqlstore import SqlWriter

    if not isinstance(writer, SqlWriter):
        raise TypeError("host settings need the SQL store")
    writer.session.execute(delete(HostSettingRow))
    writer.session.add_all(
        HostSettingRow(name=key, value=json.dumps(settings.get(key), sort_keys=True))
        for key in ENFORCEMENT_KEYS
    )
    writer.session.flush()
    writer.changed = True


def host_config(reader: Reader, file_config: HostConfig | None = None) -> HostConfig:
    """The host configuration enforcement is built from: the store's settings with the file's [agent]
    timings. A store without settings takes the file's, and keeps them when ``reader`` can write (seed)."""
    from guestwall.store.sqlstore import SqlWriter

    file_config = file_config if file_config is not None else load_config()
    stored = stored_settings(reader)
    from_file = enforcement_settings(file_config)
    if stored is None:
        if isinstance(reader, SqlWriter) and from_file != enforcement_settings(HostConfig()):
            write_settings(reader, from_file)
            log.info("host settings seeded from %s", file_config.source)
        return file_config
    config = with_settings(file_config, stored, SOURCE)
    _report_mismatch(file_config, from_file, enforcement_settings(config))
    return config


def _report_mismatch(file_config: HostConfig, from_file: dict[str, Any], stored: dict[str, Any]) -> None:
    """A file whose enforcement settings differ from the store's is told once per process and file."""
    if file_config.source is None or from_file == enforcement_settings(HostConfig()) or from_file == stored:
        return
    key = (file_config.source, json.dumps(stored, sort_keys=True))
    if key in _reported:
        return
    _reported.add(key)
    keys = ", ".join(k for k in ENFORCEMENT_KEYS if from_file[k] != stored[k])
    log.warning(
        "warning: %s sets %s differently from the host settings in the store, which apply; to use the "
        "file's: guestwall host-settings import %s",
        file_config.source,
        keys,
        file_config.source,
    )


@dataclass(frozen=True)
class Change:
    key: str
    old: Any
    new: Any
    weakens: str | None  # why the change enforces less, or None

    def text(self) -> str:
        line = f"{self.key}: {json.dumps(self.old)} -> {json.dumps(self.new)}"
        return f"{line} (weaker: {self.weakens})" if self.weakens else line


def changes(old: HostConfig, new: HostConfig) -> list[Change]:
    """What differs, each change that enforces less saying so (never a silent weakening)."""
    before, after = enforcement_settings(old), enforcement_settings(new)
    out = []
    for key in ENFORCEMENT_KEYS:
        if before[key] != after[key]:
            out.append(Change(key, before[key], after[key], _weakens(key, old, new)))
    return out


def _weakens(key: str, old: HostConfig, new: HostConfig) -> str | None:
    if key == "ports.guest_patterns":
        lost = sorted(set(old.guest_patterns) - set(new.guest_patterns))
        if lost:
            return f"interfaces matching {', '.join(lost)} are no longer guest ports: unbound ones pass"
    if key == "ports.unbound" and old.unbound == "drop" and new.unbound == "filter":
        return f"unbound guest ports are no longer dropped; they get filter {new.default_filter}"
    if key in ("ports.default_filter", "ports.default_parameters") and old.default_filtered:
        return "unbound guest ports get a different filter"
    return None


def update_settings(
    store: Store, engine: Engine, updates: Mapping[str, Any], *, replace_all: bool = False
) -> tuple[list[Change], ApplyResult]:
    """Change host settings (by TOML key; None resets one to its default) and enforce them in the same
    transaction: a change the kernel refuses is not stored. ``replace_all``: ``updates`` is the complete
    set (an imported file), keys it lacks go back to their defaults."""
    from guestwall.engine import converge

    file_config = load_config()
    with store.write() as writer:
        old = host_config(writer, file_config)
        merged = {} if replace_all else enforcement_settings(old)
        merged.update(updates)
        new = with_settings(file_config, merged, "the new host settings")
        write_settings(writer, enforcement_settings(new))
        if new.default_filter is not None and writer.filter_by_name(new.default_filter) is None:
            raise ConfigError(
                f"the new host settings: ports.default_filter: no filter '{new.default_filter}'"
            )
        return changes(old, new), engine.apply(writer, converge())


def import_file(store: Store, engine: Engine, path: str) -> tuple[list[Change], ApplyResult]:
    """Take a configuration file's enforcement settings as the host settings (its [agent] keys stay in it)."""
    return update_settings(store, engine, enforcement_settings(load_config(path)), replace_all=True)
