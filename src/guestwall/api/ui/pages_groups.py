"""Security groups and their rules: list, create, show, delete; rules create and delete. Changes go through
the cloud use cases (one store and one kernel transaction each) and are refused inline with their message."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from guestwall.api.ui import forms, queries
from guestwall.api.ui import session as s
from guestwall.api.ui.pages_ports import page_of
from guestwall.api.ui.web import Call, add_page, changed, render
from guestwall.cloud import validate as v
from guestwall.cloud.outcome import Outcome
from guestwall.cloud.translate import group_filter_name
from guestwall.errors import ConflictError, InputError, NotFoundError
from guestwall.model.cloud import PROTOCOL_NUMBERS, SecurityGroup

# errors a form shows next to itself (the user can fix them), with the status of the re-rendered page
FORM_ERRORS: tuple[tuple[type[Exception], int], ...] = ((InputError, 400), (ConflictError, 409))
PROTOCOLS = ("any", *PROTOCOL_NUMBERS)


def _form_status(error: Exception) -> int | None:
    for kind, status in FORM_ERRORS:
        if isinstance(error, kind):
            return status
    return None


def _after(outcome: Outcome[object]) -> str:
    """What a change did beyond itself, for its confirmation."""
    extra = ""
    if outcome.killed:
        extra += f"; {len(outcome.killed)} connection(s) the rules no longer allow were closed"
    for warning in outcome.warnings:
        extra += f"; warning: {warning}"
    return extra


def groups(call: Call, errors: list[str] | None = None, status: int = 200) -> Response:
    page = queries.groups_page(call.deps.store, call.viewer.scope, page_of(call))
    return render(call, call.request, "groups.html", status, slice=page, errors=errors or [], form=call.form)


def create_group(call: Call) -> Response:
    project = call.viewer.project
    try:
        name = forms.text(call.form, "name", "name", required=True)
        description = forms.text(call.form, "description", "description")
        if call.viewer.is_admin:
            project = forms.text(call.form, "project", "project") or project
        cloud = call.deps.cloud()
        made = cloud.create_group(name, project, description)
    except (InputError, ConflictError) as e:
        return groups(call, [str(e)], _form_status(e) or 400)
    group = made.value
    message = f"Security group '{group.name}' created in project {group.project}{_after(made)}"
    return changed(call, f"/ui/groups/{group.id}", message)


def _visible_group(call: Call) -> SecurityGroup:
    """The group of the URL if the viewer may see it (its project's, or shared), else 404 as the API."""
    group = queries.group_with_rules(call.deps.store, call.arg("group"))
    if group is None or not (call.viewer.sees(group.project) or group.shared):
        raise s.not_found(f"security group '{call.arg('group')}'")
    return group


def _changeable_group(call: Call) -> SecurityGroup:
    """A group the viewer may change: a shared group of another project can be seen and used, not changed."""
    group = _visible_group(call)
    if not call.viewer.sees(group.project):
        raise s.forbidden(
            f"security group '{group.name}' belongs to another project: it can be used, not changed"
        )
    return group


def group(call: Call, errors: list[str] | None = None, status: int = 200) -> Response:
    found = _visible_group(call)
    store = call.deps.store
    remotes = queries.groups_in_project(store, found.project)
    names = dict(remotes)
    members, member_count = queries.ports_in_group(store, found.id)
    return render(
        call,
        call.request,
        "group.html",
        status,
        group=found,
        can_change=call.viewer.can_write and call.viewer.sees(found.project),
        kernel_filter=group_filter_name(found.id),
        names=names,
        remotes=remotes,
        members=members,
        member_count=member_count,
        protocols=PROTOCOLS,
        errors=errors or [],
        form=call.form,
    )


def delete_group(call: Call) -> Response:
    found = _changeable_group(call)
    cloud = call.deps.cloud()
    try:
        gone = cloud.delete_group(found.id)
    except (ConflictError, NotFoundError) as e:
        return group(call, [str(e)], 409)
    return changed(call, "/ui/groups", f"Security group '{found.name}' deleted{_after(gone)}")


def create_rule(call: Call) -> Response:
    found = _changeable_group(call)
    try:
        spec = forms.rule_spec(call.form)
        if spec.remote_group is not None:
            own = dict(queries.groups_in_project(call.deps.store, found.project))
            if spec.remote_group not in own:  # another project's group is not a remote a rule may name
                raise v.CloudNotFound(f"unknown security group '{spec.remote_group}'")
        cloud = call.deps.cloud()
        made = cloud.create_rule(found.id, spec, found.project)
    except (InputError, ConflictError, NotFoundError) as e:
        return group(call, [str(e)], _form_status(e) or 400)
    return changed(
        call, f"/ui/groups/{found.id}", f"Rule {made.value.id} added to '{found.name}'{_after(made)}"
    )


def delete_rule(call: Call) -> Response:
    found = _changeable_group(call)
    rule_id = call.arg("rule")
    if rule_id not in {r.id for r in found.rules}:
        raise s.not_found(f"rule '{rule_id}' of security group '{found.name}'")
    cloud = call.deps.cloud()
    gone = cloud.delete_rule(rule_id)
    return changed(call, f"/ui/groups/{found.id}", f"Rule {rule_id} deleted{_after(gone)}")


def register(router: APIRouter) -> None:
    add_page(router, "GET", "/groups", groups)
    add_page(router, "POST", "/groups", create_group)
    add_page(router, "GET", "/groups/{group}", group)
    add_page(router, "POST", "/groups/{group}/delete", delete_group)
    add_page(router, "POST", "/groups/{group}/rules", create_rule)
    add_page(router, "POST", "/groups/{group}/rules/{rule}/delete", delete_rule)
