"""A deterministic synthetic catalogue for demos and tests, in the canonical schema.

Lyrics are built from vocabularies written for this module (no real lyrics): a shared common
vocabulary, one per genre and one per mood, plus noise words and some bleed from other genres,
so lexical, topic and encoder stages all find real but imperfect signal. Audio features are
drawn per genre and shifted by mood (valence/energy), as in real catalogues. Labels go missing
at realistic rates while the lyrics still carry the hidden label, as with real untagged songs.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from recsys.catalog import assign_splits, conform, song_id
from recsys.schema import UNIT_FEATURES
from recsys.text import normalize_text
from recsys.errors import RecsysError

GENRES = ["pop", "rock", "hip hop", "r&b", "country", "blues", "jazz", "reggae", "electronic", "folk", "metal", "classical"]
# Popularity of each genre in the catalogue; pop and rock dominate as in real collections.
_GENRE_WEIGHTS = np.array([18, 16, 12, 8, 8, 5, 6, 5, 9, 6, 5, 2], dtype=float)
_MOOD_WEIGHTS = {"happy": 0.32, "sad": 0.30, "angry": 0.18, "relaxed": 0.20}
MOOD_NAMES = list(_MOOD_WEIGHTS)

_COMMON = """
love heart night day time world life away home eyes hand light dream feel know say heaven face
road baby tonight tomorrow yesterday morning evening friend people walk run stay leave come go
call find lose hold take give keep back around again always never forever everything nothing
something somebody nobody little long last first young old sky rain sun moon fire water door
window street town city river sea wind stars voice song sing words story remember believe
""".split()

_GENRE_VOCAB = {
    "pop": "glitter spotlight radio crush sparkle bubblegum weekend selfie party dancefloor sugar candy "
    "kiss summer neon superstar diamonds heartbeat popstar chart catchy glow shine stereo mirror",
    "rock": "guitar amplifier highway rebel thunder engine garage riot wild leather distortion stage "
    "roar drums feedback chrome asphalt rumble outlaw loud stadium anthem backstage jukebox",
    "hip hop": "rhyme hustle block crew microphone cipher beats flow hood paper grind verse bars "
    "hustler corner sneakers mixtape freestyle hater spit rapper bling respect boulevard",
    "r&b": "silk velvet slow groove touch candlelight desire babe sensual whisper caress tender "
    "satin lover honey intimate sway bedroom perfume midnight falsetto harmony smooth",
    "country": "truck dirt porch whiskey cowboy boots barn tractor fence prairie rodeo saddle gravel "
    "hometown creek fiddle banjo pickup bonfire tailgate cornfield dusty chapel",
    "blues": "trouble crossroads levee cotton muddy train harmonica shack misery juke rambling "
    "bottle mojo hoodoo delta sharecropper lowdown mississippi slide preacher graveyard",
    "jazz": "saxophone trumpet swing martini smoky cabaret bebop cool improvise bassline club "
    "brass piano serenade moonlight lounge syncopation scat velvety manhattan standards",
    "reggae": "zion babylon jah irie roots island rastaman skank dread riddim sunshine unity "
    "herb yard lion redemption kingston steppers bassline righteous exodus",
    "electronic": "synth pulse laser circuit digital neon machine bassdrop rave strobe frequency "
    "signal voltage loop glitch matrix wave hologram android binary sequencer",
    "folk": "meadow willow harvest lantern spinning cabin mountain valley ballad wagon shepherd "
    "autumn orchard hearth loom fiddle pilgrim wanderer cottage oaken",
    "metal": "inferno blade steel doom abyss warrior chaos sacrifice throne serpent carnage "
    "iron darkness wrath apocalypse crypt legion tyrant molten venom",
    "classical": "aria sonata overture crescendo symphony cathedral requiem nocturne prelude "
    "cantata chorale orchestra maestro adagio libretto fugue minuet allegro",
}

_MOOD_VOCAB = {
    "happy": "smile laugh sunshine dance celebrate joy bright shining wonderful golden sweet "
    "lucky alive free together bloom bliss cheer rainbow delight grin glowing",
    "sad": "tears cry lonely goodbye broken cold empty grey sorrow ache miss gone fading "
    "regret rainy lost alone shadows mourn hollow grieve weeping",
    "angry": "rage hate burn scream fight fury break destroy enemy war storm revenge "
    "blood bitter poison smash punish furious betray violent snarl",
    "relaxed": "breeze gentle calm drift easy slow float quiet peaceful soft lazy hammock "
    "breathe ocean waves mellow tranquil sway linger hush unwind",
}

# Rare words shared by no label, so no vocabulary is perfectly clean.
_NOISE = """
paperclip umbrella ticket elevator pencil stapler sandwich envelope bicycle calendar teapot
ladder marble button postcard carpet parrot lemon pillow compass notebook kettle puzzle
spoon velcro antenna cushion domino tangerine yoyo blanket magnet
""".split()

_FIRST = """
Ava Ben Cora Dale Eli Faye Gus Hana Ivan Jade Kai Lena Milo Nora Otis Pia Quinn Rosa Sam Tess
Uma Vic Wes Xena Yara Zane Alma Bo June Ray Lou Mae Nico Ruby Theo Iris Jack Lila Omar Ada
""".split()
_LAST = """
Hart Vale Moss Reed Stone Wolfe Lane Price Frost Carter Bell Fox Grant Hayes Knight Lowe
Marsh Nash Page Quill Rowe Shaw Tate Voss Wade York Blake Crane Dunn Ellis Ford Gale
""".split()
_BAND_ADJ = "Velvet Silver Midnight Electric Paper Golden Broken Neon Hollow Crimson Wild Lonesome Restless Quiet Iron".split()
_BAND_NOUN = "Owls Wolves Rivers Engines Sparrows Lanterns Ghosts Machines Foxes Pilots Comets Strangers Tigers Sailors Echoes".split()

_TITLE_ADJ = """Blue Last Little Endless Burning Golden Lonely Wild Sweet Silent Broken Electric Empty Summer
    Midnight Crazy Hidden Velvet Secret Faded Northern Restless Tender Crimson Paper Holy Distant Frozen""".split()
_TITLE_NOUN = """Heart Road Night Fire River Dream Rain Highway Love Sky Stars Song Storm Town Morning Shadow
    Door Girl Boy Light Garden Ocean Mirror Window Letter Island Train Angel Summer Harbor Valley Echo""".split()
_TITLE_VERB = "Dancing Running Falling Waiting Calling Burning Drifting Holding Leaving Dreaming Singing Chasing".split()
_TITLE_PREP = ["in the", "on the", "through the", "for the", "down the", "across the"]

_MOOD_RAW = {
    "happy": ["happy", "upbeat", "cheerful", "feel good"],
    "sad": ["sad", "melancholy", "heartbreak", "lonely"],
    "angry": ["angry", "aggressive", "rage", "intense"],
    "relaxed": ["relaxed", "chill", "mellow", "calm"],
}

# Per-genre audio means: danceability energy valence acousticness instrumentalness speechiness
# liveness, loudness (dB), tempo (BPM), probability of major mode, decade centre of releases.
_AUDIO = {
    "pop": (0.68, 0.66, 0.55, 0.20, 0.02, 0.07, 0.16, -6.0, 118, 0.65, 2005),
    "rock": (0.50, 0.78, 0.48, 0.12, 0.06, 0.05, 0.20, -6.5, 126, 0.70, 1985),
    "hip hop": (0.76, 0.65, 0.50, 0.15, 0.01, 0.28, 0.18, -6.2, 96, 0.52, 2008),
    "r&b": (0.68, 0.55, 0.52, 0.25, 0.02, 0.10, 0.14, -7.2, 100, 0.55, 2000),
    "country": (0.58, 0.62, 0.60, 0.30, 0.01, 0.04, 0.18, -6.8, 120, 0.85, 1998),
    "blues": (0.52, 0.48, 0.50, 0.55, 0.08, 0.05, 0.25, -10.0, 108, 0.70, 1968),
    "jazz": (0.55, 0.35, 0.50, 0.75, 0.30, 0.06, 0.20, -12.5, 112, 0.60, 1972),
    "reggae": (0.75, 0.58, 0.72, 0.18, 0.05, 0.12, 0.15, -8.0, 90, 0.60, 1980),
    "electronic": (0.70, 0.80, 0.45, 0.06, 0.45, 0.07, 0.15, -5.5, 126, 0.50, 2012),
    "folk": (0.50, 0.35, 0.45, 0.80, 0.05, 0.04, 0.14, -11.0, 110, 0.75, 1975),
    "metal": (0.40, 0.92, 0.28, 0.03, 0.12, 0.09, 0.22, -4.5, 140, 0.40, 1995),
    "classical": (0.28, 0.18, 0.25, 0.92, 0.85, 0.04, 0.12, -20.0, 98, 0.55, 1970),
}
# How each mood moves valence and energy (Russell's quadrants).
_MOOD_SHIFT = {"happy": (0.18, 0.10), "sad": (-0.20, -0.15), "angry": (-0.12, 0.18), "relaxed": (0.08, -0.20)}

_AUDIO_MISSING, _MOOD_MISSING, _GENRE_MISSING, _MULTI_GENRE = 0.15, 0.20, 0.10, 0.25
_SHARED_TITLES = 0.02  # share of songs that reuse an earlier title


_VOCAB_GENRE = {g: np.array(v.split(), dtype=object) for g, v in _GENRE_VOCAB.items()}
_VOCAB_MOOD = {m: np.array(v.split(), dtype=object) for m, v in _MOOD_VOCAB.items()}
# Function words: stop words to the lexical stages, natural phrasing to the encoder.
_GLUE = np.array("the and my you i in of to your we a it is me on all for".split(), dtype=object)
_COMMON_ARR = np.array(_COMMON, dtype=object)
_NOISE_ARR = np.array(_NOISE, dtype=object)
_POOLS = [_GLUE, _COMMON_ARR, *_VOCAB_GENRE.values(), *_VOCAB_MOOD.values(), _NOISE_ARR]
_VOCAB = np.concatenate(_POOLS)
_POOL_START = np.cumsum([0] + [len(p) for p in _POOLS])[:-1]
_POOL_LEN = np.array([len(p) for p in _POOLS])
_GENRE_POOL0, _MOOD_POOL0, _NOISE_POOL = 2, 2 + len(GENRES), 2 + len(GENRES) + len(_MOOD_VOCAB)
# Word sources: glue, common, own genre(s), mood, any genre (cross-genre bleed), noise.
_SOURCE_P = [0.22, 0.40, 0.12, 0.09, 0.10, 0.07]


def _draw_words(rng: np.random.Generator, counts: np.ndarray, genre_a: np.ndarray, genre_b: np.ndarray,
                mood: np.ndarray) -> np.ndarray:
    """All songs' lyric words in one flat array (song i's ``counts[i]`` words in order), drawn
    from the sources in ``_SOURCE_P`` proportions; a two-genre song draws from both."""
    song = np.repeat(np.arange(len(counts)), counts)
    source = rng.choice(len(_SOURCE_P), size=len(song), p=_SOURCE_P)
    u = rng.random((3, len(song)))
    own_genre = np.where(u[0] < 0.5, genre_a[song], genre_b[song])
    pool = np.select(
        [source == 0, source == 1, source == 2, source == 3, source == 4],
        [0, 1, _GENRE_POOL0 + own_genre, _MOOD_POOL0 + mood[song], _GENRE_POOL0 + (u[1] * len(GENRES)).astype(int)],
        _NOISE_POOL,
    )
    return _VOCAB[_POOL_START[pool] + (u[2] * _POOL_LEN[pool]).astype(int)]


def _lyrics(rng: np.random.Generator, fresh: np.ndarray, n_words: int) -> str:
    """Verses of fresh lines with a chorus repeated after each, from the words in ``fresh``;
    at most ``n_words`` words and at least ``n_words - 9`` (lines are 5-9 words)."""
    lengths = rng.integers(5, 10, size=len(fresh) // 5)
    ends = np.cumsum(lengths)
    lines = iter([(" ".join(fresh[b - k:b]).capitalize(), int(k)) for k, b in zip(lengths, ends) if b <= len(fresh)])
    chorus = [next(lines) for _ in range(int(rng.integers(2, 5)))]
    out: list[str] = []
    total = 0

    def add(block: list[tuple[str, int]]) -> bool:
        nonlocal total
        for text, size in block:
            if total + size > n_words:
                return False
            out.append(text)
            total += size
        out.append("")  # blank line between blocks
        return True

    while add([next(lines) for _ in range(int(rng.integers(3, 6)))]) and add(chorus):
        pass
    return "\n".join(out).strip()


def _pick(rng: np.random.Generator, items: list[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _artists(rng: np.random.Generator, count: int, patience: int = 1000) -> list[str]:
    """Unique artist names (unique after normalisation, so song ids cannot collide). The word
    lists give about 1,500 common names and rarer "& The ..." credits; once ``patience`` draws
    in a row find no new name, names are numbered, so a catalogue of any size can be generated
    (the first numbered name appears past 60,000 songs)."""
    names: list[str] = []
    seen: set[str] = set()
    misses = 0
    while len(names) < count:
        if rng.random() < 0.6:
            name = f"{_pick(rng, _FIRST)} {_pick(rng, _LAST)}"
        else:
            name = f"The {_pick(rng, _BAND_ADJ)} {_pick(rng, _BAND_NOUN)}"
        if rng.random() < 0.03:  # the odd "& The ..." credit so normalisation is exercised
            name += f" & The {_pick(rng, _BAND_NOUN)}"
        if misses >= patience:
            name += f" {len(names) + 1}"
        key = normalize_text(name)
        if key in seen:
            misses += 1
            continue
        seen.add(key)
        names.append(name)
        misses = 0
    return names


def _title(rng: np.random.Generator) -> str:
    form = int(rng.integers(4))
    if form == 0:
        return f"{_pick(rng, _TITLE_ADJ)} {_pick(rng, _TITLE_NOUN)}"
    if form == 1:
        return f"{_pick(rng, _TITLE_VERB)} {_pick(rng, _TITLE_PREP)} {_pick(rng, _TITLE_NOUN)}"
    if form == 2:
        return f"The {_pick(rng, _TITLE_NOUN)} of {_pick(rng, _TITLE_ADJ)} {_pick(rng, _TITLE_NOUN)}"
    return f"{_pick(rng, _TITLE_ADJ)} {_pick(rng, _TITLE_NOUN)} {_pick(rng, _TITLE_VERB)}"


def _audio(rng: np.random.Generator, genre_a: np.ndarray, genre_b: np.ndarray, mood: np.ndarray) -> dict[str, np.ndarray]:
    """Audio columns for every song: the mean of its genres' profiles, shifted by its mood."""
    table = np.array([_AUDIO[g] for g in GENRES], dtype=float)
    means = (table[genre_a] + table[genre_b]) / 2
    shift = np.array(list(_MOOD_SHIFT.values()))[mood]
    means[:, 2] += shift[:, 0]
    means[:, 1] += shift[:, 1]
    n = len(mood)
    noise = rng.normal(0.0, 1.0, (n, 9))
    unit = np.clip(means[:, :7] + 0.10 * noise[:, :7], 0.0, 1.0).round(4)
    cols = {f: unit[:, j] for j, f in enumerate(UNIT_FEATURES)}
    cols["loudness"] = np.clip(means[:, 7] + 2.5 * noise[:, 7], -60.0, 0.0).round(2)
    cols["tempo"] = np.clip(means[:, 8] + 14.0 * noise[:, 8], 50.0, 220.0).round(2)
    cols["key"] = rng.integers(12, size=n)
    bright = np.isin(mood, [MOOD_NAMES.index("happy"), MOOD_NAMES.index("relaxed")])
    cols["mode"] = (rng.random(n) < means[:, 9] + np.where(bright, 0.15, -0.15)).astype(int)
    cols["time_signature"] = rng.choice([4, 3, 5], size=n, p=[0.88, 0.10, 0.02])
    return cols


def _titles(rng: np.random.Generator, artist_of: np.ndarray, shared: np.ndarray) -> list[str]:
    """Titles unique per artist and mostly across the catalogue; where ``shared`` is set a song
    reuses an earlier song's title (by another artist), so lookups must disambiguate by artist."""
    own: dict[int, set[str]] = {}
    taken: list[str] = []
    seen: set[str] = set()
    for a, reuse in zip(artist_of.tolist(), shared.tolist()):
        mine = own.setdefault(a, set())
        title = taken[int(rng.integers(len(taken)))] if reuse and taken else _title(rng)
        for attempt in range(100):
            if title not in mine and (reuse or title not in seen or attempt > 20):
                break
            title = _title(rng)
        mine.add(title)
        seen.add(title)
        taken.append(title)
    return taken


# Six times the real catalogue; far larger sizes only stall the generator.
MAX_DEMO_SONGS = 100_000


def generate_demo(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A synthetic catalogue of ``n`` songs in the canonical schema; same seed, same frame."""
    if not 1 <= n <= MAX_DEMO_SONGS:
        raise RecsysError(f"demo catalogue size must be between 1 and {MAX_DEMO_SONGS:,}, got {n}")
    rng = np.random.default_rng(seed)
    artists = _artists(rng, max(1, n // 6))
    # Artists release several songs each, unevenly, mostly in their main genre.
    artist_of = rng.choice(len(artists), size=n, p=rng.dirichlet(np.full(len(artists), 2.0)))
    genre_p = _GENRE_WEIGHTS / _GENRE_WEIGHTS.sum()
    artist_genre = rng.choice(len(GENRES), size=len(artists), p=genre_p)
    u = rng.random((n, 6))
    genre_a = np.where(u[:, 0] < 0.15, rng.choice(len(GENRES), size=n, p=genre_p), artist_genre[artist_of])
    other = rng.choice(len(GENRES), size=n, p=genre_p)
    other = np.where(other == genre_a, (genre_a + 1) % len(GENRES), other)
    genre_b = np.where(u[:, 1] < _MULTI_GENRE, other, genre_a)
    mood = rng.choice(len(MOOD_NAMES), size=n, p=list(_MOOD_WEIGHTS.values()))
    has_audio, has_mood, has_genre = u[:, 3] >= _AUDIO_MISSING, u[:, 4] >= _MOOD_MISSING, u[:, 5] >= _GENRE_MISSING

    titles = _titles(rng, artist_of, u[:, 2] < _SHARED_TITLES)
    n_words = np.clip(rng.lognormal(np.log(170), 0.35, n), 90, 300).astype(int)
    # Enough fresh words for the lines kept, the chorus and one block drawn but not kept.
    fresh = n_words + 100
    words = _draw_words(rng, fresh, genre_a, genre_b, mood)
    starts = np.cumsum(fresh) - fresh
    lyrics = [_lyrics(rng, words[s:s + f], int(k)) for s, f, k in zip(starts, fresh, n_words)]

    genres = [sorted({GENRES[a], GENRES[b]}) if keep else [] for a, b, keep in zip(genre_a, genre_b, has_genre)]
    mood_tag = [_pick(rng, _MOOD_RAW[MOOD_NAMES[m]]) if keep else None for m, keep in zip(mood, has_mood)]
    centre = (np.array([_AUDIO[g][10] for g in GENRES])[genre_a] + np.array([_AUDIO[g][10] for g in GENRES])[genre_b]) / 2
    df = pd.DataFrame({
        "song_id": [song_id(artists[a], t) for a, t in zip(artist_of, titles)],
        "title": titles,
        "artist": [artists[a] for a in artist_of],
        "year": np.clip(np.round(centre + rng.normal(0, 12, n)), 1960, 2023).astype(int),
        "lyrics": lyrics,
        "lyrics_kind": "full",
        "audio_source": np.where(has_audio, "demo", None),
        "mood": [MOOD_NAMES[m] if keep else None for m, keep in zip(mood, has_mood)],
        "moods_raw": [[t] if t else [] for t in mood_tag],
        "genres": genres,
        "tags_raw": [g + ([t] if t else []) for g, t in zip(genres, mood_tag)],
        "source": [["demo"] for _ in range(n)],
        "provenance": [
            json.dumps({"title": "demo", "artist": "demo", "year": "demo", "lyrics": "demo",
                        **({"audio": "demo"} if a else {}), **({"mood": "demo"} if m else {}),
                        **({"genres": ["demo"]} if g else {})}, sort_keys=True)
            for a, m, g in zip(has_audio, has_mood, has_genre)
        ],
    })
    for col, values in _audio(rng, genre_a, genre_b, mood).items():
        df[col] = pd.Series(values).where(has_audio)
    df = conform(df)
    df["split"] = assign_splits(df).astype("string")
    return df
