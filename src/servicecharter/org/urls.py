from django.urls import path

from servicecharter.org import views

app_name = "org"
urlpatterns: list = [
    path("departments/", views.department_list, name="department_list"),
    path("departments/tree/", views.department_tree, name="department_tree"),
    path("departments/new/", views.department_create, name="department_create"),
    path("departments/<int:pk>/", views.department_detail, name="department_detail"),
    path("departments/<int:pk>/edit/", views.department_edit, name="department_edit"),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/new/", views.staff_create, name="staff_create"),
    path("staff/<int:pk>/", views.staff_detail, name="staff_detail"),
    path("staff/<int:pk>/edit/", views.staff_edit, name="staff_edit"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="customer_edit"),
    path(
        "customers/<int:pk>/reveal/<str:field>/",
        views.customer_reveal,
        name="customer_reveal",
    ),
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_create, name="product_create"),
    path("products/<int:pk>/", views.product_detail, name="product_detail"),
    path("products/<int:pk>/edit/", views.product_edit, name="product_edit"),
    path("business-types/", views.business_type_list, name="business_type_list"),
    path("business-types/new/", views.business_type_create, name="business_type_create"),
    path("business-types/<int:pk>/", views.business_type_detail, name="business_type_detail"),
    path("business-types/<int:pk>/edit/", views.business_type_edit, name="business_type_edit"),
]
