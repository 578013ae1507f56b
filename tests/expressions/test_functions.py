"""Every function with Microsoft's documented examples (input -> output), then edge cases.

Expressions are written as raw strings exactly as an admin types them into Entra's expression box.
"""

import re
from datetime import UTC, datetime

import pytest

from provisioning.expressions import EvaluationContext, EvaluationError, evaluate

NOW = datetime(2021, 7, 2, 15, 33, 38, tzinfo=UTC)
CONTEXT = EvaluationContext(now=NOW)

# (expression, source attributes, expected value). Microsoft's examples come first in each group.
MICROSOFT_EXAMPLES = [
    # Append
    (r'Append([userPrincipalName], ".test")', {"userPrincipalName": "John.Doe@contoso.com"}, "John.Doe@contoso.com.test"),
    # BitAnd
    (r"BitAnd(&HF, &HF7)", {}, 7),
    # CBool
    (r"CBool([attribute1] = [attribute2])", {"attribute1": "a", "attribute2": "a"}, True),
    (r"CBool([attribute1] = [attribute2])", {"attribute1": "a", "attribute2": "b"}, False),
    # CDate
    (r"CDate([StatusHireDate])", {"StatusHireDate": "2020-03-16-07:00"}, "3/16/2020 7:00:00 AM"),
    (r'CDate("2021-06-30+08:00")', {}, "6/29/2021 4:00:00 PM"),
    (r'CDate("2009-06-15T01:45:30-07:00")', {}, "6/15/2009 8:45:30 AM"),
    # Coalesce
    (r"Coalesce([mail],[userPrincipalName])", {"userPrincipalName": "John.Doe@contoso.com"}, "John.Doe@contoso.com"),
    # ConvertToBase64 (Unicode = UTF-16LE)
    (r'ConvertToBase64("Hello world!")', {}, "SABlAGwAbABvACAAdwBvAHIAbABkACEA"),
    # ConvertToUTF8Hex
    (r'ConvertToUTF8Hex("Hello world!")', {}, "48656C6C6F20776F726C6421"),
    # CStr
    (r"CStr([dn])", {"dn": "cn=Joe,dc=contoso,dc=com"}, "cn=Joe,dc=contoso,dc=com"),
    # DateAdd (Example 1's table)
    (r'DateAdd("d", 7, CDate([StatusHireDate]))', {"StatusHireDate": "2012-03-16-07:00"}, "3/23/2012 7:00:00 AM"),
    (r'DateAdd("d", -10, CDate([StatusHireDate]))', {"StatusHireDate": "2012-03-16-07:00"}, "3/6/2012 7:00:00 AM"),
    (r'DateAdd("ww", 2, CDate([StatusHireDate]))', {"StatusHireDate": "2012-03-16-07:00"}, "3/30/2012 7:00:00 AM"),
    (r'DateAdd("m", 10, CDate([StatusHireDate]))', {"StatusHireDate": "2012-03-16-07:00"}, "1/16/2013 7:00:00 AM"),
    (r'DateAdd("yyyy", 2, CDate([StatusHireDate]))', {"StatusHireDate": "2012-03-16-07:00"}, "3/16/2014 7:00:00 AM"),
    # DateDiff (Example 1's table)
    (r'DateDiff("d", CDate("2021-08-18+08:00"), CDate("2021-08-31+08:00"))', {}, 13),
    (r'DateDiff("d", "8/25/2021 5:41:18 PM", CDate("2012-03-16-07:00"))', {}, -3449),
    (r'DateDiff("ww", "8/25/2021 5:41:18 PM", CDate("2012-03-16-07:00"))', {}, -493),
    (r'DateDiff("m", "8/25/2021 5:41:18 PM", CDate("2012-03-16-07:00"))', {}, -113),
    (r'DateDiff("yyyy", "8/25/2021 5:41:18 PM", CDate("2012-03-16-07:00"))', {}, -9),
    (r'DateDiff("d", CDate("2021-08-31+08:00"), CDate("2021-08-31+08:00"))', {}, 0),
    (r'DateDiff("h", CDate("2021-08-24"), CDate("2021-08-25"))', {}, 24),
    (r'DateDiff("n", CDate("2021-08-24"), CDate("2021-08-25"))', {}, 1440),
    (r'DateDiff("s", CDate("2021-08-24"), CDate("2021-08-25"))', {}, 86400),
    # DateDiff Example 2, combined with Switch and IIF (hire date within five days of Now)
    (r'Switch([Active], , "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, "False", "True"), "0", "False")',
     {"Active": "1", "StatusHireDate": "2021-07-05"}, "True"),
    (r'Switch([Active], , "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, "False", "True"), "0", "False")',
     {"Active": "1", "StatusHireDate": "2021-08-05"}, "False"),
    (r'Switch([Active], , "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, "False", "True"), "0", "False")',
     {"Active": "0", "StatusHireDate": "2021-07-05"}, "False"),
    # DateFromNum: January 1, 2012 at 11:00 PM
    (r"DateFromNum(129699324000000000)", {}, "1/1/2012 11:00:00 PM"),
    (r"DateFromNum([lastLogonTimestamp])", {"lastLogonTimestamp": "129699324000000000"}, "1/1/2012 11:00:00 PM"),
    # FormatDateTime
    (r'FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")', {"extensionAttribute1": "20150123105347.1Z"}, "2015-01-23"),
    # IgnoreFlowIfNullOrEmpty
    (r"IgnoreFlowIfNullOrEmpty([department])", {}, None),
    (r"IgnoreFlowIfNullOrEmpty([department])", {"department": "Sales"}, "Sales"),
    (r'IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr.", "3444", "Prof.", "3445", "Prof. Dr."))', {"prefix": "9999"}, None),
    (r'IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr.", "3444", "Prof.", "3445", "Prof. Dr."))', {"prefix": "3444"}, "Prof."),
    # IIF
    (r'IIF([country]="USA",[country],[department])', {"country": "USA", "department": "Sales"}, "USA"),
    (r'IIF([country]="USA",[country],[department])', {"country": "FR", "department": "Sales"}, "Sales"),
    (r'IIF([country]="USA",IIF([state]="CA","True","False"),"False")', {"country": "USA", "state": "CA"}, "True"),
    (r'IIF([country]="USA",IIF([state]="CA","True","False"),"False")', {"country": "USA", "state": "WA"}, "False"),
    (r'IIF([country]="USA","True",IIF([state]="CA","True","False"))', {"country": "FR", "state": "CA"}, "True"),
    (r'Switch([country],[country],"","Other")', {}, "Other"),
    (r'Switch([country],[country],"","Other")', {"country": "NL"}, "NL"),
    # InStr
    (r'InStr("The quick brown fox","quick")', {}, 5),
    (r'InStr("repEated","e",3,vbBinaryCompare)', {}, 7),
    # IsNull / IsNullOrEmpty / IsPresent
    (r"IsNull([displayName])", {}, True),
    (r"IsNull([displayName])", {"displayName": ""}, False),
    (r"IsNullOrEmpty([displayName])", {"displayName": ""}, True),
    (r"IsNullOrEmpty([displayName])", {}, True),
    (r"IsPresent([displayName])", {"displayName": "Jo"}, True),
    # Microsoft's IsPresent example is a Switch whose source and keys are all "True"/"False": by Switch's
    # documented rule (source compared with each key) it returns the first value whose key equals the source.
    (r"Switch(IsPresent([directManager]),[directManager], IsPresent([skiplevelManager]),[skiplevelManager], IsPresent([director]),[director])",
     {"directManager": "m1", "skiplevelManager": "m2", "director": "m3"}, "m2"),
    (r"Switch(IsPresent([directManager]),[directManager], IsPresent([skiplevelManager]),[skiplevelManager], IsPresent([director]),[director])",
     {"directManager": "m1"}, "m1"),
    # Item
    (r"Item([proxyAddresses], 1)", {"proxyAddresses": ["SMTP:a@contoso.com", "smtp:b@contoso.com"]}, "SMTP:a@contoso.com"),
    # Left
    (r'Left("John Doe", 3)', {}, "Joh"),
    # NormalizeDiacritics
    (r"NormalizeDiacritics([givenName])", {"givenName": "Zoë"}, "Zoe"),
    # Now: M/d/yyyy h:mm:ss tt in UTC
    (r"Now()", {}, "7/2/2021 3:33:38 PM"),
    # NumFromDate, both of Microsoft's examples
    (r'NumFromDate(Join("", FormatDateTime([ContractEndDate], ,"yyyy-MM-ddzzz", "yyyy-MM-dd"), " 23:59:59-08:00"))',
     {"ContractEndDate": "2020-12-31-08:00"}, 132539615990000000),
    (r'NumFromDate(Join("",FormatDateTime([endDate], ,"M/d/yyyy hh:mm:ss tt","yyyy-MM-dd")," 23:59:59-08:00"))',
     {"endDate": "12/31/2020 12:00:00 AM"}, 132539615990000000),
    # PCase
    (r"PCase([firstName])", {"firstName": "PABLO GONSALVES (SECOND)"}, "Pablo Gonsalves (Second)"),
    (r"""PCase([lastName]," '-")""", {"lastName": "PINTO-DE'SILVA"}, "Pinto-De'Silva"),
    (r'PCase(Join(" ",[firstName],[lastName]))', {"firstName": "GREGORY", "lastName": "JAMES"}, "Gregory James"),
    # Redact flows the value (logs show [Redact]; see test_evaluation)
    (r"Redact([userPrincipalName])", {"userPrincipalName": "jo@contoso.com"}, "jo@contoso.com"),
    (r'Redact("StringToBeRedacted")', {}, "StringToBeRedacted"),
    # RemoveDuplicates
    (r"RemoveDuplicates([proxyAddresses])", {"proxyAddresses": ["smtp:a@x", "smtp:b@x", "smtp:a@x"]}, ["smtp:a@x", "smtp:b@x"]),
    # Replace: the five modes, with Microsoft's examples
    (r'Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )', {"BusinessTitle": "Product Developer"}, "Software Engineer"),
    (r'Replace([UserID],"<username>", , , , , "<username>@contoso.com")', {"UserID": "jsmith"}, "jsmith@contoso.com"),
    (r'Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", , "${phoneNumber}", , )', {"telephoneNumber": "+91 9998887777"}, "9998887777"),
    (r'Replace([mobile], , "[()\\s-]+", , "", , )', {"mobile": "+1 (999) 888-7777"}, "+19998887777"),
    (r'Replace([AddressLineData], ,"(?<streetNumber>^\\d*)","streetNumber", "888", , )', {"AddressLineData": "545 Tremont Street"}, "888 Tremont Street"),
    (r'Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )', {"userPrincipalName": "jsmith@contoso.com"}, "jsmith"),
    (r'Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , [mobile], )',
     {"telephoneNumber": "", "mobile": "+91 8887779999"}, "8887779999"),
    (r'Replace([mailNickname], , "[a-zA-Z_]*", , "", , )', {"mailNickname": "john_doe72"}, "72"),
    (r'Replace([mail], "@contoso.com", , ,"", ,)', {"mail": "john.doe@contoso.com"}, "john.doe"),
    # SelectUniqueValue: see test_evaluation (needs the target's existence check)
    # Split
    (r'Split([extensionAttribute5], ",")', {"extensionAttribute5": "PermissionSetOne, PermissionSetTwo"}, ["PermissionSetOne", "PermissionSetTwo"]),
    # StripSpaces
    (r"StripSpaces([displayName])", {"displayName": " John  Doe "}, "JohnDoe"),
    # Switch
    (r'Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")', {"state": "QLD"}, "Australia/Brisbane"),
    (r'Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")', {"state": "WA"}, "Australia/Sydney"),
    (r'Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")', {"statusFlag": "TRUE"}, "1"),
    (r'Switch([statusFlag], "Default Value", "true", "1", "", "0")', {}, "0"),
    (r'IIF([companyName] = "Company A", "A", IIF([companyName] = "Company B", "B", "External"))', {"companyName": "Company B"}, "B"),
    # ToLower
    (r'ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"))',
     {"PreferredFirstName": "John", "PreferredLastName": "Smith"}, "john.smith@contoso.com"),
    # Word
    (r'Word("The quick brown fox",3," ")', {}, "brown"),
    (r'Word("This,string!has&many separators",3,",!&#")', {}, "has"),
    # The page's closing examples
    (r'Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))', {"givenName": "John", "surname": "Doe"}, "JohDoe"),
    (r'Join(", ", "", [surname], [givenName])', {"givenName": "John", "surname": "Doe"}, "Doe, John"),
    (r'Join("", 1000, Replace(ConvertToUTF8Hex([objectId]), , "[a-zA-Z_]*", , "", , ))', {"objectId": "ab-1"},
     "1000" + "61622D31".replace("D", "")),
]


@pytest.mark.parametrize(("expression", "attributes", "expected"), MICROSOFT_EXAMPLES)
def test_microsoft_examples(expression, attributes, expected):
    assert evaluate(expression, attributes, CONTEXT) == expected


EDGE_CASES = [
    # Append: null source doesn't flow; null suffix appends nothing
    (r'Append([a], ".x")', {}, None),
    (r"Append([a], [b])", {"a": "v"}, "v"),
    (r'Append([n], "-")', {"n": 5}, "5-"),
    # BitAnd over attribute values and numeric strings
    (r"BitAnd([userAccountControl], 2)", {"userAccountControl": 514}, 2),
    (r'BitAnd("12", "10")', {}, 8),
    (r"BitAnd([missing], 2)", {}, None),
    # CBool
    (r'CBool("0")', {}, False),
    (r'CBool("17")', {}, True),
    (r'CBool("true")', {}, True),
    (r"CBool([accountEnabled])", {"accountEnabled": False}, False),
    (r"CBool([missing])", {}, False),
    # CDate accepts Entra's own output format and plain dates
    (r'CDate("3/16/2020 7:00:00 AM")', {}, "3/16/2020 7:00:00 AM"),
    (r'CDate("2020-03-16")', {}, "3/16/2020 12:00:00 AM"),
    (r'CDate("2020-03-16T12:30:00Z")', {}, "3/16/2020 12:30:00 PM"),
    (r"CDate([missing])", {}, None),
    # Coalesce: only null is skipped; an empty string is a value
    (r'Coalesce([a], [b], "default")', {}, "default"),
    (r'Coalesce([a], [b], "default")', {"b": "B"}, "B"),
    (r'Coalesce([a], "default")', {"a": ""}, ""),
    (r"Coalesce([a], [b])", {}, None),
    # Encodings of non-ASCII text
    (r'ConvertToBase64("é")', {}, "6QA="),
    (r'ConvertToUTF8Hex("é")', {}, "C3A9"),
    (r"ConvertToBase64([missing])", {}, None),
    # Count
    (r"Count([proxyAddresses])", {"proxyAddresses": ["a", "b", "c"]}, 3),
    (r"Count([mail])", {"mail": "a@x"}, 1),
    (r"Count([missing])", {}, 0),
    # CStr of booleans and numbers
    (r"CStr([accountEnabled])", {"accountEnabled": True}, "True"),
    (r"CStr([IsSoftDeleted])", {"IsSoftDeleted": False}, "False"),
    (r"CStr(42)", {}, "42"),
    (r"CStr([missing])", {}, None),
    # DateAdd clamps to the month's last day, like .NET's AddMonths
    (r'DateAdd("m", 1, CDate("2021-01-31"))', {}, "2/28/2021 12:00:00 AM"),
    (r'DateAdd("yyyy", 1, CDate("2020-02-29"))', {}, "2/28/2021 12:00:00 AM"),
    (r'DateAdd("h", 30, CDate("2021-01-01"))', {}, "1/2/2021 6:00:00 AM"),
    (r'DateAdd("n", -1, CDate("2021-01-01"))', {}, "12/31/2020 11:59:00 PM"),
    (r'DateAdd("s", "90", CDate("2021-01-01"))', {}, "1/1/2021 12:01:30 AM"),
    (r'DateAdd("d", 1, CDate([missing]))', {}, None),
    (r'DateAdd("d", 1, Now())', {}, "7/3/2021 3:33:38 PM"),
    # DateDiff with a null date doesn't flow
    (r'DateDiff("d", Now(), CDate([missing]))', {}, None),
    # FormatDateTime: formats, styles, the three-argument form
    (r'FormatDateTime([d], , "M/d/yyyy h:mm:ss tt", "yyyy-MM-ddTHH:mm:ssK")', {"d": "3/16/2020 7:05:09 PM"}, "2020-03-16T19:05:09"),
    (r'FormatDateTime([d], "AdjustToUniversal", "yyyy-MM-ddzzz", "yyyy-MM-dd HH:mm")', {"d": "2020-12-31-08:00"}, "2020-12-31 08:00"),
    (r'FormatDateTime([d], , "yyyy-MM-ddzzz", "dd MMM yyyy zzz")', {"d": "2020-12-31-08:00"}, "31 Dec 2020 -08:00"),
    (r'FormatDateTime([d], "yyyyMMdd", "dddd d MMMM yy")', {"d": "20210702"}, "Friday 2 July 21"),
    (r'FormatDateTime([d], , "yyyyMMddHHmmss.fZ", "HH:mm:ss.FFF")', {"d": "20150123105347.1Z"}, "10:53:47.1"),
    (r'FormatDateTime([d], , "yyyyMMddHHmmss.fZ", "HH:mm:ss.FFF")', {"d": "20150123105347.0Z"}, "10:53:47"),
    (r'FormatDateTime([d], , "yyyy-MM-dd", "s")', {"d": "2021-07-02"}, "2021-07-02T00:00:00"),
    (r"""FormatDateTime([d], , "yyyy-MM-dd", "'Year' yyyy")""", {"d": "2021-07-02"}, "Year 2021"),
    (r'FormatDateTime([missing], , "yyyy", "yy")', {}, None),
    (r'FormatDateTime(CDate("2021-07-02T10:00:00Z"), , "ignored", "yyyy/MM/dd hh tt")', {}, "2021/07/02 10 AM"),
    # Guid
    # IIF with booleans: accountEnabled arrives as a Python bool
    (r'IIF([accountEnabled] = "True", "enabled", "disabled")', {"accountEnabled": True}, "enabled"),
    (r'IIF([accountEnabled] = "true", "enabled", "disabled")', {"accountEnabled": False}, "disabled"),
    (r'IIF([IsSoftDeleted], "gone", "here")', {"IsSoftDeleted": True}, "gone"),
    (r'IIF(Not([IsSoftDeleted]) = "True", "here", "gone")', {"IsSoftDeleted": False}, "here"),
    (r'IIF([level] > 9, "senior", "junior")', {"level": "10"}, "senior"),  # numbers compare as numbers, not text
    (r'IIF([level] >= 10, "senior", "junior")', {"level": 10}, "senior"),
    (r'IIF([level] < 10, "junior", "senior")', {"level": "9"}, "junior"),
    (r'IIF([name] <> "b", "yes", "no")', {"name": "a"}, "yes"),
    (r'IIF([name] <= "b", "yes", "no")', {"name": "a"}, "yes"),
    (r'IIF([name] = "USA", "yes", "no")', {"name": "usa"}, "no"),  # case-sensitive, like Entra
    (r'IIF([country]="USA", [missing], "x")', {"country": "USA"}, None),  # null in a branch just flows null
    # InStr
    (r'InStr("repEated","e",3,vbTextCompare)', {}, 4),
    (r'InStr("abc","z")', {}, 0),
    (r'InStr("abc","")', {}, 1),
    (r'InStr([missing],"a")', {}, None),
    # IsString
    (r"IsString([mail])", {"mail": "a@x"}, True),
    (r"IsString([accountEnabled])", {"accountEnabled": True}, False),
    (r"IsString([missing])", {}, False),
    (r"IsPresent([proxyAddresses])", {"proxyAddresses": []}, False),
    # Item on a single value and on null
    (r"Item([mail], 1)", {"mail": "a@x"}, "a@x"),
    (r"Item([missing], 1)", {}, None),
    (r'Item(Split([csv], ","), 2)', {"csv": "a,b,c"}, "b"),
    # Join: multi-valued sources, nulls, booleans, numbers
    (r'Join(";", [proxyAddresses], [mail])', {"proxyAddresses": ["a", "b"], "mail": "c"}, "a;b;c"),
    (r'Join(" ", [givenName], [surname])', {"givenName": "John"}, "John"),
    (r'Join(" ", [givenName], [surname])', {}, None),
    (r'Join("-", [accountEnabled], 7)', {"accountEnabled": True}, "True-7"),
    (r'Join("", "a", "b")', {}, "ab"),
    # Left, per Microsoft's rules
    (r'Left("John", 0)', {}, ""),
    (r'Left("John", -1)', {}, "John"),
    (r"Left([missing], 2)", {}, ""),
    (r'Left("Jo", 5)', {}, "Jo"),
    (r'Left("Zoë", 3)', {}, "Zoë"),
    # Mid
    (r'Mid("John Doe", 6, 3)', {}, "Doe"),
    (r'Mid("John", 3, 10)', {}, "hn"),
    (r'Mid("John", 9, 1)', {}, ""),
    (r"Mid([missing], 1, 1)", {}, None),
    # NormalizeDiacritics: Microsoft's table, multi-letter replacements, decomposed input, untouched characters
    (r"NormalizeDiacritics([n])", {"n": "Ærøskøbing Straße"}, "AEroeskoebing Strasse"),
    (r"NormalizeDiacritics([n])", {"n": "Łódź Žižek Ōsaka İzmir ı"}, "Lodz Zizek Osaka Izmir i"),
    (r"NormalizeDiacritics([n])", {"n": "Zoe\u0308 A\u0304\u0301"}, "Zoe A"),
    (r"NormalizeDiacritics([n])", {"n": "Jéssica Smith"}, "Jessica Smith"),
    (r"NormalizeDiacritics([n])", {"n": "ķ 東京 Ω"}, "ķ 東京 Ω"),
    (r"NormalizeDiacritics([missing])", {}, None),
    # Not: "True"/"False" strings, from booleans and strings
    (r"Not([IsSoftDeleted])", {"IsSoftDeleted": False}, "True"),
    (r"Not([IsSoftDeleted])", {"IsSoftDeleted": True}, "False"),
    (r'Not("True")', {}, "False"),
    (r'Not("false")', {}, "True"),
    (r"Not([missing])", {}, "True"),
    (r"Not(Not([accountEnabled]))", {"accountEnabled": True}, "True"),
    (r"Not(IsPresent([mail]))", {"mail": "a@x"}, "False"),
    # PCase with other separators and unicode
    (r"PCase([n])", {"n": "élodie o'brien_smith"}, "Élodie O'Brien_Smith"),
    (r'PCase([n], " ")', {"n": "JEAN-LUC PICARD"}, "Jean-luc Picard"),
    (r"PCase([missing])", {}, None),
    # RemoveDuplicates keeps the first of each
    (r"RemoveDuplicates([single])", {"single": "a"}, ["a"]),
    (r"RemoveDuplicates([missing])", {}, None),
    # Replace edge cases
    (r'Replace([a], "x", , , "y", , )', {}, None),
    (r'Replace([a], "x", , , "y", , )', {"a": "xax"}, "yay"),
    (r'Replace([a], , "(\\d+)-(\\d+)", , "$2-$1 $$", , )', {"a": "12-34"}, "34-12 $"),
    (r'Replace([a], , "b", , "\\n", , )', {"a": "abc"}, "a\\nc"),  # .NET treats backslashes in replacements literally
    (r'Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , [mobile], )',
     {"telephoneNumber": "+1 555", "mobile": "+91 8887779999"}, "+1 555"),
    (r'Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , [mobile], )',
     {"mobile": "no digits"}, None),
    (r'Replace([a], "é", , , "e", , )', {"a": "é-É"}, "e-É"),  # case-sensitive
    # Split
    (r'Split([a], ";")', {"a": "x;y;;z "}, ["x", "y", "z"]),
    (r'Split([a], ",")', {}, None),
    (r'Join("|", Split([a], ","))', {"a": "1,2"}, "1|2"),
    # StripSpaces leaves other whitespace
    (r"StripSpaces([a])", {"a": "a\tb c"}, "a\tbc"),
    # Switch
    (r'Switch([a], , "1", "one")', {"a": "2"}, None),
    (r'Switch([accountEnabled], "?", "True", "on", "False", "off")', {"accountEnabled": False}, "off"),
    # ToLower / ToUpper with cultures
    (r'ToLower("ÀBC")', {}, "àbc"),
    (r'ToUpper("straße")', {}, "STRAßE"),  # .NET keeps ß
    (r'ToUpper("istanbul", "tr-TR")', {}, "İSTANBUL"),
    (r'ToLower("ISPARTA", "tr-TR")', {}, "ısparta"),
    (r'ToUpper("istanbul", "en-US")', {}, "ISTANBUL"),
    (r"ToUpper([missing])", {}, None),
    # Word
    (r'Word("a b", 0, " ")', {}, ""),
    (r'Word("a b", 3, " ")', {}, ""),
    (r'Word([missing], 1, " ")', {}, ""),
    (r'Word("a  b", 2, " ")', {}, "b"),
    # Escapes in strings
    (r'Join("", "Company name: \"Contoso\"")', {}, 'Company name: "Contoso"'),
    (r'Append("C:\\temp", "\\")', {}, "C:\\temp\\"),
    # Attribute names are case-insensitive, like Entra's
    (r"Append([DisplayName], [SURNAME])", {"displayName": "A", "surname": "B"}, "AB"),
    # A bare attribute, constant or comparison is a whole expression too
    (r"[mail]", {"mail": "a@x"}, "a@x"),
    (r'"constant"', {}, "constant"),
    (r"[a] = [b]", {"a": "1", "b": 1}, True),
]


@pytest.mark.parametrize(("expression", "attributes", "expected"), EDGE_CASES)
def test_edge_cases(expression, attributes, expected):
    assert evaluate(expression, attributes, CONTEXT) == expected


def test_guid_is_a_new_random_guid_each_time():
    first, second = evaluate("Guid()", {}), evaluate("Guid()", {})
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)
    assert first != second


def test_now_without_an_override_is_the_current_utc_time():
    shown = evaluate("Now()", {})
    parsed = datetime.strptime(shown, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 5


def test_now_override_without_timezone_is_utc():
    assert evaluate("Now()", {}, EvaluationContext(now=datetime(2024, 1, 2, 0, 5, 6))) == "1/2/2024 12:05:06 AM"


@pytest.mark.parametrize("seed", range(20))
def test_random_string_meets_microsoft_example_2(seed):
    value = evaluate(r'RandomString(10,2,2,2,1,"?,")', {})
    assert len(value) == 10
    assert sum(c.isdigit() for c in value) >= 2
    assert sum(c.isupper() for c in value) >= 2
    assert sum(c.islower() for c in value) >= 1
    assert sum(not c.isalnum() for c in value) >= 2
    assert "?" not in value and "," not in value


def test_random_string_example_1_and_the_256_limit():
    value = evaluate("RandomString(6,3,0,0,3)", {})
    assert len(value) == 6 and sum(c.isdigit() for c in value) >= 3 and sum(c.islower() for c in value) >= 3
    assert len(evaluate("RandomString(256,0,0,0,0)", {})) == 256


def test_random_string_with_attribute_driven_length_checks_the_limit_when_evaluated():
    with pytest.raises(EvaluationError, match="Length must be between 1 and 256, not 300"):
        evaluate("RandomString([n],0,0,0,0)", {"n": "300"})


def test_random_string_avoiding_every_digit_while_requiring_digits_fails_clearly():
    with pytest.raises(EvaluationError, match="excludes every character MinimumNumbers could use"):
        evaluate('RandomString([n],1,0,0,0,"0123456789")', {"n": 4})


@pytest.mark.parametrize("expression", [
    'Replace([a], , [p], , "x", , )',  # regex
    'Replace([a], , [p], "g", "x", , )',  # regex group
    'Replace(, , [p], "g", , [a], )',  # regex group from another attribute
])
def test_a_pattern_that_runs_out_of_time_fails_the_evaluation_with_the_reason(expression):
    # A pattern from an attribute cannot be checked at Save; the time limit still stops it per object.
    attributes = {"a": "a" * 5000 + "b", "p": "(?<g>(a+)+$)"}
    with pytest.raises(EvaluationError, match=r'"\(\?<g>\(a\+\)\+\$\)" took longer than .* was stopped'):
        evaluate(expression, attributes)


def test_ad_number_round_trip():
    assert evaluate('NumFromDate(DateAdd("d", 0, DateFromNum(132539615990000000)))', {}) == 132539615990000000
