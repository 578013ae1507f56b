"""An application's mapping configuration, one module per job:

source_schema      the directory attributes an object type offers
target_schema      the target app's attributes, read from its /Schemas (plain Python: the SCIM client's
                   compliance check imports it, so this package imports nothing eagerly)
attribute_rules    the rules one attribute mapping must follow (Edit Attribute dialog and importer)
clause_rules       the rules of scoping filter titles and clauses
watermark          a configuration change makes the next cycle a full one
transfer           export / import of the whole configuration as JSON
expression_tester  the expression tester

Import from those modules. Names of the former single module still resolve here, lazily, for old callers.
"""

import importlib

_FORMER_NAMES = {
    "attribute_rules": ("LABELS", "ExpressionCheck", "FieldProblem", "check_expression", "deletion_refusal",
                        "mapping_values", "validate_attribute_mapping"),
    "clause_rules": ("validate_filter_title", "validate_scoping_clause"),
    "source_schema": ("SourceSchema", "source_schema"),
    "transfer": ("FORMAT", "VERSION", "DocumentError", "ImportResult", "Problem", "export_configuration",
                 "import_configuration", "read_document"),
    "watermark": ("require_full_cycle",),
}
_MODULE_OF = {name: module for module, names in _FORMER_NAMES.items() for name in names}


def __getattr__(name):
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
