"""The product's settings plus the bare baseline view (bench/urls.py), for the live benchmarks' servers.

Served by the same daphne processes as the product, with the same middleware, so that the
baseline differs from the Twilio webhook only by what the webhook does.
"""

from inbox_project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
