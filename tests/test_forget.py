"""Forget-set specs and their validation errors."""

import numpy as np
import pytest

from engine.forget import forget_from_indices, remain_indices, select_forget
from engine.errors import UnlearnError

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
    ],
)
def test_bad_specs_name_the_problem(spec, message):
    with pytest.raises(UnlearnError, match=message):
        select_forget(spec, Y, 10)


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
    with pytest.raises(UnlearnError, match=r"idx.txt:2"):
        select_forget(f"indices:{f}", Y, 10)


def test_hand_picked_selection_is_saved_and_reloaded():
    from engine.forget import save_forget_file

    path = save_forget_file([7, 3, 42], Y, 10)
    assert path.is_file() and path == save_forget_file([42, 7, 3], Y, 10)  # content-addressed
    assert select_forget(f"indices:{path}", Y, 10).tolist() == [3, 7, 42]
    with pytest.raises(UnlearnError, match="duplicates"):
        save_forget_file([1, 1], Y, 10)
