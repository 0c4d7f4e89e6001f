"""Git over SSH for the git service: ``start_ssh_server(settings, store) -> SshHandle``.

See ``server`` (the asyncssh listener, authentication, sessions), ``command`` (the strict
command grammar), ``gitproc`` (running git), ``hookclient`` (the API's HookService) and
``hostkey`` (the persistent host key); docs/git-transport.md, section "SSH".
"""

from gitstore.gitservice.ssh.server import SshHandle, start_ssh_server

__all__ = ["SshHandle", "start_ssh_server"]
