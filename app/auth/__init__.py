"""Login, logout, users and the role guard every route goes through."""

from app.auth.views import bp

__all__ = ["bp"]
