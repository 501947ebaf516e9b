"""What Django's error reports may show of the settings.

Django hides settings whose names say API, TOKEN, KEY, SECRET, PASS or SIGNATURE. Ours also
carry credentials inside URLs and connection settings (``postgres://user:password@...``,
``redis://:password@...``), under names Django does not recognise: hide those as well.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_URL|BROKER|CHANNEL_LAYERS|CACHES",
        flags=re.IGNORECASE,
    )
