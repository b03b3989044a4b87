"""Unified Social Credit Code (GB 32100-2015), DOMAIN.md §7.

The alphabet, the weights and the check formula are written out here from the standard so that
``workflow.uscc`` is compared with an independent computation, not with itself.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.errors import InvalidInput
from workflow.uscc import check_character, check_uscc, normalise_uscc

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
AUTHORITIES = "123456789ANY"
FORBIDDEN = "IOZSV"


def expected_check(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def refusal(raw: str, field: str = "uscc") -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        check_uscc(raw, field)
    assert info.value.field == field
    assert info.value.errors == {field: info.value.reason}
    return info.value


def test_weights_are_powers_of_three_mod_31() -> None:
    assert tuple(3 ** (i - 1) % 31 for i in range(1, 18)) == WEIGHTS


@pytest.mark.parametrize("code", ["914403001922038216", "91340600MA2PBM9HXD"])
def test_valid_examples(code: str) -> None:
    assert check_uscc(code) == code
    assert check_character(code[:17]) == code[17] == expected_check(code[:17])


def test_wrong_check_digit_names_the_check_rule() -> None:
    error = refusal("914403001922038217")
    assert "校验位" in error.reason
    assert "“6”" in error.reason and "“7”" in error.reason  # expected and actual character


def test_letter_o_names_position_18() -> None:
    error = refusal("91340600MA2PBM9HXO")
    assert "第18位" in error.reason and "“O”" in error.reason
    assert "校验位" not in error.reason


@pytest.mark.parametrize("letter", list(FORBIDDEN))
@pytest.mark.parametrize("position", [2, 9, 18])
def test_forbidden_letters_anywhere(letter: str, position: int) -> None:
    code = list("91340600MA2PBM9HXD")
    code[position - 1] = letter
    error = refusal("".join(code))
    assert f"第{position}位“{letter}”" in error.reason


@pytest.mark.parametrize(
    "raw",
    [
        " 9134 0600 MA2P BM9H XD ",
        "91340600ma2pbm9hxd",
        "9134\u30000600\tMA2PBM9HXD\n",
        "９１３４０６００ＭＡ２ＰＢＭ９ＨＸＤ",
        "９１４４０３００１９２２０３８２１６",
    ],
    ids=["spaces", "lower", "ideographic-space", "full-width", "full-width-digits"],
)
def test_normalisation(raw: str) -> None:
    normal = normalise_uscc(raw)
    assert normal in ("91340600MA2PBM9HXD", "914403001922038216")
    assert check_uscc(raw) == normal


def test_full_width_lower_case_is_normalised() -> None:
    assert check_uscc("９１３４０６００ｍａ２ｐｂｍ９ｈｘｄ") == "91340600MA2PBM9HXD"


@pytest.mark.parametrize("raw", ["", "91340600MA2PBM9HX", "91340600MA2PBM9HXDD", "9134"])
def test_wrong_length(raw: str) -> None:
    error = refusal(raw, field="enterprise_uscc")
    assert "18位" in error.reason and f"实际为{len(raw)}位" in error.reason


@pytest.mark.parametrize("first", sorted(set(ALPHABET) - set(AUTHORITIES)))
def test_bad_registering_authority(first: str) -> None:
    prefix = first + "1340600MA2PBM9HX"
    code = prefix + expected_check(prefix)  # only the first character is wrong
    error = refusal(code)
    assert "第1位" in error.reason and f"“{first}”" in error.reason


@st.composite
def valid_prefixes(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(AUTHORITIES))
    return head + draw(st.text(alphabet=ALPHABET, min_size=16, max_size=16))


@settings(database=None, max_examples=300)
@given(prefix=valid_prefixes(), data=st.data())
def test_property_check_character_and_single_substitutions(
    prefix: str, data: st.DataObject
) -> None:
    code = prefix + check_character(prefix)
    assert code[17] == expected_check(prefix)
    assert check_uscc(code) == code
    position = data.draw(st.integers(min_value=0, max_value=17), label="position")
    other = data.draw(st.sampled_from(ALPHABET.replace(code[position], "")), label="replacement")
    changed = code[:position] + other + code[position + 1 :]
    with pytest.raises(InvalidInput):
        check_uscc(changed)
