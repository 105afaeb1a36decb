"""The version document and ``/v2.0/extensions``: exactly the Neutron extensions guestwall implements."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["meta"])

EXTENSIONS = (
    ("security-group", "security-group", "The security groups extension."),
    ("address-group", "address-group", "Address groups: named CIDRs."),
    (
        "security-groups-remote-address-group",
        "Remote address group id field for security group rules",
        "Rules may name an address group as their remote side.",
    ),
    ("standard-attr-revisions", "Resource revision numbers", "revision_number on every resource."),
    ("revision-if-match", "If-Match constraints based on revision_number", "412 on a stale If-Match."),
    ("standard-attr-timestamp", "Resource timestamps", "created_at and updated_at."),
    ("pagination", "Pagination support", "limit, marker and page_reverse."),
    ("sorting", "Sorting support", "sort_key and sort_dir."),
    ("project-id", "project_id field enabled", "project_id beside tenant_id."),
    ("filter-validation", "Filter parameters validation", "Unknown filters answer 400."),
    ("port-security", "Port Security", "port_security_enabled on ports."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Extra addresses a port may use."),
    ("binding", "Port Binding", "binding:host_id on ports."),
    ("rbac-policies", "RBAC Policies", "Sharing security groups with every project."),
    ("rbac-security-groups", "Add RBAC support to security groups", "access_as_shared to '*'."),
)


@router.get("/", summary="API versions")
def versions(request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"href": f"{base}/v2.0/", "rel": "self"}]}]
    }


@router.get("/v2.0/extensions", summary="The Neutron extensions implemented")
def extensions() -> dict[str, Any]:
    return {
        "extensions": [
            {
                "alias": alias,
                "name": name,
                "description": text,
                "links": [],
                "updated": "2026-12-06T00:00:00Z",
            }
            for alias, name, text in EXTENSIONS
        ]
    }
