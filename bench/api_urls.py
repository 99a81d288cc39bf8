"""reviewhub's URLs plus two bare Django views doing the same work, for bench/api.py."""

import hashlib
import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from PIL import Image

from reviewhub.urls import urlpatterns as reviewhub_urlpatterns


@csrf_exempt
def bare_upload(request: HttpRequest) -> JsonResponse:
    """The same upload with nothing of ours: read the file, decode it, store it under its hash."""
    data = request.FILES["evidence"].read()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        width, height = image.size
    digest = hashlib.sha256(data).hexdigest()
    name = default_storage.save(f"bare/{digest}.jpg", ContentFile(data))
    return JsonResponse({"name": name, "width": width, "height": height}, status=201)


def bare_read(request: HttpRequest, public_id: str) -> JsonResponse:
    """A read with nothing of ours: one row by public id, as JSON."""
    from refunds.models import RefundApplication

    row = RefundApplication.objects.filter(public_id=public_id).values().first()
    return JsonResponse({k: str(v) for k, v in row.items()})


urlpatterns = [
    *reviewhub_urlpatterns,
    path("bench/bare-upload", bare_upload),
    path("bench/bare-read/<str:public_id>", bare_read),
]
