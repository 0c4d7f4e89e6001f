"""The built-in controllers ``gitstore controllers`` (and ``serve``) run."""
