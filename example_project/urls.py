from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from example_project import views

router = DefaultRouter()
router.register("products", views.ProductViewSet)
router.register("orders", views.OrderViewSet)

urlpatterns = [
    path("", views.index, name="index"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/<str:version>/products/", views.VersionedProducts.as_view()),
    path("api/me/", views.MeView.as_view()),
    path("api/warehouse/", views.WarehouseView.as_view()),
    path("api/checkout/", views.CheckoutView.as_view()),
    path("api/", include(router.urls)),
    path("demo/raise/<str:kind>/", views.RaiseView.as_view()),
    path("demo/conflict/", views.conflict),
    path("demo/in-use/", views.in_use),
    path("demo/crash/", views.crash),
    path("demo/async-crash/", views.async_crash),
    path("demo/not-implemented/", views.not_implemented),
    path("demo/maintenance/", views.maintenance),
    path("demo/locked/", views.locked),
    path("demo/bad-host/", views.bad_host),
    path("demo/too-large/", views.too_large),
    path("demo/timeout/", views.timeout),
    path("demo/only-post/", views.only_post),
    path("demo/returns-errors/", views.returns_errors),
    path("demo/generate/", views.generate_errors, name="generate-errors"),
]

# The root URLconf's error handlers: URL-resolver 404s and middleware errors get the envelope.
handler400 = "counterbalance_errors.views.bad_request"
handler403 = "counterbalance_errors.views.permission_denied"
handler404 = "counterbalance_errors.views.page_not_found"
handler500 = "counterbalance_errors.views.server_error"
