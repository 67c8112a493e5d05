from servicecharter.accounts.navigation import menu_sections_for


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_sections": []}
    return {"nav_sections": menu_sections_for(user, request.path)}
