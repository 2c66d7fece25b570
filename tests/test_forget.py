"""Forget-set specs (engine/forget.py): the mini-language, inline index lists and their validation errors."""

import numpy as np
import pytest
import torch

from engine.errors import UnlearnError
from engine.forget import forget_from_indices, indices_spec, inline_forget, remain_indices, select_forget

Y = np.arange(100) % 10  # 10 per class


def test_random_fraction_and_count_are_seeded():
    a = select_forget("random:0.1", Y, 10, seed=1)
    assert len(a) == 10 and np.all(np.diff(a) > 0)
    assert np.array_equal(a, select_forget("random:0.1", Y, 10, seed=1))
    assert not np.array_equal(a, select_forget("random:0.1", Y, 10, seed=2))
    assert len(select_forget("random:25", Y, 10)) == 25


def test_class_specs():
    assert np.array_equal(select_forget("class:3", Y, 10), np.flatnonzero(Y == 3))
    assert set(Y[select_forget("class:3,7", Y, 10)]) == {3, 7}


def test_indices_file(tmp_path):
    f = tmp_path / "idx.txt"
    f.write_text("# hand-picked\n5\n3\n\n42  # a comment\n")
    assert select_forget(f"indices:{f}", Y, 10).tolist() == [3, 5, 42]


def test_python_list_api():
    assert forget_from_indices([9, 1, 4], Y, 10).tolist() == [1, 4, 9]
    assert remain_indices(np.array([1, 4, 9]), 12).tolist() == [0, 2, 3, 5, 6, 7, 8, 10, 11]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("random:0", "no sample"),
        ("random:100", "nothing would remain"),
        ("random:1.5", "strictly between"),
        ("random:abc", "not a number"),
        ("class:12", "unknown class"),
        ("class:x", "integers"),
        ("class:0,1,2,3,4,5,6,7,8", "single class"),
        ("class:0,1,2,3,4,5,6,7,8,9", "nothing would remain|all"),
        ("bogus:1", "unknown kind"),
        ("random", "expected KIND:ARG"),
        ("indices:/nonexistent/file.txt", "no file"),
        ("indices:3,x,5", "'x' is not an index or a range"),
        ("indices:3-", "'3-' is not an index or a range"),
        ("indices:3,,5", "'' is not an index or a range"),
        ("indices:-1", "'-1' is not an index or a range"),
        ("indices:1 2", "'1 2' is not an index or a range"),
        ("indices:9-3", "range 9-3 runs backwards; write 3-9"),
        ("indices:3,3", r"duplicates: \[3\]"),
        ("indices:1-5,4-6", r"duplicates: \[4, 5\]"),
        ("indices:5,100,7-200", r"out of range 0..99: 100, 7-200"),
        ("indices:0-1000000000000", "out of range"),  # checked before the range is expanded
        ("indices:0-99", "nothing would remain|all"),
        ("indices:0-98", "single class"),
        ("indices:nofile", "no file"),
    ],
)
def test_bad_specs_name_the_problem(spec, message):
    with pytest.raises(UnlearnError, match=message):
        select_forget(spec, Y, 10)


def test_bad_specs_are_one_line_and_short():
    spec = "indices:" + ",".join(str(i) for i in range(0, 90, 2)) + ",oops"
    with pytest.raises(UnlearnError, match="'oops'") as err:
        select_forget(spec, Y, 10)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200


def test_bad_index_lists():
    with pytest.raises(UnlearnError, match="empty"):
        forget_from_indices([], Y, 10)
    with pytest.raises(UnlearnError, match="duplicates"):
        forget_from_indices([1, 1, 2], Y, 10)
    with pytest.raises(UnlearnError, match="out of range"):
        forget_from_indices([5, 100], Y, 10)
    with pytest.raises(UnlearnError, match="out of range"):
        forget_from_indices([-1], Y, 10)


def test_bad_index_file_line(tmp_path):
    f = tmp_path / "idx.txt"
    f.write_text("1\ntwo\n")
    with pytest.raises(UnlearnError, match=r"idx.txt: line 2 is not an integer index"):
        select_forget(f"indices:{f}", Y, 10)


def test_huge_index_in_file_is_out_of_range(tmp_path):
    f = tmp_path / "idx.txt"
    f.write_text("1\n99999999999999999999999\n")
    with pytest.raises(UnlearnError, match="out of range"):
        select_forget(f"indices:{f}", Y, 10)


# ------------------------------------------------------------------------------------------ inline indices
@pytest.mark.parametrize(
    "spec, expected",
    [
        ("indices:3,7,10-15", [3, 7, 10, 11, 12, 13, 14, 15]),
        ("indices: 3 , 7 ,10 - 12 ", [3, 7, 10, 11, 12]),
        ("INDICES:42", [42]),
        ("indices:5-5,1", [1, 5]),
        ("indices:9,0", [0, 9]),
    ],
)
def test_inline_indices(spec, expected):
    assert select_forget(spec, Y, 10).tolist() == expected


def test_inline_list_wins_over_a_file_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "7").write_text("1\n2\n")
    assert select_forget("indices:7", Y, 10).tolist() == [7]
    (tmp_path / "picked.txt").write_text("1\n2\n")
    assert select_forget("indices:picked.txt", Y, 10).tolist() == [1, 2]  # relative paths still work


@pytest.mark.parametrize(
    "indices, spec",
    [
        ([3, 7, 10, 11, 12, 13, 14, 15], "indices:3,7,10-15"),
        ([5, 4, 3], "indices:3-5"),
        ([1, 2], "indices:1,2"),  # a run of two is no shorter as a range
        ([0, 1, 2, 4, 5, 7, 8, 9, 10], "indices:0-2,4,5,7-10"),
        ([12], "indices:12"),
        (np.array([8, 9, 10], dtype=np.int32), "indices:8-10"),
        (torch.tensor([2, 0, 1]), "indices:0-2"),
    ],
)
def test_indices_spec(indices, spec):
    assert indices_spec(indices) == spec


@pytest.mark.parametrize(
    "indices, message",
    [([], "empty"), ([1, 1], "duplicates"), ([-2, 3], "0 or more"), ([1.5, 2.0], "integers"), ([[1, 2]], "flat")],
)
def test_indices_spec_refuses(indices, message):
    with pytest.raises(UnlearnError, match=message):
        indices_spec(indices)


def _reference_spec(values: list[int]) -> str:
    """A second, loop-based writer of the shortest form: the property test checks against it."""
    items, i = [], 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        items += [f"{values[i]}-{values[j]}"] if j - i >= 2 else [str(v) for v in values[i:j + 1]]
        i = j + 1
    return "indices:" + ",".join(items)


def test_indices_spec_round_trips_random_sets():
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(20, 400))
        y = np.arange(n) % 10
        if trial % 2:  # scattered indices
            chosen = rng.choice(np.arange(2, n), size=int(rng.integers(1, n - 2)), replace=False)
        else:  # a few random runs (exercises the ranges)
            mask = np.zeros(n, dtype=bool)
            for _ in range(int(rng.integers(1, 6))):
                lo = int(rng.integers(2, n))
                mask[lo:lo + int(rng.integers(1, 30))] = True
            chosen = rng.permutation(np.flatnonzero(mask))
        spec = indices_spec(chosen)
        expected = np.sort(chosen)
        assert spec == _reference_spec(expected.tolist())
        assert len(spec) <= len("indices:" + ",".join(map(str, expected)))
        assert np.array_equal(select_forget(spec, y, 10), expected), spec
        assert np.array_equal(forget_from_indices(chosen, y, 10), expected)


def test_inline_forget_turns_a_file_into_its_indices(tmp_path):
    f = tmp_path / "idx.txt"
    f.write_text("# hardest\n12\n10\n11\n40\n")
    spec = inline_forget(f"indices:{f}", Y, 10)
    assert spec == "indices:10-12,40"
    assert select_forget(spec, Y, 10).tolist() == select_forget(f"indices:{f}", Y, 10).tolist()
    for unchanged in ("random:0.1", "class:3,7", "indices:1-3,9", "bogus:1", "random"):
        assert inline_forget(unchanged, Y, 10) == unchanged
    with pytest.raises(UnlearnError, match="no file"):
        inline_forget("indices:/nonexistent/file.txt", Y, 10)
    f.write_text("1\n1\n")
    with pytest.raises(UnlearnError, match="duplicates"):
        inline_forget(f"indices:{f}", Y, 10)


def test_names_a_file_tells_file_specs_from_self_contained_ones():
    from engine.forget import names_a_file

    assert names_a_file("indices:/etc/passwd") and names_a_file("indices: ~/forget.txt")
    assert names_a_file("INDICES:x.txt")
    for spec in ("indices:3,7,10-15", "indices: 1, 2", "random:0.1", "class:3", "indices"):
        assert not names_a_file(spec), spec
