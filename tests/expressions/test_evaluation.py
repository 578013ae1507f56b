"""Evaluation beyond single functions: null semantics, tracing, Redact, SelectUniqueValue, failures."""

import pytest

from provisioning.expressions import (
    FUNCTIONS, EvaluationContext, EvaluationError, ExpressionError, compile_expression, evaluate,
)

UPN_RULES = (
    'SelectUniqueValue( \n'
    '    Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"), \n'
    '    Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 1), [PreferredLastName]))), "contoso.com"),\n'
    '    Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 2), [PreferredLastName]))), "contoso.com")\n'
    ')'
)
JOHN = {"PreferredFirstName": "John", "PreferredLastName": "Smith"}


def exists_in(*taken):
    checked = []

    def value_exists(candidate):
        checked.append(candidate)
        return candidate in taken

    value_exists.checked = checked
    return value_exists


def test_select_unique_value_takes_the_first_rule_when_free():
    check = exists_in()
    assert evaluate(UPN_RULES, JOHN, EvaluationContext(value_exists=check)) == "John.Smith@contoso.com"
    assert check.checked == ["John.Smith@contoso.com"]


def test_select_unique_value_moves_on_while_values_are_taken():
    context = EvaluationContext(value_exists=exists_in("John.Smith@contoso.com"))
    assert evaluate(UPN_RULES, JOHN, context) == "J.Smith@contoso.com"
    context = EvaluationContext(value_exists=exists_in("John.Smith@contoso.com", "J.Smith@contoso.com"))
    assert evaluate(UPN_RULES, JOHN, context) == "Jo.Smith@contoso.com"


def test_select_unique_value_fails_naming_every_taken_candidate():
    context = EvaluationContext(value_exists=exists_in("John.Smith@contoso.com", "J.Smith@contoso.com", "Jo.Smith@contoso.com"))
    with pytest.raises(EvaluationError) as caught:
        evaluate(UPN_RULES, JOHN, context)
    message = str(caught.value)
    assert message.startswith("SelectUniqueValue at line 1, column 1: all 3 candidate values already exist in the target")
    assert '"J.Smith@contoso.com"' in message and "add a rule" in message


def test_select_unique_value_normalizes_diacritics_before_checking():
    check = exists_in()
    evaluate(UPN_RULES, {"PreferredFirstName": "Jéssica", "PreferredLastName": "Smith Jones"}, EvaluationContext(value_exists=check))
    assert check.checked == ["Jessica.SmithJones@contoso.com"]


def test_select_unique_value_without_a_target_check_says_so():
    with pytest.raises(EvaluationError, match="no target to check uniqueness against"):
        evaluate('SelectUniqueValue([a], [b])', {"a": "x"})


def test_select_unique_value_skips_empty_rules():
    context = EvaluationContext(value_exists=exists_in())
    assert evaluate('SelectUniqueValue([missing], [b])', {"b": "y"}, context) == "y"


def test_redact_flows_the_value_but_shows_redact_in_logs_and_reads():
    compiled = compile_expression('Join(" ", Redact([password]), [givenName])')
    result = compiled.evaluate_traced({"password": "s3cret", "givenName": "Jo"})
    assert result.value == "s3cret Jo"
    assert result.display == "[Redact]"
    assert result.reads == {"password": "[Redact]", "givenName": "Jo"}
    assert "s3cret" not in repr(result.reads)


def test_redact_of_null_shows_nothing_to_redact():
    assert compile_expression("Redact([missing])").evaluate_traced({}).display is None


def test_traced_evaluation_reports_reads_and_display():
    result = compile_expression("Not([IsSoftDeleted])").evaluate_traced({"IsSoftDeleted": False})
    assert (result.value, result.display, result.reads) == ("True", "True", {"IsSoftDeleted": False})
    result = compile_expression('Join(" ", [givenName], [surname])').evaluate_traced({"givenName": "Jo"})
    assert result.reads == {"givenName": "Jo", "surname": None}
    result = compile_expression('Split([a], ",")').evaluate_traced({"a": "x,ü"})
    assert result.display == '["x", "ü"]'
    assert compile_expression("IsNull([a])").evaluate_traced({}).display == "True"


def test_traced_failure_carries_the_reads():
    with pytest.raises(EvaluationError) as caught:
        compile_expression('IIF([country]="USA", "a", "b")').evaluate_traced({})
    assert caught.value.reads == {"country": None}


def test_ignore_flow_drops_the_attribute_even_when_nested():
    assert evaluate('Join(",", IgnoreFlowIfNullOrEmpty([a]), "x")', {}) is None
    assert evaluate('Join(",", IgnoreFlowIfNullOrEmpty([a]), "x")', {"a": "1"}) == "1,x"
    result = compile_expression("IgnoreFlowIfNullOrEmpty([a])").evaluate_traced({"a": ""})
    assert (result.value, result.display) == (None, None)


@pytest.mark.parametrize(
    ("expression", "attributes", "message"),
    [
        ('IIF([country]="USA",[country],[department])', {}, "IIF at column 1: the condition reads [country], which is null"),
        ('IIF([country]="",  "Other", [country])', {"country": ""}, "which is empty for this object"),
        ('IIF([country]="USA","US","Other")', {}, 'Switch([country], [country], "", "Other")'),
        ('IIF([country], "a", "b")', {"country": "USA"}, 'the condition must be True or False (or a number), not "USA"'),
        ("Item([proxyAddresses], 3)", {"proxyAddresses": ["a", "b"]}, "Item at column 1: index 3 is out of range: the attribute has 2 values"),
        ('FormatDateTime([d], , "yyyyMMdd", "yyyy-MM-dd")', {"d": "2021-07-02"}, 'FormatDateTime at column 1: "2021-07-02" does not match the input format "yyyyMMdd"'),
        ("CDate([d])", {"d": "next tuesday"}, '"next tuesday" is not a date it can read'),
        ('DateAdd([interval], 1, Now())', {"interval": "q"}, '"q" is not an interval'),
        ("Left([proxyAddresses], 2)", {"proxyAddresses": ["a", "b"]}, "String is multi-valued (2 values); pick one with Item(…, 1) or combine them with Join(…)"),
        ('Mid("abc", 0, 1)', {}, "start must be 1 or more"),
        ('Replace([a], "", , , "x", , )', {"a": "abc"}, "oldValue is empty"),
        ('Replace([a], , [pattern], , "x", , )', {"a": "abc", "pattern": "("}, '"(" is not a valid regular expression'),
        ('Split([a], "")', {"a": "abc"}, "delimiter is empty"),
        ('DateFromNum("lots")', {}, 'value must be a whole number, not "lots"'),
        ("DateFromNum(9223372036854775807)", {}, "outside the dates Active Directory numbers can hold"),
        ('ToLower([a], [c])', {"a": "X", "c": "not a culture!"}, 'culture "not a culture!" is not a culture name'),
        ('IIF([a] > [b], "x", "y")', {"a": ["1"], "b": "2"}, "a multi-valued attribute can't be compared"),
    ],
)
def test_evaluation_errors_say_what_failed_and_where(expression, attributes, message):
    with pytest.raises(EvaluationError) as caught:
        evaluate(expression, attributes)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)  # one line: the engine stores it as the attribute's failure reason
    assert caught.value.column is not None and "^" in caught.value.excerpt


def test_evaluation_error_is_an_expression_error_and_a_value_error():
    assert issubclass(EvaluationError, ExpressionError) and issubclass(ExpressionError, ValueError)


def test_compile_is_cached_and_reports_what_it_reads():
    first = compile_expression('Join(" ", [givenName], [surname])')
    assert compile_expression('Join(" ", [givenName], [surname])') is first
    assert first.attributes == frozenset({"givenName", "surname"})
    assert compile_expression('Guid()').attributes == frozenset()


def test_compile_accepts_known_attributes_case_insensitively():
    compiled = compile_expression("Append([DisplayName], [MAIL])", source_attributes=["displayName", "mail"])
    assert compiled.evaluate({"displayName": "A", "mail": "b"}) == "Ab"


def test_function_list_covers_microsofts_reference():
    documented = (
        "Append AppRoleAssignmentsComplex BitAnd CBool CDate Coalesce ConvertToBase64 ConvertToUTF8Hex Count CStr "
        "DateAdd DateDiff DateFromNum FormatDateTime Guid IgnoreFlowIfNullOrEmpty IIF InStr IsNull IsNullOrEmpty "
        "IsPresent IsString Item Join Left Mid NormalizeDiacritics Not Now NumFromDate PCase RandomString Redact "
        "RemoveDuplicates Replace SelectUniqueValue SingleAppRoleAssignment Split StripSpaces Switch ToLower ToUpper Word"
    ).split()
    assert set(documented) | {"AssertiveAppRoleAssignmentsComplex"} == set(FUNCTIONS)
    for name, spec in FUNCTIONS.items():
        assert spec.name == name and spec.signature.startswith(name + "(") and spec.description
        assert spec.max_args is None or spec.max_args >= spec.min_args


def test_every_supported_function_evaluates_from_its_spec_arity():
    # Each supported function can be called with its minimum arguments without a crash: it returns or fails clearly.
    for name, spec in FUNCTIONS.items():
        if not spec.supported or name in ("SelectUniqueValue", "Replace", "RandomString", "Switch"):
            continue
        args = ", ".join(["[a]"] * spec.min_args)
        try:
            evaluate(f"{name}({args})", {"a": "1"})
        except EvaluationError:
            pass


def test_multi_valued_values_come_out_as_lists():
    assert evaluate("[proxyAddresses]", {"proxyAddresses": ("a", "b")}) == ["a", "b"]


@pytest.mark.parametrize(
    "department, expected",
    [(None, "Unassigned"), ("", "Unassigned"), ("Sales", "Sales")],
)
def test_iif_with_a_null_test_in_its_condition_is_the_documented_fallback(department, expected):
    # Microsoft's troubleshooting guide: IIF(IsNullOrEmpty([attr]), "default", [attr]) for critical attributes.
    attributes = {} if department is None else {"department": department}
    assert evaluate('IIF(IsNullOrEmpty([department]), "Unassigned", [department])', attributes) == expected
