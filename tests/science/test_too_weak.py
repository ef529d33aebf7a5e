"""The "too weak to tell" rule: a weak model's answer names no winner; a clear one does."""

from zspace.science.question import POOR_FLOOR_SHARE, finding, too_weak_to_tell


def answer(floor: float, ceiling: float, fds: dict[str, float]) -> dict:
    """A question.json content with these FDs (precision, recall, voids made up: the rule does not read them)."""
    rows = [{"sampler": s, "n": 500, "fd": fd, "fd_over_floor": fd / floor, "precision": 0.5, "recall": 0.5,
             "void_share": 0.5} for s, fd in fds.items()]
    return {"label": "ae", "kind": "ae", "fact": None, "rows": rows,
            "floor": {"fd": floor}, "ceiling": {"fd": ceiling}}


def test_a_floor_beyond_shuffled_pixels_is_too_weak_whatever_the_samplers_do():
    # the quick demo before this rule: reconstructions 1.06x as far from the real images as shuffled pixels
    weak = answer(424.8, 399.4, {"normal": 566.8, "full-gauss": 425.0, "gmm:10": 425.7})
    reason = too_weak_to_tell(weak)
    assert reason is not None and "1.06x as far from the real images as shuffled pixels" in reason
    found = finding(weak)
    assert found["too_weak"] and "too weak to tell the samplers apart" in found["sentence"]
    assert "comes closest" not in found["sentence"]  # no winner named


def test_samplers_all_near_a_poor_floor_cannot_be_told_apart():
    weak = answer(100.0, 400.0, {"normal": 140.0, "gmm:10": 101.0})  # floor 0.25 of shuffled, spread 1.4x
    assert 100.0 / 400.0 >= POOR_FLOOR_SHARE
    assert "within 1.40x of a poor floor" in too_weak_to_tell(weak)
    assert finding(weak)["too_weak"]


def test_a_clear_answer_names_its_winner():
    # the full demo's AE: N(0, I) 47x its floor, the best fitted sampler 1.27x, floor far below shuffled pixels
    clear = answer(20.0, 900.0, {"normal": 941.0, "gmm:10": 26.0, "flow": 25.4})
    assert too_weak_to_tell(clear) is None
    found = finding(clear)
    assert not found["too_weak"]
    assert found["sentence"].startswith("ae (AE): flow comes closest to the reconstruction floor, at 1.27x")
    assert "N(0, I) does 37.0x worse" in found["sentence"]


def test_a_good_floor_with_samplers_close_together_is_a_finding_not_weakness():
    # a VAE whose prior fits: every sampler near a floor that is near the real images
    vae = answer(20.0, 900.0, {"normal": 24.0, "gmm:10": 22.0})
    assert too_weak_to_tell(vae) is None
    assert "N(0, I) does about as well" in finding(vae)["sentence"]
