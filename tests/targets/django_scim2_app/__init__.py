"""The models django-scim2 serves (its SCIM mixins on a user and a group), for tests/targets/django_scim2_server.py only:
it runs in django-scim2's own virtualenv (tests/targets/installs.py), never in the portal's."""
