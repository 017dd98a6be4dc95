"""Shared code of the conduit CLI tools (tools/dump, hz, bw, topics, route_info, export, plot)."""
