"""Provider blocks: an administrator blocks a CIDR (optionally one protocol and port range) for every
guest, ahead of all security groups; unblock by id or by what was blocked. Blocking kills the connections
with an end in the CIDR that the block now drops."""

from __future__ import annotations

from uuid import uuid4

from guestwall.cloud import validate as v
from guestwall.cloud.commit import enforce, finish
from guestwall.cloud.lookup import describe_block, resolve
from guestwall.cloud.outcome import CloudContext, Outcome
from guestwall.cloud.revoke import Revoked
from guestwall.cloud.sync import Scope
from guestwall.cloud.validate import CloudConflict, CloudInputError, CloudNotFound
from guestwall.model.cloud import BlockKind, Network, ProviderBlock
from guestwall.store.cloudrepo import CloudReader, cloud_reader, cloud_writer


def block(
    ctx: CloudContext,
    cidr: Network,
    protocol: str | None = None,
    ports: tuple[int, int] | None = None,
    description: str = "",
    *,
    force: bool = False,
    log: bool = False,
) -> Outcome[ProviderBlock]:
    """Block a CIDR (optionally one protocol and port range) for every guest, ahead of all groups.
    Blocking every address (0.0.0.0/0, ::/0) cuts every guest off: it needs ``force``. A block inside an
    existing one of the same kind is stored with a warning (it takes effect if that one goes)."""
    new = _checked_block(cidr, protocol, ports, description, force, log)
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        for existing in repo.provider_blocks(new.cidr):
            if existing.kind == new.kind:
                raise CloudConflict(f"{describe_block(existing)} is already blocked ({existing.id})")
        covered = tuple(
            f"{describe_block(new)} is already covered by the block of {describe_block(other)} "
            f"({other.id}); it takes effect if that one goes"
            for other in repo.provider_blocks_around(new.cidr)
            if other.kind == new.kind
        )
        repo.add_provider_block(new)
        applied = enforce(ctx, writer, repo, Scope(provider=True, blocks_added=[new]))
    # only flows with an end in the new block's CIDR are looked at: the new block decides them
    revoked = Revoked(everyone=True, peers=new.cidr)
    return finish(ctx, new, applied, revoked, warnings=covered)


def unblock(
    ctx: CloudContext, ref: str, protocol: str | None = None, ports: tuple[int, int] | None = None
) -> Outcome[list[ProviderBlock]]:
    """Remove a block by id (or its start), or by CIDR (with protocol and ports as given to block)."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        gone = _blocks_matching(repo, ref, protocol, ports)
        for found in gone:
            repo.delete_provider_block(found.id)
        applied = enforce(ctx, writer, repo, Scope(provider=True, blocks_removed=gone))
    return finish(ctx, gone, applied)


def list_blocks(ctx: CloudContext) -> list[ProviderBlock]:
    with ctx.store.read() as reader:
        return cloud_reader(reader).provider_blocks()


def _checked_block(
    cidr: Network,
    protocol: str | None,
    ports: tuple[int, int] | None,
    description: str,
    force: bool,
    log: bool,
) -> ProviderBlock:
    cidr = v.checked_network(cidr, "CIDR")
    if cidr.prefixlen == 0 and not force:
        raise CloudInputError(
            f"blocking {cidr} cuts every guest off from every address: give --force if that is meant"
        )
    ports = v.checked_ports(ports)
    if protocol is not None and not isinstance(protocol, str):
        raise CloudInputError(f"invalid protocol {protocol!r} for a provider block")
    protocol = protocol.lower() if protocol is not None and protocol.lower() not in ("any", "") else None
    if ports is not None and protocol not in ("tcp", "udp"):
        raise CloudInputError(
            f"a port range needs protocol tcp or udp (the block's protocol is {protocol or 'any'})"
        )
    if protocol not in (None, "tcp", "udp", "icmp"):
        raise CloudInputError(
            f"invalid protocol '{protocol}' for a provider block: expected any, tcp, udp or icmp"
        )
    lo, hi = ports if ports is not None else (None, None)
    return ProviderBlock(str(uuid4()), cidr, protocol, lo, hi, description, log)


def _blocks_matching(
    repo: CloudReader, ref: str, protocol: str | None, ports: tuple[int, int] | None
) -> list[ProviderBlock]:
    """The blocks ``ref`` names: a CIDR (with the protocol and ports it was blocked with), or an id."""
    if "/" in ref or ":" in ref or ref.count(".") == 3:
        cidr = v.network(ref)
        lo, hi = ports if ports is not None else (None, None)
        found = [b for b in repo.provider_blocks(cidr) if b.kind == BlockKind(protocol, lo, hi)]
        if not found:
            what = describe_block(ProviderBlock("", cidr, protocol, lo, hi))
            raise CloudNotFound(f"{what} is not blocked")
        return found
    # by exact id with one indexed lookup; only a start of an id reads every id (there may be 10,000)
    one = repo.provider_block(ref) or repo.provider_block(
        resolve(ref, repo.provider_block_ids(), lambda i: i, "provider block")
    )
    return [one] if one is not None else []
