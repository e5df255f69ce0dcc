"""training.holdout: the most representative held-out set of whole kits, on known figures."""

import pytest

from training.holdout import choose, gaps


def test_gaps_are_held_out_median_minus_the_rest():
    values = {("kick", "A"): [-40.0, -42.0], ("kick", "B"): [-50.0], ("kick", "C"): [-30.0, -20.0]}
    assert gaps(values, {"B"}) == {"kick": pytest.approx(-50 - (-35.0))}
    assert gaps(values, {"A", "C"}) == {"kick": pytest.approx(-35.0 - (-50.0))}
    assert gaps(values, {"A", "B", "C"}) is None  # nothing left to compare with


def test_choose_takes_the_set_closest_to_the_rest_under_the_constraints():
    # Kits D and E are typical of the pool for both voices; X is a dark outlier, Y a bright one.
    values = {
        ("kick", "D"): [-40.0],
        ("kick", "E"): [-41.0],
        ("kick", "F"): [-40.5],
        ("kick", "X"): [-60.0, -61.0],
        ("kick", "Y"): [-20.0],
        ("snare", "D"): [-15.0],
        ("snare", "E"): [-15.5],
        ("snare", "F"): [-15.2],
        ("snare", "X"): [-30.0],
        ("snare", "Y"): [-5.0],
    }
    held, g, every = choose(values, {"D", "E", "F", "X", "Y"}, min_kits=1, max_kits=2, min_clips=1)
    # F alone: kicks -40.5 against the rest's median -41.0; snares -15.2 against -15.25.
    assert held == ["F"]
    assert g == {"kick": pytest.approx(0.5), "snare": pytest.approx(0.05)}
    assert len(every) == 5 + 10  # every set of one or two kits meets min_clips=1
    assert max(abs(x) for x in g.values()) == min(max(abs(x) for x in e.values()) for e in every)
    # Two held-out clips of every voice: only pairs qualify, and the pair with X (dark) or Y (bright) in it
    # is as far from the rest as that kit makes it.
    held2, g2, every2 = choose(
        values, {"D", "E", "F", "X", "Y"}, min_kits=1, max_kits=2, min_clips=2
    )
    assert len(held2) == 2 and len(every2) == 10
    assert max(abs(x) for x in g2.values()) == min(max(abs(x) for x in e.values()) for e in every2)
    with pytest.raises(ValueError, match="no set"):
        choose(values, {"D", "E"}, min_kits=1, max_kits=1, min_clips=2)
