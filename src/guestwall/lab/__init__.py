"""The namespace lab: a bridge in ``<prefix>-host`` and guests in their own namespaces, built with pyroute2,
so demos and tests can prove enforcement with real frames. Traffic tools live in ``guestwall.lab.traffic``.
"""

from guestwall.lab.build import lab_down, lab_status, lab_up
from guestwall.lab.netns import in_netns, netns_socket, popen_in_netns, run_in_netns
from guestwall.lab.spec import Guest, Lab, LabSpec

__all__ = [
    "Guest",
    "Lab",
    "LabSpec",
    "in_netns",
    "lab_down",
    "lab_status",
    "lab_up",
    "netns_socket",
    "popen_in_netns",
    "run_in_netns",
]
