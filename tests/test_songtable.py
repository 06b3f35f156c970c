"""The query path's song table: head probabilities come out of the Arrow buffers as a matrix,
a row of NaN where a song has no list of the head's width, and without importing pandas."""

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from recsys.errors import RecsysError
from recsys.songtable import SongTable


def test_a_list_column_becomes_a_matrix_with_nan_rows_for_gaps() -> None:
    table = SongTable.from_columns({"p": [[0.1, 0.9], None, [1.0], [0.25, 0.75]]})
    np.testing.assert_array_equal(table.matrix("p", 2), [[0.1, 0.9], [np.nan, np.nan], [np.nan, np.nan], [0.25, 0.75]])
    # A slice of a larger table starts inside its buffers; float32 and whole numbers read alike.
    sliced = SongTable(pa.table({"p": pa.array([[9.0, 9.0], [0.5, 0.5], [0.0, 1.0]], type=pa.list_(pa.float32()))}).slice(1))
    np.testing.assert_array_equal(sliced.matrix("p", 2), [[0.5, 0.5], [0.0, 1.0]])
    np.testing.assert_array_equal(SongTable.from_columns({"p": [[1, 2], [3, 4]]}).matrix("p", 2), [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(RecsysError, match="no column 'q'"):
        table.matrix("q", 2)


def test_reading_the_matrix_imports_no_pandas(tmp_path) -> None:
    path = tmp_path / "songs.parquet"
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"p": [[0.2, 0.8]] * 5}), path)
    code = f"import sys; from recsys.songtable import SongTable; m = SongTable.read({str(path)!r}).matrix('p', 2); print(m.sum(), 'pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["5.0", "False"], done.stderr
