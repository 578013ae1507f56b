"""Error messages, read as a new admin would read them: where, what, and how to fix it."""

import pytest

from provisioning.expressions import ExpressionError, ExpressionSyntaxError, compile_expression
from provisioning.models.directory import COMPUTED_USER_ATTRIBUTES, USER_ATTRIBUTES

SCHEMA = USER_ATTRIBUTES + COMPUTED_USER_ATTRIBUTES


def error_for(text, **kwargs) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, **kwargs)
    return caught.value


def caret_column(error) -> int:
    """The column the caret points at, counted from the excerpt as a reader would."""
    source_line, caret_line = error.excerpt.split("\n")
    return caret_line.index("^") - 2 + 1


def test_missing_comma_names_the_argument_the_function_and_the_column():
    text = 'Join(" ", [givenName], [surname] [mail])'
    error = error_for(text)
    assert isinstance(error, ExpressionSyntaxError)
    assert error.message == (
        "expected ',' or ')' after argument 3 of Join at column 34, found the attribute [mail]; separate arguments with commas"
    )
    assert (error.line, error.column) == (1, 34)
    assert error.excerpt == f"  {text}\n  {' ' * 33}^"
    assert str(error) == f"{error.message}\n{error.excerpt}"


def test_unclosed_call_says_which_parenthesis_is_never_closed():
    error = error_for('Join(" ", [givenName], [surname]')
    assert "expected ',' or ')' after argument 3 of Join at column 33, but the expression ends there" in error.message
    assert "Join( opened at column 1 is never closed" in error.message
    assert caret_column(error) == 33


def test_errors_on_later_lines_give_line_and_column():
    error = error_for('SelectUniqueValue(\n    Join("@", [givenName] "contoso.com"),\n    [mail])')
    assert (error.line, error.column) == (2, 27)
    assert "after argument 2 of Join at line 2, column 27" in error.message
    assert error.excerpt.split("\n")[0] == '      Join("@", [givenName] "contoso.com"),'
    assert caret_column(error) == 27


def test_unknown_function_suggests_the_nearest_name():
    error = error_for('Jion(" ", [givenName])')
    assert isinstance(error, ExpressionSyntaxError)
    assert error.message.startswith("unknown function 'Jion' at column 1; did you mean Join?")
    assert "Join(separator, source1, source2, …)" in error.message


def test_unknown_function_in_the_wrong_case_says_names_are_case_sensitive():
    error = error_for("toLower([mail])")
    assert "function names are case-sensitive: write ToLower" in error.message


def test_unknown_function_far_from_any_name_points_to_the_list():
    assert "see the function list" in error_for("Frobnicate([mail])").message


def test_wrong_argument_count_names_the_signature():
    error = error_for('Left("abc", 1, 2)')
    assert error.message == "Left takes 2 arguments: Left(String, NumChars); got 3 (at column 1)"
    assert "at least 2 arguments: Join(separator, source1, source2, …); got 1" in error_for('Join(",")').message
    assert "Guid takes no arguments: Guid(); got 1" in error_for("Guid([a])").message
    assert "InStr takes 2 to 4 arguments" in error_for('InStr("a")').message


def test_nested_errors_point_at_the_nested_call():
    error = error_for('Join(" ", Left([givenName]), [surname])')
    assert error.column == 11 and caret_column(error) == 11


def test_unknown_attribute_is_named_with_the_nearest_known_one():
    error = error_for('Join(" ", [givenname], [surnme])', source_attributes=SCHEMA)
    assert "[surnme] (at column 24; did you mean [surname]?)" in error.message
    assert "[givenname]" not in error.message  # attribute names are case-insensitive
    assert error.column == 24


def test_several_unknown_attributes_are_all_named():
    error = error_for("Join(\" \", [frist], [lastName])", source_attributes=SCHEMA)
    assert "[frist]" in error.message and "[lastName]" in error.message
    assert error.message.startswith("The source has no attributes")


def test_expressions_over_ten_thousand_characters_are_refused_with_the_limit():
    text = 'Join("", ' + ", ".join(['"x"'] * 2500) + ")"
    assert len(text) > 10_000
    error = error_for(text)
    assert f"The expression is {len(text):,} characters long; Entra accepts at most 10,000 characters" in error.message


def test_long_lines_show_a_window_around_the_caret():
    text = 'Join("", ' + ", ".join(['"x"'] * 500) + " ]"
    error = error_for(text)
    source_line, caret_line = error.excerpt.split("\n")
    assert len(source_line) < 140 and source_line.strip().startswith("…")
    assert source_line[caret_line.index("^")] == "]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "The expression is empty"),
        ("Join(\"a\", 'b')", "strings are written in double quotes"),
        ("Join(\u201ca\u201d, [b])", "typographic quote"),
        ('Left("abc, 2)', "the string that starts at column 6 has no closing double quote"),
        ('Left([givenName, 2)', "the attribute name that starts at column 6 has no closing ']'"),
        ('Left([], 2)', "'[]' at column 6 names no attribute"),
        ("givenName", "write attributes in square brackets, like [givenName]"),
        ("Join", "Join at column 1 is a function: call it with parentheses"),
        ('IIF([a] == "x", 1, 2)', "'==' at column 9: compare with a single '='"),
        ('IIF([a] != "x", 1, 2)', "write 'not equal' as '<>'"),
        ('IIF([a] = "x" AND [b] = "y", 1, 2)', "Entra expressions have no AND/OR; nest IIF calls"),
        ('IIF([a] = [b] = [c], 1, 2)', "comparisons can't be chained"),
        ('Join("", [a]) )', "unexpected ')' at column 15: there is no open '(' for it to close"),
        ('Join("", [a]) [b]', "after the end of the expression"),
        ('Append([a] + [b])', "'+' at column 12 is not an operator"),
        ('Left("abc"; 2)', "arguments are separated by commas"),
        ("Left([a], 1.5)", "only whole numbers are supported"),
        ('IIF([a] = , 1, 2)', "expected a value to compare with after '='"),
        ('Join(",", SelectUniqueValue([a], [b]))', "SelectUniqueValue at column 11 must be the whole expression"),
        ("SelectUniqueValue([a])", "SelectUniqueValue takes at least 2 arguments"),
        ('Switch([a], "d", "k", "v", "k2")', "Switch at column 1 takes source, defaultValue, then key/value pairs"),
        ("AppRoleAssignmentsComplex([appRoleAssignments])", "is not supported by this portal"),
        ("Item([proxyAddresses], 0)", "index 0 is not valid: index 1 is the first value"),
        ('Replace([a], , "(?<x>\\\\d", , "", , )', "is not a valid regular expression"),
        ('Replace([a], , "(a+)+$", , "", , )', 'the regular expression "(a+)+$" took longer than'),
        ('Replace([a], , "(?<s>(\\w+)+$)", "s", "", , )', "backtracks catastrophically"),
        ('Replace([a], "x", , , , , )', "with oldValue, give replacementValue"),
        ('Replace([a], , , , "x", , )', "give oldValue or regexPattern"),
        ('DateAdd("days", 1, Now())', '"days" is not an interval'),
        ('FormatDateTime([d], , "yyyy", "Q")', '"Q" is not a .NET standard date format'),
        ('InStr("a", "b", 1, vbBinary)', "unknown name 'vbBinary'"),
        ('Join(vbTextCompare, [a])', "vbTextCompare at column 6 is only used as InStr's compareType"),
        ('RandomString(300, 0, 0, 0, 0)', "Length must be between 1 and 256, not 300"),
        ('RandomString(4, 2, 2, 2, 0)', "the minimums add up to 6, more than Length 4"),
        ("A(" * 101 + ")" * 101, "nested more than 100 function calls deep"),
    ],
)
def test_messages_say_what_is_wrong_and_how_to_fix_it(text, expected):
    error = error_for(text)
    assert expected in error.message
    if error.column is not None:
        # The caret stands under the character the message points at, even in a shortened long line.
        line = text.split("\n")[error.line - 1]
        source_line, caret_line = error.excerpt.split("\n")
        under_caret = source_line[caret_line.index("^") :][:1]
        assert under_caret == line[error.column - 1 :][:1]


def test_non_text_is_refused_clearly():
    with pytest.raises(ExpressionSyntaxError, match="an expression must be text, not int"):
        compile_expression(42)
