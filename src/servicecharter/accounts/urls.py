from django.urls import path

from servicecharter.accounts import token_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.sign_in, name="login"),
    path("login/code/", views.sign_in_totp, name="login_totp"),
    path("logout/", views.sign_out, name="logout"),
    path("me/", views.account, name="account"),
    path("me/password/", views.password_change, name="password_change"),
    path("me/second-factor/", views.totp_enrol, name="totp_enrol"),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:user_id>/", views.user_detail, name="user_detail"),
    path("users/<int:user_id>/grant/", views.user_grant, name="user_grant"),
    path(
        "users/<int:user_id>/grants/<int:grant_id>/revoke/", views.user_revoke, name="user_revoke"
    ),
    path("users/<int:user_id>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("users/<int:user_id>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("users/<int:user_id>/unlock/", views.user_unlock, name="user_unlock"),
    path("users/<int:user_id>/second-factor/reset/", views.user_totp_reset, name="user_totp_reset"),
    path("users/<int:user_id>/password/", views.user_set_password, name="user_set_password"),
]

urlpatterns += [
    path("tokens/", token_views.token_list, name="tokens"),
    path("tokens/new/", token_views.token_new, name="token_new"),
    path("tokens/<int:pk>/revoke/", token_views.token_revoke_view, name="token_revoke"),
]
