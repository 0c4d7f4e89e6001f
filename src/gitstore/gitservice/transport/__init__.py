"""git's own transport: the smart protocol, hooks and quarantined pushes.

``GitTransport`` (``push``) is what the rest of the git service uses: ``open(...)`` gives an
``Invocation`` of ``git upload-pack`` / ``git receive-pack`` (``process``) for the
stateless RPCs (``rpcs``: ``AdvertiseRefs``, ``UploadPack``, ``ReceivePack``) and for SSH
sessions (``process.spawn_async``); receive-pack runs the service's hooks (``hooks``), which
report to a local socket: pre-receive registers the quarantine (``quarantine``, readable by
the read RPCs with a ``quarantine_id``), describes the push (``analysis``, ``signatures``)
and asks the API's ``HookService`` (``hookclient``); accepted updates become outbox events.
See docs/git-transport.md.
"""
