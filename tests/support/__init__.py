"""Helpers shared by several test packages (servers in threads, child processes, GraphQL calls)."""
