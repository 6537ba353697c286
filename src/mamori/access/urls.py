"""URLs under /account/: one's own account, the second sign-in step, users, a client's people,
officers and the provider settings. Names are flat (``account_security``, ``user_list``)."""

from django.urls import path

from mamori.access import views

urlpatterns = [
    path("", views.account_security, name="account_security"),
    path("password/", views.password_change, name="password_change"),
    path("2fa/", views.totp_enrol, name="totp_enrol"),
    path("2fa/disable/", views.totp_disable, name="totp_disable"),
    path("2fa/recovery-codes/", views.recovery_codes_renew, name="recovery_codes_renew"),
    path("tokens/", views.token_create, name="token_create"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("login/code/", views.login_code, name="login_code"),
    path("login/enrol/", views.login_enrol, name="login_enrol"),
    path("users/", views.user_list, name="user_list"),
    path("users/add/", views.staff_create, name="staff_create"),
    path("users/<int:pk>/", views.user_edit, name="user_edit"),
    path("users/<int:pk>/password/", views.user_password, name="user_password"),
    path("users/<int:pk>/2fa/reset/", views.user_reset_2fa, name="user_reset_2fa"),
    path("clients/<str:code>/", views.client_access, name="client_access"),
    path("clients/<str:code>/users/add/", views.client_user_create, name="client_user_create"),
    path("clients/<str:code>/officers/", views.client_officers, name="client_officers"),
    path("provider/", views.provider_settings, name="provider_settings"),
]
