"""The function list as Microsoft documents it: names, signatures, descriptions, argument counts.

The pages show these in the expression editor; the compiler checks calls against min_args/max_args.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    signature: str
    description: str
    min_args: int
    max_args: int | None  # None: no upper bound
    supported: bool = True

    def arity_text(self) -> str:
        """'takes 2 arguments', 'takes 2 to 4 arguments', 'takes at least 2 arguments', 'takes no arguments'."""
        low, high = self.min_args, self.max_args
        if high is None:
            return f"takes at least {low} argument{'s' if low != 1 else ''}"
        if low == high:
            return "takes no arguments" if low == 0 else f"takes {low} argument{'s' if low != 1 else ''}"
        return f"takes {low} to {high} arguments"


_UNSUPPORTED_ROLES = (
    "Not supported by this portal: the source directory has no app roles, so there are no "
    "[appRoleAssignments] to provision."
)

_SPECS = [
    ("Append", "Append(source, suffix)", "Appends suffix to the end of source.", 2, 2),
    ("AppRoleAssignmentsComplex", "AppRoleAssignmentsComplex([appRoleAssignments])",
     "Provisions several app roles to a user (PATCH add). " + _UNSUPPORTED_ROLES, 1, 1, False),
    ("AssertiveAppRoleAssignmentsComplex", "AssertiveAppRoleAssignmentsComplex([appRoleAssignments])",
     "Provisions several app roles to a user, replacing the target's (PATCH replace). " + _UNSUPPORTED_ROLES, 1, 1, False),
    ("BitAnd", "BitAnd(value1, value2)", "Bitwise AND of two numbers: BitAnd(&HF, &HF7) is 7.", 2, 2),
    ("CBool", "CBool(Expression)", "True when the expression evaluates to a non-zero value (or True), else False.", 1, 1),
    ("CDate", "CDate(expression)",
     "Reads a date/time string as a UTC DateTime, shown as M/d/yyyy h:mm:ss tt; use it inside DateAdd, DateDiff, FormatDateTime.", 1, 1),
    ("Coalesce", "Coalesce(source1, source2, …, defaultValue)", "The first argument that isn't null; null if all are.", 1, None),
    ("ConvertToBase64", "ConvertToBase64(source)", "The string as Unicode (UTF-16LE) base64: \"Hello world!\" gives \"SABlAGwAbABvACAAdwBvAHIAbABkACEA\".", 1, 1),
    ("ConvertToUTF8Hex", "ConvertToUTF8Hex(source)", "The string's UTF-8 bytes in upper-case hex: \"Hello world!\" gives 48656C6C6F20776F726C6421.", 1, 1),
    ("Count", "Count(attribute)", "The number of values in a multi-valued attribute.", 1, 1),
    ("CStr", "CStr(value)", "Converts a number, reference or boolean to a string (\"True\"/\"False\" for booleans).", 1, 1),
    ("DateAdd", "DateAdd(interval, value, dateTime)",
     "Adds value intervals (yyyy, m, d, ww, h, n, s) to dateTime; the result is shown as M/d/yyyy h:mm:ss tt.", 3, 3),
    ("DateDiff", "DateDiff(interval, date1, date2)",
     "The number of intervals (yyyy, m, d, ww, h, n, s) from date1 to date2: positive when date2 is later.", 3, 3),
    ("DateFromNum", "DateFromNum(value)", "Converts an Active Directory date number (e.g. lastLogonTimestamp) to a DateTime.", 1, 1),
    ("FormatDateTime", "FormatDateTime(source, dateTimeStyles, inputFormat, outputFormat)",
     "Reads source with the .NET inputFormat and writes it with outputFormat; dateTimeStyles is optional (leave it empty).", 3, 4),
    ("Guid", "Guid()", "A new random GUID.", 0, 0),
    ("IgnoreFlowIfNullOrEmpty", "IgnoreFlowIfNullOrEmpty(expression)",
     "Drops the attribute from the flow when the expression is null or empty.", 1, 1),
    ("IIF", "IIF(condition, valueIfTrue, valueIfFalse)",
     "valueIfTrue when the condition holds, else valueIfFalse; conditions compare with = <> > >= < <=. Fails when an attribute in the condition is null or empty.", 3, 3),
    ("InStr", "InStr(value1, value2, start, compareType)",
     "The 1-based position of value2 in value1 from start (0 if absent); compareType vbBinaryCompare (default) or vbTextCompare.", 2, 4),
    ("IsNull", "IsNull(Expression)", "True when the expression is null (an absent attribute).", 1, 1),
    ("IsNullOrEmpty", "IsNullOrEmpty(Expression)", "True when the expression is null or an empty string.", 1, 1),
    ("IsPresent", "IsPresent(Expression)", "True when the expression is neither null nor empty.", 1, 1),
    ("IsString", "IsString(Expression)", "True when the expression evaluates to a string.", 1, 1),
    ("Item", "Item(attribute, index)", "One value of a multi-valued attribute; index 1 is the first.", 2, 2),
    ("Join", "Join(separator, source1, source2, …)",
     "Joins the non-empty sources with separator; every value of a multi-valued source is joined.", 2, None),
    ("Left", "Left(String, NumChars)", "The first NumChars characters of String.", 2, 2),
    ("Mid", "Mid(source, start, length)", "length characters of source from the 1-based position start.", 3, 3),
    ("NormalizeDiacritics", "NormalizeDiacritics(source)",
     "Replaces characters with diacritics by plain ones, per Microsoft's table: \"Zoë\" gives \"Zoe\".", 1, 1),
    ("Not", "Not(source)", "\"False\" when source is True, else \"True\".", 1, 1),
    ("Now", "Now()", "The current UTC date and time, as M/d/yyyy h:mm:ss tt.", 0, 0),
    ("NumFromDate", "NumFromDate(value)", "Converts an ISO 8601 date/time to Active Directory's number format (e.g. for accountExpires).", 1, 1),
    ("PCase", "PCase(source, wordSeparators)",
     "Upper-cases the first letter of each word and lower-cases the rest; wordSeparators is optional.", 1, 2),
    ("RandomString", "RandomString(Length, MinimumNumbers, MinimumSpecialCharacters, MinimumCapital, MinimumLowerCase, CharactersToAvoid)",
     "A random string meeting the minimums (at most 256 characters); CharactersToAvoid is optional.", 5, 6),
    ("Redact", "Redact(attribute or value)", "Flows the value but shows [Redact] in the provisioning logs.", 1, 1),
    ("RemoveDuplicates", "RemoveDuplicates(attribute)", "The multi-valued attribute with duplicate values removed.", 1, 1),
    ("Replace", "Replace(source, oldValue, regexPattern, regexGroupName, replacementValue, replacementAttributeName, template)",
     "Replaces text (case-sensitive) in one of five modes, chosen by which arguments are given; leave the others empty.", 5, 7),
    ("SelectUniqueValue", "SelectUniqueValue(uniqueValueRule1, uniqueValueRule2, …)",
     "The first rule's value that doesn't exist in the target yet; top level only, at least two rules.", 2, None),
    ("SingleAppRoleAssignment", "SingleAppRoleAssignment([appRoleAssignments])",
     "The user's single app role as a string. " + _UNSUPPORTED_ROLES, 1, 1, False),
    ("Split", "Split(source, delimiter)", "Splits source into a multi-valued attribute at each delimiter.", 2, 2),
    ("StripSpaces", "StripSpaces(source)", "Removes all space characters.", 1, 1),
    ("Switch", "Switch(source, defaultValue, key1, value1, key2, value2, …)",
     "The value paired with the first key equal to source (case-sensitive), else defaultValue.", 4, None),
    ("ToLower", "ToLower(source, culture)", "Lower case, with the optional culture's rules (e.g. tr-TR).", 1, 2),
    ("ToUpper", "ToUpper(source, culture)", "Upper case, with the optional culture's rules (e.g. tr-TR).", 1, 2),
    ("Word", "Word(String, WordNumber, Delimiters)",
     "The WordNumber-th word of String, words being separated by any of the Delimiters characters.", 3, 3),
]

FUNCTIONS: dict[str, FunctionSpec] = {spec[0]: FunctionSpec(*spec) for spec in _SPECS}
