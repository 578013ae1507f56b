"""Who may call: API tokens (provisioning.api_tokens), their role, and a request budget per token."""

from django.conf import settings
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer
from ninja.throttling import AuthRateThrottle

from provisioning.api.errors import ApiError
from provisioning.api_tokens import TokenRejected, authenticate


class TokenAuth(HttpBearer):
    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        if not header:
            raise AuthenticationError()  # errors.unauthenticated says what to send
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError(message="The Authorization header must read 'Bearer <token>' with a portal API token.")
        return self.authenticate(request, value.strip())

    def authenticate(self, request, token):
        try:
            return authenticate(token)
        except TokenRejected as exc:
            raise AuthenticationError(message=str(exc)) from None


class TokenThrottle(AuthRateThrottle):
    """Ninja's per-token throttle (keyed on str(token): its name and prefix) at PORTAL_API_THROTTLE_RATE, read
    on each request so an operator's change (and a test's) applies without a restart."""

    def __init__(self):
        super().__init__(rate=settings.PORTAL_API_THROTTLE_RATE)

    def allow_request(self, request):
        self.rate = settings.PORTAL_API_THROTTLE_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)


def admin_only(request):
    """Every write, and what only Administrators see on the pages (the mapping configuration): a read-only token
    reads what Helpdesk reads — the jobs' status, the provisioning logs, the directory."""
    token = request.auth
    if not token.is_admin:
        raise ApiError(403, f"Only Administrators can do this: the token '{token.name}' is read-only. Use a token "
                            "with the Administrator role.")
    return token


def requested_by(request):
    """The portal user behind the token (who created it), named as the requester in cycles and runs."""
    return request.auth.created_by
