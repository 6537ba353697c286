"""URLs of backups under ``/backups/`` (names stay flat, e.g. "backup_job")."""

from mamori.backups.views import urlpatterns  # noqa: F401
