from django.contrib.auth import views as auth_views
from django.urls import path

from servicecharter.accounts import token_views

app_name = "accounts"
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

urlpatterns += [
    path("tokens/", token_views.token_list, name="tokens"),
    path("tokens/new/", token_views.token_new, name="token_new"),
    path("tokens/<int:pk>/revoke/", token_views.token_revoke_view, name="token_revoke"),
]
