"""The first evaluation source: the development set's simulation, drawn from other seeds.

`tests/screening/core/devset.py` (the first simulation, written before the others) paints
cracks, stains and tears into six catalogue photos and transforms them in software
(crop, scale, rotation, colour, recompression; evasions add perspective, noise, blur or a
screenshot frame), and makes honest evidence by printing a catalogue photo and
photographing it in a new scene (`bench.synthetic.rephotograph`), by unrelated
photographs and by the other view of scikit-image's real stereo pair. With its own seed
it is the development set that the engine's first rules were tuned on; with another seed
it is a hold-out of the same simulation, reported beside the other sources.
"""

from __future__ import annotations

from pathlib import Path

from tests.screening.core import devset

__all__ = ["SEEDS", "RETIRED", "TUNING_SEEDS", "build_cases"]

# The tuning half is the development set itself (its default seed: looked at while every
# rule was written) and the retired hold-outs; the hold-out is drawn from a seed never
# screened before. Seed 9100 (engine 2026.12.1) was retired when engine 2026.12.2 changed
# after an outside source's hold-out; it joins the tuning half (TUNING_SEEDS), as seed 9200 (engine
# 2026.12.2) did with engine 2026.12.3, seed 9300 (engine 2026.12.3) with engine 2026.12.4 and seed
# 9400 (engine 2026.12.4) with engine 2026.12.5. Seed 9500 was screened once with an unfinished
# state of engine 2026.12.5 (one that did not search references the corners had placed) and
# retired with it, so seed 9600 was the hold-out of the engine as released; it joined the
# tuning half with engine 2026.12.6, whose hold-out seed 9700 joined it with engine 2026.12.7;
# that engine's hold-out, seed 9800, joined it with engine 2026.12.8, whose hold-out, seed 9900,
# joined it with engine 2026.12.9, whose hold-out, seed 10000, joined it with engine 2026.12.10,
# whose hold-out, seed 10100, joined it with engine 2026.12.11, whose hold-out, seed 10200,
# joined it with engine 2026.12.12, whose hold-out, seed 10300, joined it with engine 2026.12.13,
# whose hold-out, seed 10400, joined it with engine 2026.12.14, whose hold-out, seed 10500,
# joined it with engine 2026.12.15, whose hold-out, seed 10600, joined it with engine 2026.12.16,
# whose hold-out, seed 10700, joined it with the engine after it, whose hold-out is 10800.
SEEDS = {"tuning": devset.DEFAULT_SEED, "holdout": 10_800}
RETIRED = (
    *(9_100, 9_200, 9_300, 9_400, 9_500, 9_600, 9_700, 9_800, 9_900),
    *(10_000, 10_100, 10_200, 10_300, 10_400, 10_500, 10_600, 10_700),
)
TUNING_SEEDS = (SEEDS["tuning"], *RETIRED)

_CLASS = {"forgery": "forgery", "reuse": "copy", "rephoto": "rephoto", "unrelated": "unrelated", "stereo": "multiview"}


def build_cases(seed: int, directory: Path) -> list[dict]:
    """Write the set drawn from `seed` into `directory`; return its cases as bench/accuracy.py's dicts."""
    refs, samples = devset.build(seed)
    paths = []
    for name, _, data in refs:
        path = directory / f"ref-devset-{seed}-{name}.jpg"
        path.write_bytes(data)
        paths.append(str(path))
    cases = []
    for sample in samples:
        cls = _CLASS[sample.kind]
        evasive = sample.params.get("evasive") if sample.kind == "forgery" else None
        if evasive:
            cls = f"evasive-{evasive}"
        path = directory / f"devset-{seed}-{sample.name}.jpg"
        path.write_bytes(sample.data)
        cases.append(
            dict(
                name=f"devset-{seed}-{sample.name}",
                cls=cls,
                evidence=str(path),
                references=[paths[i] for i in sample.candidates],
                true_reference=paths[sample.reference] if sample.reference is not None else None,
                boxes=[list(b) for b in sample.edit_boxes],
            )
        )
    return cases
