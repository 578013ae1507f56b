"""What was learned about a target: shapes, refused and dropped paths, lessons for the page, Forget."""

from provisioning.scim import quirks
from provisioning.scim.quirks import Quirks

AT = "2026-12-01T12:00:00+00:00"


def test_the_dialect_decides_until_a_shape_is_learned():
    rfc, entra = Quirks({}, False), Quirks({}, True)
    assert (rfc.shape("active"), entra.shape("active")) == ("boolean", "string")
    assert (rfc.shape("member_removal"), entra.shape("member_removal")) == ("filter", "value_list")
    learned = Quirks(quirks.with_shape({}, "active", "boolean", "refused the string", AT), True)
    assert learned.shape("active") == "boolean" and learned.learned_shape("active") and not learned.learned_shape("absent")
    assert quirks.other_shape("absent", "add") == "replace" and quirks.other_shape("absent", "replace") == "add"


def test_refused_and_dropped_paths_are_left_out_case_insensitively_per_resource():
    data = quirks.with_path({}, quirks.REFUSED, "Users", "title", "501 Not Implemented to a PATCH of it", AT, 501)
    data = quirks.with_path(data, quirks.DROPPED, "Users", 'emails[type eq "work"].value', "not in the create's answer", AT)
    learned = Quirks(data)
    assert learned.left_out("Users", "Title") == ("refused", "501 Not Implemented to a PATCH of it")
    assert learned.left_out("Users", 'emails[type eq "work"].value')[0] == "dropped"
    assert learned.left_out("Groups", "title") is None


def test_lessons_and_forget():
    data = quirks.with_shape({}, "member_removal", "value_list", "refused the filter form (400)", AT)
    data = quirks.with_path(data, quirks.REFUSED, "Groups", "displayName", "501", AT, 501)
    rows = Quirks(data).lessons()
    assert [(r["kind"], r["subject"]) for r in rows] == [("shape", "member_removal"), ("refused", "Groups: displayName")]
    assert "value list" in rows[0]["lesson"] and rows[1]["lesson"] == "Leaves displayName out of updates of Groups (the target refuses it)"
    assert quirks.without(data, "refused", "Groups: displayName") == {"shapes": data["shapes"]}
    assert quirks.without(data, "shape", "member_removal") == {"refused": data["refused"]}
    assert quirks.without(data) == {}
    assert data["refused"]["Groups"]  # changes return new JSON, the stored one is untouched
