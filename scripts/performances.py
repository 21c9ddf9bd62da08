#!/usr/bin/env python3
"""SYNTHETIC performers, performances and listeners over the music21 score corpus.

Why: chapter 2 of the thesis learns from label sources that real audio data sets carry (tempo,
artist, listening data) and evaluates on targets such as genre, dance type (the Ballroom analogue),
melody instrument (the IRMAS analogue) and cold-start recommendation. The music21 corpus has scores,
not recordings; this script invents the performances. EVERYTHING IT WRITES IS SYNTHETIC: the
performers, their instruments, tempi, transpositions and the listeners are drawn from seeded random
generators with the documented rules below, so results that depend on them (tempo, instrument, taste,
artist) measure how well a model recovers these rules, not facts about real musicians or listeners.
See docs/corpus.md ("Synthetic performers and listeners").

Usage:
    .venv/bin/python scripts/performances.py --scores data/corpus/scores.parquet \
        --out-dir data/corpus [--seed 19] [--performers 300] [--min-tracks 3] [--max-tracks 80]
        [--listeners 1000] [--min-listens 5] [--max-listens 200] [--dance-per-type 0]

Writes three Parquet files (zstd) into --out-dir:
  performers.parquet   performer, genres List<Utf8>, genre_tempo List<Float64> (customary beat
                       tempo of each genre, beats/min), tempo_factor, melody_program,
                       accomp_programs List<Int32>, transpose, legato, pan_offset, tracks
  performances.parquet clip, id (score id), kind ('performer' | 'dance'), performer (NULL for dance
                       clips), programs List<Int32> (per part, GM 0-127), tempo (quarter notes per
                       minute: the renderer's tempo_scale is tempo / 120), beat_bpm (beats per minute,
                       the beat taken from the meter, see beat_of), transpose, legato, pan
                       List<Float64> (per part, -1 left .. +1 right), melody_program
  listens.parquet      listener, clip, plays (performer clips only)

Rules (all random draws from numpy's PCG64 seeded by --seed, in a fixed order):
  * Performers: primary genre drawn with probability proportional to sqrt(collection size) over
    the collections with at least --min-genre-scores (10) scores (collection 'other' excluded);
    with probability 0.3 a second, different genre drawn the same way. Track counts are Zipf over ranks: the r-th performer
    (r = 1..P, ranks shuffled) gets round(max * r^-s) tracks with s = ln(max/min)/ln(P), so counts run
    from max down to min, capped by the number of scores in the performer's genres.
  * Instruments: melody_program from the 11 IRMAS-like GM programs (piano 0, church organ 19,
    nylon guitar 24, clean electric guitar 27, violin 40, cello 42, choir aahs 52, trumpet 56,
    alto sax 65, clarinet 71, flute 73) with genre-specific weights (GENRE_MELODY); two or three
    accompaniment programs from the primary genre's palette (GENRE_ACCOMP), ordered high to low.
    In a clip, the score's top part (scores.top_part) gets the melody program, the other parts the
    accompaniment programs in part order, cycling.
  * Tempo: each genre has a customary beat tempo (GENRE_BPM, beats/min, our choice: folk songs near
    100 as in the design notes, airs and sacred polyphony slower, dance music faster); a performer
    plays at customary * tempo_factor, tempo_factor = exp(N(0, 0.08)) clipped to [0.8, 1.25], times a
    per-clip exp(N(0, 0.03)). Quarter notes per minute = beat_bpm * quarters per beat.
  * transpose: performer constant, drawn from -3..+3 with weights (1,2,4,10,4,2,1)/24.
  * legato (articulation: sounding length / notated length): U(0.6, 1.0) per performer (a renderer
    that has no articulation parameter ignores it).
  * pan: the melody part at pan_offset (U(-0.2, 0.2)), the other parts spread evenly over
    [-0.7, 0.7] in part order plus N(0, 0.05), clipped to [-1, 1].
  * Dance clips (kind 'dance', performer NULL): every score whose dance_type has at least
    --min-dance-scores (20) scores (or at most --dance-per-type of them per type, seeded, when set) is rendered once at its dance
    type's customary tempo (DANCE_BARS_PER_MIN: bars per minute, times the bar length in quarter notes
    from the meter) times exp(N(0, 0.03)); melody program from the dance palette (violin, flute,
    piano, nylon guitar, clarinet, accordion as the only non-IRMAS one), no transposition.
  * Listeners: L listeners, activity Zipf over ranks like the track counts (max-listens down to
    min-listens distinct clips, capped by the number of clips); taste = Dirichlet(0.3) over the
    genres, plus three favourite performers drawn from the performers of the listener's top genre.
    A listener draws clips without replacement with weight taste[genre] * (1 + 4 * favourite) *
    tracks(performer)^0.5 (popular performers are heard more); plays = 1 + Poisson(3 * w / max w).

Customary dance tempi (bars per minute; sources: B. Breathnach, Ceol Rince na hEireann vol. 1 (1963),
p. ix, metronome marks: reels 224, hornpipes 180 crotchets/min (4/4), double jigs 127, single jigs
137, slip jigs 144 dotted crotchets/min; RSCDS recommendation: reels and jigs 58 bars/min;
strathspeys 126-138 crotchets/min per A. Hardie as quoted on the scots-l list, Wikipedia "Strathspey
(dance)": 108-160):
    reel 56 (= 224/4)   hornpipe 45 (= 180/4)   double jig 63.5 (= 127/2)   jig 58 (RSCDS)
    slip jig 48 (= 144/3)   single jig 68.5   strathspey 33 (= 132/4)   clog 45 (a hornpipe form)
    highland fling 33 (danced to strathspeys)
"""
import argparse
import math
import os
import sys
from collections import Counter, defaultdict

import numpy as np

IRMAS = {"piano": 0, "organ": 19, "guitar": 24, "electric_guitar": 27, "violin": 40,
         "cello": 42, "voice": 52, "trumpet": 56, "saxophone": 65, "clarinet": 71, "flute": 73}
# melody instrument weights per genre (names of IRMAS); unlisted instruments get weight 0.2
GENRE_MELODY = {
    "german_folk": {"voice": 4, "guitar": 3, "clarinet": 2, "violin": 2, "piano": 2, "flute": 1},
    "german_ballad": {"voice": 5, "guitar": 3, "piano": 2, "violin": 1},
    "chinese_folk": {"flute": 5, "voice": 4, "violin": 2, "guitar": 1},
    "luxembourg_folk": {"voice": 3, "clarinet": 3, "trumpet": 2, "piano": 2, "violin": 1},
    "lorraine_folk": {"voice": 4, "organ": 2, "violin": 2, "clarinet": 2, "piano": 1},
    "irish_folk": {"voice": 4, "flute": 3, "violin": 3, "guitar": 2},
    "irish_dance": {"violin": 6, "flute": 5, "piano": 1, "guitar": 1},
    "american_fiddle": {"violin": 8, "guitar": 2, "piano": 1},
    "scottish_air": {"violin": 4, "flute": 4, "voice": 2, "piano": 1, "cello": 1},
    "fife": {"flute": 8, "trumpet": 3, "clarinet": 1},
    "northumbrian": {"violin": 4, "flute": 3, "voice": 2, "clarinet": 1},
    "mass": {"voice": 8, "organ": 4, "trumpet": 1},
    "chorale": {"organ": 6, "voice": 5, "trumpet": 2, "violin": 1},
    "madrigal": {"voice": 8, "violin": 1, "flute": 1},
    "trecento": {"voice": 6, "flute": 2, "organ": 2},
    "quartet": {"violin": 10, "cello": 1},
    "other": {"piano": 4, "violin": 2, "saxophone": 1, "electric_guitar": 1, "trumpet": 1},
}
# accompaniment palettes (GM programs, high to low)
GENRE_ACCOMP = {
    "german_folk": [21, 24, 46, 32, 0],          # accordion, nylon guitar, harp, acoustic bass, piano
    "german_ballad": [24, 46, 0, 32],
    "chinese_folk": [15, 107, 104, 110],         # dulcimer, koto, sitar, fiddle
    "luxembourg_folk": [21, 71, 57, 58, 0],      # accordion, clarinet, trombone, tuba, piano
    "lorraine_folk": [21, 19, 24, 0],
    "irish_folk": [46, 24, 0, 109],              # harp, guitar, piano, bagpipe
    "irish_dance": [24, 0, 21, 109],
    "american_fiddle": [105, 24, 0, 32],         # banjo, guitar, piano, bass
    "scottish_air": [46, 0, 109, 42],
    "fife": [72, 73, 116, 58],                   # piccolo, flute, taiko, tuba
    "northumbrian": [109, 21, 24, 46],
    "mass": [52, 53, 19, 57, 70],                # choir, voice oohs, organ, trombone, bassoon
    "chorale": [19, 52, 48, 57, 70],             # organ, choir, strings, trombone, bassoon
    "madrigal": [52, 53, 74, 24, 42],            # choir, oohs, recorder, guitar (lute), cello
    "trecento": [53, 74, 24, 19],
    "quartet": [40, 41, 42],                     # violin, viola, cello
    "other": [0, 48, 33, 24],
}
# customary beat tempo (beats per minute) per genre: our choice, documented in docs/corpus.md
GENRE_BPM = {
    "german_folk": 100, "german_ballad": 92, "chinese_folk": 84, "luxembourg_folk": 100,
    "lorraine_folk": 96, "irish_folk": 88, "irish_dance": 112, "american_fiddle": 112,
    "scottish_air": 80, "fife": 112, "northumbrian": 96, "mass": 66, "chorale": 76,
    "madrigal": 72, "trecento": 72, "quartet": 100, "other": 100,
}
DANCE_BARS_PER_MIN = {"reel": 56.0, "hornpipe": 45.0, "double jig": 63.5, "jig": 58.0,
                      "slip jig": 48.0, "single jig": 68.5, "strathspey": 33.0, "clog": 45.0,
                      "highland fling": 33.0}
DANCE_MELODY = [40, 73, 0, 24, 71, 21]
DANCE_ACCOMP = [24, 0, 32]


def meter_parts(meter):
    try:
        num, den = (int(x) for x in (meter or "4/4").split("/"))
        if num <= 0 or den <= 0:
            raise ValueError
    except ValueError:
        num, den = 4, 4
    return num, den


def bar_quarters(meter):
    num, den = meter_parts(meter)
    return num * 4.0 / den


def beat_of(meter):
    """Quarter notes per beat from the meter: compound meters (numerator 6, 9, 12, ... over 8 or 16)
    beat in dotted units (3 eighths/sixteenths), x/2 in half notes, x/1 in whole notes, otherwise
    one denominator unit (quarter in x/4, eighth in 3/8, ...)."""
    num, den = meter_parts(meter)
    unit = 4.0 / den
    if den >= 8 and num % 3 == 0 and num > 3:
        return 3 * unit
    return unit


def zipf_counts(n, hi, lo):
    if n <= 0:
        return []
    if n == 1:
        return [hi]
    s = math.log(hi / lo) / math.log(n)
    return [max(lo, int(round(hi * r ** -s))) for r in range(1, n + 1)]


def read(path):
    import pyarrow.parquet as pq
    cols = ["id", "collection", "dance_type", "meter", "parts", "top_part"]
    return pq.read_table(path, columns=cols).to_pylist()


def write(rows, schema, path, nullable=()):
    """Columns are NOT NULL except those named in nullable."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    schema = pa.schema([f.with_nullable(f.name in nullable) for f in schema])
    t = pa.table({f.name: [r[f.name] for r in rows] for f in schema}, schema=schema)
    tmp = path + ".tmp"
    pq.write_table(t, tmp, compression="zstd")
    os.replace(tmp, path)


def part_programs(score, melody, accomp):
    progs, j = [], 0
    for p in range(score["parts"]):
        if p == score["top_part"]:
            progs.append(int(melody))
        else:
            progs.append(int(accomp[j % len(accomp)]))
            j += 1
    return progs


def part_pan(rng, score, offset):
    n = score["parts"]
    others = [p for p in range(n) if p != score["top_part"]]
    pan = [0.0] * n
    pan[score["top_part"]] = float(offset)
    for k, p in enumerate(others):
        x = 0.0 if len(others) == 1 else -0.7 + 1.4 * k / (len(others) - 1)
        pan[p] = float(np.clip(x + rng.normal(0, 0.05), -1, 1))
    return [round(x, 4) for x in pan]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scores", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--performers", type=int, default=300)
    ap.add_argument("--min-tracks", type=int, default=3)
    ap.add_argument("--max-tracks", type=int, default=80)
    ap.add_argument("--listeners", type=int, default=1000)
    ap.add_argument("--min-listens", type=int, default=5)
    ap.add_argument("--max-listens", type=int, default=200)
    ap.add_argument("--dance-per-type", type=int, default=0,
                    help="at most N dance clips per dance type (0 = every tune of the type)")
    ap.add_argument("--min-genre-scores", type=int, default=10,
                    help="collections with fewer scores get no performers")
    ap.add_argument("--min-dance-scores", type=int, default=20,
                    help="dance types with fewer scores get no dance clips")
    a = ap.parse_args()
    import pyarrow as pa

    rng = np.random.Generator(np.random.PCG64(a.seed))
    scores = sorted(read(a.scores), key=lambda r: r["id"])
    by_id = {s["id"]: s for s in scores}
    by_genre = defaultdict(list)
    for s in scores:
        by_genre[s["collection"]].append(s["id"])
    genres = sorted(g for g, v in by_genre.items() if g != "other" and len(v) >= a.min_genre_scores)
    if not genres:
        sys.exit("no collection has enough scores")
    gw = np.array([math.sqrt(len(by_genre[g])) for g in genres])
    gw = gw / gw.sum()

    # ---------------------------------------------------------------- performers
    counts = zipf_counts(a.performers, a.max_tracks, a.min_tracks)
    rng.shuffle(counts)
    performers, performances = [], []
    for i in range(a.performers):
        name = f"performer_{i + 1:03d}"
        g1 = genres[rng.choice(len(genres), p=gw)]
        mine = [g1]
        if rng.random() < 0.3 and len(genres) > 1:
            rest = [g for g in genres if g != g1]
            w = np.array([gw[genres.index(g)] for g in rest])
            mine.append(rest[rng.choice(len(rest), p=w / w.sum())])
        mw = GENRE_MELODY.get(g1, GENRE_MELODY["other"])
        names = sorted(IRMAS)
        w = np.array([mw.get(k, 0.2) for k in names], dtype=float)
        melody = IRMAS[names[rng.choice(len(names), p=w / w.sum())]]
        pal = GENRE_ACCOMP.get(g1, GENRE_ACCOMP["other"])
        k = min(len(pal), int(rng.integers(2, 4)))
        idx = sorted(rng.choice(len(pal), size=k, replace=False).tolist())
        accomp = [int(pal[j]) for j in idx]
        factor = float(np.clip(math.exp(rng.normal(0, 0.08)), 0.8, 1.25))
        transpose = int(rng.choice(np.arange(-3, 4), p=np.array([1, 2, 4, 10, 4, 2, 1]) / 24))
        legato = float(rng.uniform(0.6, 1.0))
        pan_offset = float(rng.uniform(-0.2, 0.2))
        pool = [(sid, g) for g in mine for sid in by_genre[g]]
        n = min(counts[i], len(pool))
        pw = np.array([0.7 if g == g1 else 0.3 for _, g in pool])
        pw = pw / pw.sum()
        pick = rng.choice(len(pool), size=n, replace=False, p=pw)
        for t, j in enumerate(sorted(pick.tolist(), key=lambda j: pool[j][0])):
            sid, g = pool[j]
            sc = by_id[sid]
            beat = GENRE_BPM.get(g, 100) * factor * math.exp(rng.normal(0, 0.03))
            performances.append(dict(
                clip=f"{name}/{t + 1:03d}", id=sid, kind="performer", performer=name,
                programs=part_programs(sc, melody, accomp), tempo=round(beat * beat_of(sc["meter"]), 3),
                beat_bpm=round(beat, 3), transpose=transpose, legato=round(legato, 4),
                pan=part_pan(rng, sc, pan_offset), melody_program=int(melody)))
        performers.append(dict(
            performer=name, genres=mine, genre_tempo=[float(GENRE_BPM.get(g, 100)) for g in mine],
            tempo_factor=round(factor, 4), melody_program=int(melody), accomp_programs=accomp,
            transpose=transpose, legato=round(legato, 4), pan_offset=round(pan_offset, 4), tracks=n))

    # ---------------------------------------------------------------- dance clips
    dances = defaultdict(list)
    for s in scores:
        if s["dance_type"] in DANCE_BARS_PER_MIN:
            dances[s["dance_type"]].append(s["id"])
    for d in sorted(dances):
        ids = dances[d]
        if len(ids) < a.min_dance_scores:
            continue
        if a.dance_per_type and len(ids) > a.dance_per_type:
            ids = sorted(rng.choice(ids, size=a.dance_per_type, replace=False).tolist())
        for sid in ids:
            sc = by_id[sid]
            q = DANCE_BARS_PER_MIN[d] * bar_quarters(sc["meter"]) * math.exp(rng.normal(0, 0.03))
            melody = DANCE_MELODY[int(rng.integers(len(DANCE_MELODY)))]
            performances.append(dict(
                clip=f"dance/{sid}", id=sid, kind="dance", performer=None,
                programs=part_programs(sc, melody, DANCE_ACCOMP), tempo=round(q, 3),
                beat_bpm=round(q / beat_of(sc["meter"]), 3), transpose=0, legato=0.9,
                pan=part_pan(rng, sc, 0.0), melody_program=int(melody)))

    # ---------------------------------------------------------------- listeners
    pclips = [p for p in performances if p["kind"] == "performer"]
    tracks = {p["performer"]: p["tracks"] for p in performers}
    perf_genre = {p["performer"]: p["genres"][0] for p in performers}
    clip_genre = np.array([genres.index(by_id[c["id"]]["collection"]) for c in pclips])
    clip_perf = [c["performer"] for c in pclips]
    pop = np.array([math.sqrt(tracks[p]) for p in clip_perf])
    activity = zipf_counts(a.listeners, a.max_listens, a.min_listens)
    rng.shuffle(activity)
    listens = []
    for u in range(a.listeners):
        taste = rng.dirichlet(np.full(len(genres), 0.3))
        top = genres[int(np.argmax(taste))]
        cands = sorted(p for p, g in perf_genre.items() if g == top) or sorted(perf_genre)
        fav = set(rng.choice(cands, size=min(3, len(cands)), replace=False).tolist())
        w = taste[clip_genre] * pop * np.array([5.0 if p in fav else 1.0 for p in clip_perf])
        w = w + 1e-12
        n = min(activity[u], len(pclips))
        pick = rng.choice(len(pclips), size=n, replace=False, p=w / w.sum())
        wmax = w[pick].max()
        for j in sorted(pick.tolist()):
            plays = 1 + int(rng.poisson(3.0 * w[j] / wmax))
            listens.append(dict(listener=f"listener_{u + 1:04d}", clip=pclips[j]["clip"], plays=plays))

    os.makedirs(a.out_dir, exist_ok=True)
    write(performers, pa.schema([
        ("performer", pa.utf8()), ("genres", pa.list_(pa.utf8())),
        ("genre_tempo", pa.list_(pa.float64())), ("tempo_factor", pa.float64()),
        ("melody_program", pa.int32()), ("accomp_programs", pa.list_(pa.int32())),
        ("transpose", pa.int32()), ("legato", pa.float64()), ("pan_offset", pa.float64()),
        ("tracks", pa.int32())]), os.path.join(a.out_dir, "performers.parquet"))
    write(performances, pa.schema([
        ("clip", pa.utf8()), ("id", pa.utf8()), ("kind", pa.utf8()), ("performer", pa.utf8()),
        ("programs", pa.list_(pa.int32())), ("tempo", pa.float64()), ("beat_bpm", pa.float64()),
        ("transpose", pa.int32()), ("legato", pa.float64()), ("pan", pa.list_(pa.float64())),
        ("melody_program", pa.int32())]), os.path.join(a.out_dir, "performances.parquet"),
        nullable={"performer"})  # NULL on dance clips
    write(listens, pa.schema([("listener", pa.utf8()), ("clip", pa.utf8()), ("plays", pa.int32())]),
          os.path.join(a.out_dir, "listens.parquet"))
    kinds = Counter(p["kind"] for p in performances)
    print(f"performers {len(performers)}, performances {len(performances)} "
          f"({dict(sorted(kinds.items()))}), listens {len(listens)} by {a.listeners} listeners",
          file=sys.stderr)
    pg = Counter(by_id[p["id"]]["collection"] for p in pclips)
    print("performer clips by genre: " + ", ".join(f"{k} {v}" for k, v in sorted(pg.items())),
          file=sys.stderr)
    dc = Counter(by_id[p["id"]]["dance_type"] for p in performances if p["kind"] == "dance")
    print("dance clips: " + ", ".join(f"{k} {v}" for k, v in sorted(dc.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
