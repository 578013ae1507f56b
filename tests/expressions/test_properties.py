"""Property-based tests: the parser never crashes, printing and parsing round-trip, evaluation fails only clearly."""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning.expressions import FUNCTIONS, EvaluationContext, ExpressionError, compile_expression
from provisioning.expressions.nodes import Attribute, Call, Comparison, Constant, Missing, Number, String, to_source
from provisioning.expressions.parser import CONSTANTS, parse

# Text that looks like expressions finds deeper parser paths than arbitrary unicode alone.
EXPRESSION_ALPHABET = string.ascii_letters + string.digits + ' ()[],"\\=<>&-.\n\t\'!é'
expression_like = st.text(alphabet=EXPRESSION_ALPHABET, max_size=80)
function_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
attribute_names = st.text(
    alphabet=st.characters(blacklist_characters="[]\n", blacklist_categories=("Cs",)), min_size=1, max_size=12
).filter(lambda name: name == name.strip())

values = st.one_of(
    st.builds(String, st.text(max_size=12)),
    st.builds(Number, st.integers(min_value=-(10**20), max_value=10**20)),
    st.builds(Attribute, attribute_names),
    st.builds(Constant, st.sampled_from(CONSTANTS)),
)


def calls(children):
    def build(name, args):
        return Call(name, tuple(args))

    plain = st.builds(build, function_names, st.lists(children, max_size=4))
    # An empty argument only exists next to a comma: F() has no arguments, F(, ) has two empty ones.
    with_gaps = st.builds(build, function_names, st.lists(st.one_of(children, st.just(Missing())), min_size=2, max_size=4))
    return st.one_of(plain, with_gaps)


operands = st.recursive(values, calls, max_leaves=12)
comparisons = st.builds(Comparison, st.sampled_from(["=", "<>", ">", ">=", "<", "<="]), operands, operands)
trees = st.one_of(operands, comparisons, st.builds(lambda c, rest: Call("IIF", (c, *rest)), comparisons, st.lists(operands, max_size=2)))


@given(st.text(max_size=200))
def test_parser_returns_a_tree_or_raises_expression_error_for_any_text(text):
    try:
        compile_expression(text)
    except ExpressionError:
        pass


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(expression_like)
def test_parser_returns_a_tree_or_raises_expression_error_for_expression_like_text(text):
    try:
        tree = parse(text)
    except ExpressionError as error:
        assert str(error)
        return
    assert parse(to_source(tree)) == tree


@given(trees)
def test_printing_then_parsing_gives_the_same_tree(tree):
    assert parse(to_source(tree)) == tree


@given(trees)
def test_printing_is_canonical(tree):
    text = to_source(tree)
    assert to_source(parse(text)) == text


# Random calls of real functions with valid argument counts, over random attribute values.
real_functions = st.sampled_from(sorted(name for name, spec in FUNCTIONS.items() if spec.supported))
attribute_values = st.one_of(
    st.none(), st.text(max_size=8), st.booleans(), st.integers(-5, 5),
    st.lists(st.text(max_size=4), max_size=3), st.sampled_from(["2021-06-30+08:00", "1", "True", "d", "yyyy", "(?<g>a)"]),
)


def real_calls(children):
    @st.composite
    def build(draw):
        name = draw(real_functions)
        spec = FUNCTIONS[name]
        high = spec.max_args if spec.max_args is not None else spec.min_args + 3
        count = draw(st.integers(spec.min_args, high))
        return Call(name, tuple(draw(st.one_of(children, st.just(Missing()))) for _ in range(count)))

    return build()


real_values = st.one_of(
    st.builds(String, st.sampled_from(["", "a b", "d", "m", "yyyy-MM-dd", "(?<g>\\d+)", "g", "$1", "2021-06-30", "True", "3"])),
    st.builds(Number, st.integers(-3, 300)),
    st.builds(Attribute, st.sampled_from(["a", "b", "c"])),
)
real_trees = st.recursive(real_values, real_calls, max_leaves=8)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(real_trees, st.fixed_dictionaries({"a": attribute_values, "b": attribute_values, "c": attribute_values}))
def test_evaluation_returns_a_value_or_raises_expression_error(tree, attributes):
    context = EvaluationContext(value_exists=lambda candidate: False)
    try:
        compiled = compile_expression(to_source(tree))
        value = compiled.evaluate_traced(attributes, context).value
    except ExpressionError as error:
        assert str(error)
        return
    assert value is None or isinstance(value, str | bool | int | list)
