from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    """Django's admin, with the back office's site as the default ``admin.site``."""

    default_site = "core.sites.BackOfficeSite"
