"""``EnvelopeJSONRenderer``: DRF's JSON renderer that never lets an error out unenveloped.

Put it first in ``REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"]``. Success responses render
exactly as with ``rest_framework.renderers.JSONRenderer``. A view that *returns* an error
response itself, such as ``Response(serializer.errors, status=400)``, is rendered as the
envelope, its data becoming the validation details.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import JSONRenderer

from counterbalance_errors import catalog, context, responses


class EnvelopeJSONRenderer(JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is None or response.status_code < 400 or responses.is_envelope(response):
            return super().render(data, accepted_media_type, renderer_context)
        request = (renderer_context or {}).get("request")
        error = catalog.from_response_data(response.status_code, data)
        if getattr(response, "accepted_renderer", self) is not self:
            # Another renderer (the browsable API's HTML page for ``Accept: text/html`` or
            # ``?format=api``) embeds our output in its own: remember the error, with its
            # details, for the middleware, which rewrites that page into the envelope.
            context.attach(request, error)
            return super().render(data, accepted_media_type, renderer_context)
        _, rendered = responses.render(error, responses.prepare(request, error))
        responses.apply(response, rendered)
        return rendered.content
