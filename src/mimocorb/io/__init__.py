"""Recording and replay: events of a buffer into files that analysis tools read, and back into a run.

* ``rb_toTxtfile`` (``text``) and ``rb_toParquetfile`` (``tarparquet``): the mimoCoRB 1.0.2 exporters,
  compatible file for file;
* ``ParquetRecorder`` / ``record_parquet`` (``dataset``): the recommended recorder, one Parquet dataset of
  crash-safe part files per buffer and run;
* ``replay`` (``replay``): a source function feeding recorded files back into a run;
* ``inspect_file`` (``contents``): what a recorded file holds (``mimocorb inspect FILE``).

Importing this package costs numpy only: pyarrow and pandas are imported by the functions that write or
read Parquet, so that ``mimocorb.buffer_control`` (which re-exports the exporters) stays light.
See docs/recording.md.
"""

from .dataset import ParquetRecorder, record_parquet
from .replay import replay
from .tarparquet import rb_toParquetfile
from .text import rb_toTxtfile

__all__ = ["ParquetRecorder", "rb_toParquetfile", "rb_toTxtfile", "record_parquet", "replay"]
