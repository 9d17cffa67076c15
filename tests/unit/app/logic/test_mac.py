import pytest

from app.logic.mac import InvalidMac, is_randomized, normalize_mac


@pytest.mark.parametrize(
    "text",
    [
        "aa:bb:cc:dd:ee:0f",
        "AA:BB:CC:DD:EE:0F",
        "aa-bb-cc-dd-ee-0f",
        "AA-BB-CC-DD-EE-0F",
        "aabb.ccdd.ee0f",
        "aabbccddee0f",
        " aa:bb:cc:dd:ee:0f\n",
        "aa:bb:cc:dd:ee:f",
    ],
)
def test_common_spellings_normalise_to_one_key(text: str) -> None:
    assert normalize_mac(text) == "aa:bb:cc:dd:ee:0f"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "zz:bb:cc:dd:ee:ff",
        "aa:bb:cc:dd:ee",
        "aa:bb:cc:dd:ee:ff:00",
        "aabbccddeeff0",
        "a:b",
        "💥",
    ],
)
def test_garbage_is_rejected(text: str) -> None:
    with pytest.raises(InvalidMac):
        normalize_mac(text)


def test_locally_administered_bit_marks_randomized() -> None:
    assert is_randomized("da:a1:19:00:00:01")
    assert is_randomized("02:00:00:00:00:00")
    assert not is_randomized("f0:18:98:11:22:33")
    assert not is_randomized("01:00:5e:00:00:01")
