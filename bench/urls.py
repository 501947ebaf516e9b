"""The product's URLs plus ``/bench/insert/``: a bare Django view that does one INSERT (the ingest baseline)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inbox_project.urls import urlpatterns as product_urlpatterns

BASELINE_TABLE = "bench_baseline_insert"


@csrf_exempt
@require_POST
def insert_one(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BASELINE_TABLE} (sid, body, created_at) VALUES (%s, %s, now())",  # noqa: S608
            [request.POST.get("MessageSid", ""), request.POST.get("Body", "")],
        )
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?><Response />', content_type="text/xml")


urlpatterns = [path("bench/insert/", insert_one), *product_urlpatterns]
