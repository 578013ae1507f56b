"""The 400 page, saying which limit a request went over instead of "could not be used"."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.shortcuts import render

from provisioning.forms.assignments import ASSIGN_LIMIT


def bad_request(request, exception=None):
    """handler400: Django's limits on what one request may carry, in words; anything else as the 400 page says."""
    problem = ""
    if isinstance(exception, TooManyFieldsSent):
        problem = (
            f"The form sent more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} values, the most one request may "
            f"carry. Send fewer at once: Users and groups assigns at most {ASSIGN_LIMIT:,} users and groups per "
            "Assign (assign a group that holds them, or assign in batches)."
        )
    elif isinstance(exception, TooManyFilesSent):
        problem = f"The form sent more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files: send fewer at once."
    elif isinstance(exception, RequestDataTooBig):
        problem = (
            f"The request is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024:g} MiB, the most the "
            "portal reads in one request: send less at once (import large directories with manage.py import_directory)."
        )
    return render(request, "400.html", {"problem": problem} if problem else {}, status=400)
