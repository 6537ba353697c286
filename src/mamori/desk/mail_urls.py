"""Pages of the desk's mailbox: unmatched e-mail and assigning it (included by
mamori.desk.urls)."""

from django.urls import path

from mamori.desk import mail_views

urlpatterns: list = [
    path("mail/", mail_views.desk_mail_list, name="desk_mail_list"),
    path("mail/<int:pk>/assign/", mail_views.desk_mail_assign, name="desk_mail_assign"),
]
