"""SCIM filters the pipeline sends: the matching query for one matching attribute (RFC 7644 §3.4.2.2).

`client.filter_eq` writes a plain `attribute eq value`; here a matching attribute's target path becomes
the filter the target understands, including a filtered multi-valued path."""

import json

from provisioning.scim import payload


def matching_filter(path, value):
    """A SCIM filter for one matching attribute: `userName eq "x"` or `emails[type eq "work" and value eq "x"]`."""
    parsed = payload.parse_path(path)
    attribute = f"{parsed.schema}:{parsed.attribute}" if parsed.schema else parsed.attribute
    if parsed.filter_attribute:
        return (f"{attribute}[{parsed.filter_attribute} eq {json.dumps(str(parsed.filter_value), ensure_ascii=False)} "
                f"and {parsed.sub_attribute or 'value'} eq {json.dumps(str(value), ensure_ascii=False)}]")
    if parsed.sub_attribute:
        attribute = f"{attribute}.{parsed.sub_attribute}"
    return f"{attribute} eq {json.dumps(str(value), ensure_ascii=False)}"
