"""Whether the store still holds everything the cloud objects derive, and restoring what it lacks.

The low-level commands refuse generated objects (services.ownership), but a store edited by hand, by an
older version or restored from a partial backup can still lack a cloud port's binding or a generated
filter; the port would then claim port security that nothing enforces. ``status`` reports such gaps,
``apply`` and the agent restore them (cloud.sync rewrites only what differs) before enforcing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from guestwall.cloud import basefilters as base
from guestwall.cloud import translate as tr
from guestwall.store.records import Reader, Writer

if TYPE_CHECKING:
    from guestwall.store.cloudrepo import CloudReader


def _repo(reader: Reader) -> CloudReader | None:
    from guestwall.store.cloudrepo import cloud_reader
    from guestwall.store.sqlstore import SqlReader

    return cloud_reader(reader) if isinstance(reader, SqlReader) else None


def missing(reader: Reader) -> list[str]:
    """What the cloud objects need and the store lacks, one phrase each (empty: nothing; also when the
    store has no cloud objects, or is read through a path without the cloud tables)."""
    repo = _repo(reader)
    if repo is None:
        return []
    ports = repo.ports()
    groups = repo.groups()
    if not ports and not groups and not repo.provider_block_ids():
        return []
    filters = {record.name for record in reader.filters()}
    gaps = [f"generated filter '{name}'" for name in base.filters() if name not in filters]
    if tr.PROVIDER not in filters:
        gaps.append(f"generated filter '{tr.PROVIDER}'")
    gaps += [
        f"filter '{tr.group_filter_name(g.id)}' of security group '{g.name}'"
        for g in groups
        if tr.group_filter_name(g.id) not in filters
    ]
    bound = repo.bound_devices()
    for port in ports:
        wanted = tr.port_filter_name(port)
        if bound.get(port.device) != wanted:
            gaps.append(f"binding of cloud port {port.device} (to filter '{wanted}')")
        elif wanted not in filters:
            gaps.append(f"filter '{wanted}' of cloud port {port.device}")
    return gaps


def restore(writer: Writer) -> list[str]:
    """Rewrite what the cloud objects derive when something is missing; returns what was missing."""
    from guestwall.cloud.sync import Scope, sync

    gaps = missing(writer)
    if gaps:
        from guestwall.store.cloudrepo import CloudRepo, cloud_writer

        # sync is typed with the SQL implementation of CloudWriter
        sync(writer, cast(CloudRepo, cloud_writer(writer)), Scope(everything=True))
    return gaps
