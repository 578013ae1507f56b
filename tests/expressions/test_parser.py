"""The parser's trees, the printer's canonical text, and the grammar's corners."""

import pytest

from provisioning.expressions import compile_expression
from provisioning.expressions.nodes import Attribute, Call, Comparison, Constant, Missing, Number, String, to_source
from provisioning.expressions.parser import parse

from .test_functions import EDGE_CASES, MICROSOFT_EXAMPLES


def test_nested_calls_attributes_strings_and_numbers():
    assert parse('Append(Mid([givenName], 1, 3), "x")') == Call(
        "Append", (Call("Mid", (Attribute("givenName"), Number(1), Number(3))), String("x"))
    )


def test_string_escapes():
    assert parse(r'"Company name: \"Contoso\""') == String('Company name: "Contoso"')
    assert parse(r'"C:\\temp"') == String("C:\\temp")
    # Other backslashes stay as written, so regex patterns keep their meaning.
    assert parse(r'"\d+"') == String("\\d+")


def test_numbers_negative_and_vba_hex():
    assert parse("BitAnd(&HF, -10)") == Call("BitAnd", (Number(15), Number(-10)))


def test_empty_arguments_are_missing():
    assert parse('Replace([mail], "@contoso.com", , ,"", ,)') == Call(
        "Replace", (Attribute("mail"), String("@contoso.com"), Missing(), Missing(), String(""), Missing(), Missing())
    )
    assert parse("Guid()") == Call("Guid", ())
    assert parse("F(,)") == Call("F", (Missing(), Missing()))


@pytest.mark.parametrize("operator", ["=", "<>", ">", ">=", "<", "<="])
def test_comparison_operators(operator):
    assert parse(f'IIF([a]{operator}"b", 1, 2)').args[0] == Comparison(operator, Attribute("a"), String("b"))


def test_constants_and_whitespace_across_lines():
    tree = parse('InStr(\n\t"repEated",\n\t"e", 3,\n\tvbBinaryCompare\n)')
    assert tree == Call("InStr", (String("repEated"), String("e"), Number(3), Constant("vbBinaryCompare")))


def test_attribute_names_keep_their_spelling_and_may_hold_any_character():
    assert parse("[extension_a1b2_costCenter]") == Attribute("extension_a1b2_costCenter")
    assert parse("[ display Name ]") == Attribute("display Name")


def test_offsets_are_kept_but_do_not_affect_equality():
    tree = parse('  Join(" ", [a])')
    assert tree.offset == 2 and tree.args[1].offset == 12
    assert tree == parse('Join(" ",[a])')


def test_canonical_printing():
    assert to_source(parse('Switch([Active], , "1", "x")')) == 'Switch([Active], , "1", "x")'
    assert to_source(parse('IIF([a]="b",[c],"d\\"e")')) == 'IIF([a] = "b", [c], "d\\"e")'
    assert compile_expression("Left( [a] ,2 )").to_source() == "Left([a], 2)"


@pytest.mark.parametrize("text", sorted({example[0] for example in MICROSOFT_EXAMPLES + EDGE_CASES}))
def test_every_documented_example_round_trips_through_the_printer(text):
    compiled = compile_expression(text)
    reprinted = compile_expression(compiled.to_source())
    assert reprinted.tree == compiled.tree
    assert reprinted.to_source() == compiled.to_source()
