"""GitStore: a commerce catalogue engine whose source of truth is Git.

Layers (imports only flow downward, checked by import-linter):

    cli  ->  api / gitservice / worker / controllers  ->  backends  ->  domain

``gitstore.git.v1`` holds the code generated from ``proto/gitstore/git/v1/git_service.proto``;
it is the only piece of the git service the API and worker may import.
"""

__version__ = "0.1.0"
