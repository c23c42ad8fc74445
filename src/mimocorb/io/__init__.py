"""Recording and replay: events of a buffer into files that analysis tools read, and back into a run.

* ``rb_toTxtfile`` (``text``) and ``rb_toParquetfile`` (``tarparquet``): the mimoCoRB 1.0.2 exporters,
  compatible file for file;
* ``ParquetRecorder`` / ``record_parquet`` (``dataset``): the recommended recorder, one Parquet dataset of
  crash-safe part files per buffer and run;
* ``record_root`` (``rootfile``) and ``record_hdf5`` (``hdf5file``): ROOT and HDF5 files in numbered
  parts, through uproot and h5py (the extras ``root`` and ``hdf5``);
* ``replay`` (``replay``): a source function feeding recorded files back into a run;
* ``inspect_file`` (``contents``): what a recorded file holds (``mimocorb inspect FILE``); ``convert``
  (``convert``): a recording in another format (``mimocorb convert IN OUT``).

Importing this package costs numpy only: pyarrow, pandas, uproot and h5py are imported by the functions
that write or read their files, so that ``mimocorb.buffer_control`` (which re-exports the exporters)
stays light.
See docs/recording.md.
"""

from .dataset import ParquetRecorder, record_parquet
from .hdf5file import record_hdf5
from .replay import replay
from .rootfile import record_root
from .tarparquet import rb_toParquetfile
from .text import rb_toTxtfile

__all__ = [
    "ParquetRecorder",
    "rb_toParquetfile",
    "rb_toTxtfile",
    "record_hdf5",
    "record_parquet",
    "record_root",
    "replay",
]
