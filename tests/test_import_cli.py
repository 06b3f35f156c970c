"""`recsys catalog import`: the real import end to end, and every bad input as one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from recsys.catalog import load_catalog

runner = CliRunner()


def _import(*args: str):
    return runner.invoke(app, ["catalog", "import", *args])


def _fails(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture()
def lyrics_csv(tmp_path: Path) -> Path:
    path = tmp_path / "songs.csv"
    pd.DataFrame({"Song": ["Café Blue", "Red Door"], "Band": ["Zoë", "Kay"], "Words": ["la la café au lait", "na na red door"],
                  "Feeling": ["Cheerful", "melancholy"], "Style": ["dance pop", "album rock"]}).to_csv(path, index=False)
    return path


def test_real_raw_folder_meets_the_coverage_targets(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "real.parquet"
    result = _import(str(shared_data / "raw"), "--out", str(out))
    assert result.exit_code == 0, result.output
    df = load_catalog(out)
    assert df["lyrics"].notna().sum() >= 15_000
    assert df["mood"].notna().sum() >= 4_000
    assert df["genres"].str.len().gt(0).sum() >= 8_000
    assert f"{len(df)} songs" in result.output
    assert "cut off" in result.output  # the truncated millsongdata file loses its last row, loudly


def test_generic_file_with_map_options_and_cp1252(tmp_path: Path, lyrics_csv: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes(lyrics_csv.read_text(encoding="utf-8").encode("cp1252"))
    out = tmp_path / "out.parquet"
    result = _import(str(latin), "--out", str(out), "--map", "title=Song", "--map", "artist=Band",
                     "--map", "lyrics=Words", "--map", "mood=Feeling", "--map", "genres=Style")
    assert result.exit_code == 0, result.output
    df = load_catalog(out).set_index("title")
    assert df.loc["Café Blue", "artist"] == "Zoë"
    assert "mixes encodings" not in result.output  # cp1252 throughout: nothing to check
    assert df.loc["Café Blue", "mood"] == "happy" and df.loc["Red Door", "mood"] == "sad"
    assert list(df.loc["Café Blue", "genres"]) == ["electronic", "pop"]


def test_a_file_mixing_utf8_and_cp1252_lines_keeps_each_line_right_and_says_so(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes("Song,Band,Words\nDéjà Vu,Beyoncé,la la la la\n".encode() + "Café,Zoë,na na na na\n".encode("cp1252"))
    out = tmp_path / "out.parquet"
    result = _import(str(mixed), "--out", str(out), "--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Words")
    assert result.exit_code == 0, result.output
    # Decoded whole as cp1252, the UTF-8 line became "DÃ©jÃ  Vu" by "BeyoncÃ©", silently.
    assert sorted(load_catalog(out)["artist"]) == ["Beyoncé", "Zoë"]
    assert "mixes encodings: 1 lines are not UTF-8 (the first is line 3) and were read as Windows-1252" in result.output


def test_cell_errors_name_the_spreadsheet_row_and_the_line_it_starts_on(tmp_path: Path) -> None:
    text = ('Song,Band,Lyrics,Key\nA,X,"one\ntwo\nthree",5\nSong,Band,Lyrics,Key\nB,Y,w w w,6\nC,Z,w w w,H\n')
    (tmp_path / "keys.csv").write_text(text)
    mapping = ["--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Lyrics", "--map", "key=Key"]
    # Record 5 of the file (the repeated header is row 3), starting on line 7 after the three-line lyric.
    _fails(_import(str(tmp_path / "keys.csv"), "--out", str(tmp_path / "o.parquet"), *mapping), "row 5 (line 7) column 'Key': 'H' is not a key")
    (tmp_path / "plain.csv").write_text("Song,Band,Lyrics,Key\nA,X,w w w,5\nB,Y,w w w,H\n")
    _fails(_import(str(tmp_path / "plain.csv"), "--out", str(tmp_path / "o.parquet"), *mapping), "plain.csv: row 3 column 'Key': 'H' is not a key")


def test_odd_files_in_a_folder_old_mac_line_ends_and_a_cut_off_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # A Parquet file of other data (a struct column) in the folder is skipped, as any unknown format is.
    pd.DataFrame({"x": [{"a": 1}]}).to_parquet(folder / "unrelated.parquet")
    # Excel's "CSV (Macintosh)" ends lines with CR alone.
    (folder / "mm.csv").write_bytes(b"file,artist,title,lyrics,genre,mood\rf,Ann,Rain,grey skies again today,Rock,sad\r")
    out = tmp_path / "o.parquet"
    result = _import(str(folder), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "unrelated.parquet: skipped, its columns match no known format" in result.output
    assert load_catalog(out)["title"].tolist() == ["Rain"]
    # A dataset's file known to hold nothing new says so, in place of "no known format".
    (folder / "panda_dataset_taffc_annotations.csv").write_text("Song,Quadrant\nMT0000004637,Q3\n")
    result = _import(str(folder), "--out", str(out))
    assert "annotations.csv: skipped, PANDA's annotations: quadrants by song id alone" in " ".join(result.output.split())
    # A file cut off inside its last record still numbers the rows before it by their lines.
    cut = tmp_path / "cut.csv"
    cut.write_text('Song,Band,Lyrics,Key\nA,X,"one\ntwo",5\nB,Y,w w w,H\nC,Z,"never closed')
    _fails(_import(str(cut), "--out", str(out), "--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Lyrics", "--map", "key=Key"),
           "row 3 (line 4) column 'Key': 'H' is not a key")


def test_a_parquet_file_naming_a_column_twice_is_one_clear_error(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"]), pa.array(["c"])], names=["Song", "Band", "Song"]), tmp_path / "twice.parquet")
    _fails(_import(str(tmp_path / "twice.parquet"), "--out", str(tmp_path / "o.parquet"), "--map", "title=Song", "--map", "artist=Band"),
           "twice.parquet: the file names column 'Song' twice; rename one")


def test_toml_mapping_file(tmp_path: Path, lyrics_csv: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('lyrics_kind = "full"\n[columns]\ntitle = "Song"\nartist = "Band"\nlyrics = "Words"\n')
    out = tmp_path / "out.parquet"
    assert _import(str(lyrics_csv), "--out", str(out), "--mapping", str(mapping)).exit_code == 0
    assert len(load_catalog(out)) == 2


def test_missing_and_empty_files(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    _fails(_import(str(tmp_path / "nope.csv"), "--out", str(out)), "nope.csv", "no such file")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _fails(_import(str(empty), "--out", str(out)), "empty.csv", "empty")
    header_only = tmp_path / "header.csv"
    header_only.write_text("artist,song,link,text\n")
    _fails(_import(str(header_only), "--out", str(out)), "header.csv", "no rows")
    pd.DataFrame({"artist": pd.Series([], dtype=str), "song": pd.Series([], dtype=str), "link": pd.Series([], dtype=str),
                  "text": pd.Series([], dtype=str)}).to_parquet(tmp_path / "empty.parquet")
    _fails(_import(str(tmp_path / "empty.parquet"), "--out", str(out)), "empty.parquet", "no rows")
    assert not out.exists()


def test_parquet_with_categorical_columns_imports_like_plain_values(tmp_path: Path, lyrics_csv: Path) -> None:
    frame = pd.read_csv(lyrics_csv)
    mapping = ("--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Words", "--map", "mood=Feeling", "--map", "genres=Style")
    outputs = []
    for name, table in (("plain", frame), ("categorical", frame.astype({"Style": "category", "Feeling": "category"}))):
        table.to_parquet(tmp_path / f"{name}.parquet")
        outputs.append(tmp_path / f"{name}-out.parquet")
        assert _import(str(tmp_path / f"{name}.parquet"), "--out", str(outputs[-1]), *mapping).exit_code == 0
    plain, categorical = (load_catalog(path) for path in outputs)
    assert plain.equals(categorical) and list(plain.set_index("title").loc["Café Blue", "genres"]) == ["electronic", "pop"]


def test_output_never_overwrites_an_input_or_a_folder(tmp_path: Path, lyrics_csv: Path) -> None:
    before = lyrics_csv.read_bytes()
    maps = ["--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Words"]
    _fails(_import(str(lyrics_csv), "--out", str(lyrics_csv), *maps), "songs.csv", "the input is --out")
    assert lyrics_csv.read_bytes() == before
    _fails(_import(str(lyrics_csv), "--out", str(tmp_path), *maps), "the input is --out")
    (tmp_path / "folder").mkdir()
    _fails(_import(str(lyrics_csv), "--out", str(tmp_path / "folder"), *maps), "is a directory; give a file path")
    assert lyrics_csv.read_bytes() == before
    other = tmp_path / "config.json"
    other.write_text("{}")
    _fails(_import(str(lyrics_csv), "--out", str(other), *maps), "config.json", "exists and is not a recsys catalogue")
    _fails(CliRunner().invoke(app, ["catalog", "demo", "--n", "20", "--out", str(other)]), "exists and is not a recsys catalogue")
    assert other.read_text() == "{}"
    _fails(CliRunner().invoke(app, ["catalog", "demo", "--n", "20", "--out", str(tmp_path / "demo.csv")]), "ending in .parquet")
    _fails(_import(str(lyrics_csv), "--out", str(tmp_path / "songs"), *maps), "ending in .parquet")
    assert not (tmp_path / "demo.csv").exists() and not (tmp_path / "songs").exists()
    catalogue = tmp_path / "songs.parquet"
    for _ in range(2):  # an earlier catalogue is replaced
        assert _import(str(lyrics_csv), "--out", str(catalogue), *maps).exit_code == 0
    # The catalogue written inside the folder being imported is not read back as a source.
    (tmp_path / "folder" / "songs.csv").write_bytes(lyrics_csv.read_bytes())
    for _ in range(2):
        again = _import(str(tmp_path / "folder"), "--out", str(tmp_path / "folder" / "c.parquet"), "--format", "generic", *maps)
        assert again.exit_code == 0, again.output
    assert "c.parquet: skipped, it is a recsys catalogue" in again.output and len(load_catalog(tmp_path / "folder" / "c.parquet")) == 2


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no file can be created")
def test_an_output_nothing_can_be_written_to_is_refused_before_the_work(tmp_path: Path, lyrics_csv: Path) -> None:
    # Checked with a real file, since permission bits say nothing for root; the message names the
    # path the user gave, not a temporary's.
    _fails(runner.invoke(app, ["catalog", "demo", "--out", "/proc/recsys-out/demo.parquet", "--n", "50"]), "/proc/recsys-out/demo.parquet: cannot write in /proc")
    _fails(_import(str(lyrics_csv), "--out", "/proc/out.parquet"), "/proc/out.parquet: cannot write in /proc")


def test_a_quote_left_open_in_the_first_row_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text('title,artist,lyrics\n"unterminated,x,y\n')
    _fails(_import(str(broken), "--out", str(tmp_path / "out.parquet")), "broken.csv", "not a readable CSV", "EOF inside string")


def test_trailing_commas_keep_columns_in_place_and_an_extra_value_is_refused(tmp_path: Path) -> None:
    exported = tmp_path / "exported.csv"
    exported.write_text("Song,Band,Words,Year\nHello,Adele,hello from the other side,2015,\nRed Door,Kay,na na red door,2001,\n")
    out = tmp_path / "out.parquet"
    mapping = ("--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Words", "--map", "year=Year")
    result = _import(str(exported), "--out", str(out), *mapping)
    assert result.exit_code == 0, result.output
    df = load_catalog(out).set_index("title")  # the first field used to become the index, shifting every column
    assert df.loc["Hello", "artist"] == "Adele" and df.loc["Hello", "year"] == 2015
    exported.write_text("Song,Band,Words,Year\nHello,Adele,hello from the other side,2015,Adele again\n")
    _fails(_import(str(exported), "--out", str(out), *mapping), "exported.csv", "more fields than the header")


def test_a_repeated_header_row_is_no_song_and_a_repeated_column_is_refused(tmp_path: Path) -> None:
    joined = tmp_path / "joined.csv"
    joined.write_text("Song,Band,Words,,\nHello,Adele,hello from the other side,,\nSong,Band,Words,,\nRed Door,Kay,na na red door,,\n")
    out = tmp_path / "out.parquet"
    mapping = ("--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Words")
    result = _import(str(joined), "--out", str(out), *mapping, "--keep-unmatched")
    assert result.exit_code == 0, result.output
    assert "1 rows repeat the header" in result.output and sorted(load_catalog(out)["title"]) == ["Hello", "Red Door"]
    joined.write_text("Song,Band,Words,Band\nHello,Adele,hello from the other side,Someone\n")
    _fails(_import(str(joined), "--out", str(out), *mapping), "joined.csv", "names column 'Band' twice")


def test_utf16_and_binary_files_are_refused(tmp_path: Path, lyrics_csv: Path) -> None:
    out = tmp_path / "out.parquet"
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(lyrics_csv.read_text(encoding="utf-8").encode("utf-16"))
    _fails(_import(str(utf16), "--out", str(out), "--map", "title=Song", "--map", "artist=Band"), "utf16.csv", "UTF-16")
    binary = tmp_path / "blob.csv"
    binary.write_bytes(bytes(range(1, 32)) * 200)
    _fails(_import(str(binary), "--out", str(out)), "blob.csv", "binary")
    assert not out.exists()


def test_unknown_format_and_missing_column(tmp_path: Path, lyrics_csv: Path) -> None:
    out = tmp_path / "out.parquet"
    _fails(_import(str(lyrics_csv), "--out", str(out)), "songs.csv", "unknown format", "--format")
    _fails(_import(str(lyrics_csv), "--out", str(out), "--format", "bogus"), "unknown format 'bogus'")
    _fails(_import(str(lyrics_csv), "--out", str(out), "--format", "musicmood"), "songs.csv", "missing required column")


def test_non_numeric_audio_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "s2000.csv"
    pd.DataFrame({"Title": ["A", "B"], "Artist": ["X", "Y"], "Top Genre": ["pop", "rock"],
                  "Beats Per Minute (BPM)": [120, 90], "Energy": ["50", "loud"]}).to_csv(path, index=False)
    _fails(_import(str(path), "--out", str(tmp_path / "o.parquet"), "--keep-unmatched"), "s2000.csv", "row 3",
           "'Energy'", "'loud'")


@pytest.mark.parametrize(("energy", "tempo", "message"), [
    ("0.5", "inf", "row 3 column 'T': 'inf' is not a finite number"),
    ("5", "120", "row 2 column 'E': 5 is outside energy's range 0..1"),
    ("0.5", "-120", "row 3 column 'T': -120 is outside tempo's range 0..400"),
])
def test_impossible_audio_values_name_row_and_column(tmp_path: Path, energy: str, tempo: str, message: str) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(f"Song,Band,Text,E,T\nA song,Art1,la la love you,{energy},100\nB song,Art2,cry me a river,0.2,{tempo}\n")
    maps = ["--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Text", "--map", "energy=E", "--map", "tempo=T"]
    _fails(_import(str(path), "--out", str(tmp_path / "o.parquet"), *maps), "odd.csv", message)


def test_duplicates_merge_in_known_formats_but_fail_in_generic_files(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    rows = [{"artist": "Abba", "song": "Waterloo", "link": "/a", "text": "my my"},
            {"artist": "ABBA", "song": "Waterloo (Live)", "link": "/b", "text": "my my at waterloo"}]
    known = tmp_path / "mill.csv"
    pd.DataFrame(rows).to_csv(known, index=False)
    result = _import(str(known), "--out", str(out))
    assert result.exit_code == 0 and "1 duplicate row of the same song merged" in result.output
    assert len(load_catalog(out)) == 1
    _fails(_import(str(known), "--out", str(tmp_path / "g.parquet"), "--map", "title=song", "--map", "artist=artist"),
           "row 2 and row 3 are the same song", "same song")


def test_bad_mappings_and_tag_tables(tmp_path: Path, lyrics_csv: Path) -> None:
    out = tmp_path / "out.parquet"
    mapping = tmp_path / "map.toml"
    mapping.write_text('[columns]\ntitle = "Song"\nartist = "Singer"\n')
    _fails(_import(str(lyrics_csv), "--out", str(out), "--mapping", str(mapping)), "songs.csv", "'Singer'")
    mapping.write_text('[columns]\ntitle = "Song"\nartist = "Band"\nflavour = "Words"\n')
    _fails(_import(str(lyrics_csv), "--out", str(out), "--mapping", str(mapping)), "map.toml", "'flavour'")
    _fails(_import(str(lyrics_csv), "--out", str(out), "--map", "titleSong"), "field=column")
    _fails(_import(str(lyrics_csv), "--out", str(out), "--map", "title=Song", "--map", "artist=Band", "--map", "title=Band"),
           "--map names the field 'title' twice")
    _fails(_import(str(lyrics_csv), "--out", str(out), "--mapping", str(tmp_path)), "cannot read the mapping (Is a directory)")
    _fails(_import(str(lyrics_csv), "--out", str(out), "--map", "title=Song", "--map", "artist=Band", "--tags", str(tmp_path)),
           "cannot read the tag table (Is a directory)")
    mapping.write_text("columns = 3\n")
    _fails(_import(str(lyrics_csv), "--out", str(out), "--mapping", str(mapping)), "map.toml", "[columns] must be a table")
    tags = tmp_path / "tags.toml"
    tags.write_text("[genre]\npop = 3\n")
    _fails(_import(str(lyrics_csv), "--out", str(out), "--map", "title=Song", "--map", "artist=Band",
                   "--tags", str(tags)), "tags.toml")
    assert not out.exists()


def test_dropped_rows_and_unread_moods_are_reported(tmp_path: Path) -> None:
    source = tmp_path / "mine.csv"
    # Two nameless rows in one file are dropped, not "the same song twice".
    pd.DataFrame({"Song": ["Café Blue", "", "  "], "Band": ["Zoë", "", "  "], "Words": ["blue coffee in the morning", "grey days again", "a red door opens"],
                  "Feeling": ["ecstatic", "sad", "happy"]}).to_csv(source, index=False)
    out = tmp_path / "out.parquet"
    result = _import(str(source), "--out", str(out), "--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Words", "--map", "mood=Feeling")
    assert result.exit_code == 0, result.output
    assert "warning: generic: 2 rows without a title or an artist were dropped" in result.output
    assert "warning: 1 song carries mood labels that map to none of happy, sad, angry, relaxed (e.g. 'ecstatic')" in result.output
    assert "--tags replaces the synonym table: copy recsys/data/tags.toml and add to it" in result.output
    assert len(load_catalog(out)) == 1
    # One song cannot fill three splits: said at import, not when tune or evaluate finds no songs.
    assert "warning: no val or test-split song among the 1: tuning needs val songs and evaluation test songs" in result.output


def test_an_output_inside_another_recsys_output_is_refused(tmp_path: Path, lyrics_csv: Path) -> None:
    from test_recommend import write_tiny_artifacts

    artifacts = write_tiny_artifacts(tmp_path / "artifacts")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text('{"format_version": 1}')
    # Inside an artefact directory a new file breaks `recsys index verify`; inside a model, the
    # next training run into that folder deletes it.
    _fails(runner.invoke(app, ["catalog", "demo", "--out", str(artifacts / "demo.parquet"), "--n", "20"]), "lies inside", "a recsys artefact directory")
    _fails(_import(str(lyrics_csv), "--out", str(tmp_path / "model" / "songs.parquet")), "lies inside", "a recsys model")
    _fails(runner.invoke(app, ["evaluate", "--artifacts", str(artifacts), "--out", str(tmp_path / "model" / "eval")]), "a recsys model")
    assert not (artifacts / "demo.parquet").exists() and not (tmp_path / "model" / "eval").exists()


def test_a_year_cell_that_reads_as_no_year_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "years.csv"
    path.write_text("Song,Band,Text,Y\nA song,Art1,la la love you,1999\nB song,Art2,cry me a river,nineteen ninety\nC song,Art3,sun,04\n"
                    "D song,Art4,rain,5/1/2004\n")
    maps = ["--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Text", "--map", "year=Y"]
    _fails(_import(str(path), "--out", str(tmp_path / "o.parquet"), *maps), "years.csv", "row 3 column 'Y': 'nineteen ninety' is not a year",
           "2 such cells in all")
    path.write_text("Song,Band,Text,Y\nA song,Art1,la la love you,1999\nD song,Art4,rain,5/1/2004\nE song,Art5,sun,\n")
    assert _import(str(path), "--out", str(tmp_path / "o.parquet"), *maps).exit_code == 0  # dates and empty cells read as before


def test_a_missing_mapped_column_shows_the_columns_the_file_has(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("Song;Band;Text\nA;B;la la love you\n")  # split on ";": one column to a CSV reader
    _fails(_import(str(path), "--out", str(tmp_path / "o.parquet"), "--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Text"),
           "mapping names column 'Song' for 'title', but the file has no such column (its columns: 'Song;Band;Text')")


def test_a_file_given_twice_is_read_once_and_a_dangling_link_is_said(tmp_path: Path, lyrics_csv: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    copy = folder / "songs.csv"
    copy.write_bytes(lyrics_csv.read_bytes())
    (folder / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    maps = ["--map", "title=Song", "--map", "artist=Band", "--map", "lyrics=Words"]
    once = _import(str(copy), "--out", str(tmp_path / "once.parquet"), *maps)
    twice = _import(str(copy), str(folder), "--out", str(tmp_path / "twice.parquet"), *maps)
    assert once.exit_code == 0 and twice.exit_code == 0, twice.output
    assert f"{copy}: given more than once; read once" in twice.output and "duplicate row" not in twice.output
    assert "gone.csv: a link to nothing (1 such file in" in twice.output
    assert load_catalog(tmp_path / "twice.parquet")["song_id"].tolist() == load_catalog(tmp_path / "once.parquet")["song_id"].tolist()
    _fails(_import(str(folder / "gone.csv"), "--out", str(tmp_path / "x.parquet"), *maps), "gone.csv: a link to nothing")
