"""libvirt: domains followed by the agent (watcher); filters and bindings imported from libvirt."""
