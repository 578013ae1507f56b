"""safe_regex: admins' patterns run with a time limit per match, and Save's probe finds the runaway ones."""

import threading
import time

import pytest

from provisioning import safe_regex

RUNAWAY = r"(a+)+$"
LONG_AAAB = "a" * 5000 + "b"


def test_a_runaway_pattern_is_stopped_within_the_limit_and_says_why():
    compiled = safe_regex.compile_pattern(RUNAWAY)
    started = time.monotonic()
    with pytest.raises(safe_regex.RegexTimeout) as caught:
        safe_regex.search(compiled, LONG_AAAB)
    # The regex package checks its clock every so many steps: allow for that, never the hours `re` takes.
    assert time.monotonic() - started < 10 * safe_regex.MATCH_TIMEOUT
    message = str(caught.value)
    assert '"(a+)+$"' in message and "5,001 characters" in message and "was stopped" in message
    assert caught.value.pattern == RUNAWAY and caught.value.length == 5001


def test_sub_and_finditer_carry_the_limit_too():
    compiled = safe_regex.compile_pattern(RUNAWAY)
    with pytest.raises(safe_regex.RegexTimeout):
        safe_regex.sub(compiled, "x", LONG_AAAB)
    with pytest.raises(safe_regex.RegexTimeout):
        safe_regex.finditer(compiled, LONG_AAAB)


def test_other_threads_keep_running_while_a_pattern_backtracks():
    # concurrent=True releases the GIL: the web server's other threads are not frozen meanwhile.
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        with pytest.raises(safe_regex.RegexTimeout):
            safe_regex.search(safe_regex.compile_pattern(RUNAWAY), LONG_AAAB)
    finally:
        stop.set()
        thread.join()
    assert len(ticks) > 10


@pytest.mark.parametrize("pattern", [RUNAWAY, r"(a|aa)+$", r"(\w+)+$", r"(x+x+)+y", r"^(([a-z])+.)+[A-Z]([a-z])+$"])
def test_probe_refuses_nested_repetitions(pattern):
    with pytest.raises(safe_regex.RegexTimeout):
        safe_regex.probe(safe_regex.compile_pattern(pattern))


@pytest.mark.parametrize("pattern", [r".*@contoso\.com$", r"^Sales.*", r"(?i)^eng", r"^[A-Z]{2}\d{4}$", r"a+$", r"(\d+-)*\d+"])
def test_probe_accepts_ordinary_patterns_quickly(pattern):
    started = time.monotonic()
    safe_regex.probe(safe_regex.compile_pattern(pattern))
    assert time.monotonic() - started < safe_regex.MATCH_TIMEOUT


def test_patterns_keep_re_semantics():
    compiled = safe_regex.compile_pattern(r"(?P<user>[^@]+)@(?P=user)\.example")
    assert safe_regex.search(compiled, "jane@jane.example").group("user") == "jane"
    with pytest.raises(safe_regex.error):
        safe_regex.compile_pattern("([a-z]")


def test_probe_values_end_with_a_character_the_pattern_does_not_name():
    values = safe_regex.probe_values("a!b")
    assert values and all(len(v) == safe_regex.PROBE_LENGTH + 1 and v.endswith("~") for v in values)
    assert {v[0] for v in values} >= {"a", "b"}
