from django.urls import path

from conversations.ui import views

app_name = "inbox"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/c/<int:conversation_id>/", views.inbox, name="conversation"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]
