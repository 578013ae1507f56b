from provisioning.roles import is_administrator, is_reader


def roles(request):
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {"is_administrator": is_administrator(user), "is_reader": is_reader(user)}
