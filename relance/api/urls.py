"""/api/v1/: the Ninja API, with 405s and unknown paths in the API's error shape."""

from django.urls import URLPattern, URLResolver, re_path

from relance.api.api import api
from relance.api.errors import not_found_view, with_error_shape

patterns, _app_name, namespace = api.urls
app_name = namespace  # so that Ninja can reverse "api-v1:openapi-json"


def _shaped(pattern: URLPattern | URLResolver) -> URLPattern | URLResolver:
    if isinstance(pattern, URLPattern):
        pattern.callback = with_error_shape(pattern.callback)
    return pattern


urlpatterns = [_shaped(pattern) for pattern in patterns] + [re_path(r"", not_found_view)]
