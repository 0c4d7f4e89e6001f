"""Git over Smart HTTP on the API (``routes.GitHttp``) and the git access rule shared with
the hook service (``access.authorize_git``). See docs/git-transport.md."""

from .routes import GitHttp

__all__ = ["GitHttp"]
