from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import include, path

from tests import views


def template_view(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "admin/base.html", {})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("drf/raise/<str:kind>/", views.RaiseAPIView.as_view()),
    path("plain/raise/<str:kind>/", views.raise_plain),
    path("async/raise/<str:kind>/", views.raise_async),
    path("drf/payload/", views.PayloadView.as_view()),
    path("drf/many/", views.ManyItemsView.as_view()),
    path("drf/echo/", views.EchoView.as_view()),
    path("drf/widgets/", views.WidgetCreateView.as_view()),
    path("drf/widgets/<int:pk>/", views.WidgetView.as_view()),
    path("drf/basic/", views.BasicAuthView.as_view()),
    path("drf/session/", views.SessionAuthView.as_view()),
    path("drf/throttled/", views.ThrottledView.as_view()),
    path("drf/stock-ratelimited/", views.StockRatelimitedView.as_view()),
    path("drf/ratelimited/", views.RatelimitedAPIView.as_view()),
    path("drf/returns-none/", views.ReturnsNoneView.as_view()),
    path("drf/unrenderable/", views.UnrenderableView.as_view()),
    path("drf/returns-errors/", views.ReturnsErrorsView.as_view()),
    path("drf/success/", views.SuccessView.as_view()),
    path("drf/success-function/", views.success_function_view),
    path("plain/success/", views.plain_success),
    path("async/success/", views.async_success),
    path("plain/form/", views.plain_post_form),
    path("plain/returns-none/", views.plain_returns_none),
    path("plain/bad-header/", views.plain_bad_header),
    path("plain/disallowed-redirect/", views.plain_disallowed_redirect),
    path("plain/only-post/", views.OnlyPostView.as_view()),
    path("plain/returns-error/", views.plain_returns_error),
    path("plain/ratelimited/", views.plain_ratelimited),
    path("async/ratelimited/", views.async_ratelimited),
    path("plain/stock-ratelimited/", views.plain_stock_ratelimited),
    path("plain/create-part/", views.create_part),
    path("plain/create-then-fail/", views.plain_create_then_fail),
    path("plain/template/", template_view),
    path("dj/", include("tests.support.urls_django_paths")),
    path("drf-real/", include("tests.support.views_drf")),
    path("rl/", include("tests.support.views_ratelimit")),
    path("profiles/", include("tests.support.views_profiles")),
    path("errorlog/", include("tests.views_errorlog")),
    path("logged-fixes/", include("tests.support.views_secrets")),
    path("retry/", include("tests.support.views_retry")),
    path("bad-input/", include("tests.support.bad_input")),
]

handler400 = "counterbalance_errors.views.bad_request"
handler403 = "counterbalance_errors.views.permission_denied"
handler404 = "counterbalance_errors.views.page_not_found"
handler500 = "counterbalance_errors.views.server_error"
