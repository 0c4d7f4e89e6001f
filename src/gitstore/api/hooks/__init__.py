"""The API's hook service (``HookService`` gRPC, called by the git service while it serves git):
``server`` (the gRPC server, SSH key authentication, git authorisation), ``prereceive`` (the
push policy and content checks) and ``postreceive`` (audit, releases). See
docs/git-transport.md."""
