"""What the exporters share: argument checks, the output path and the buffer's label and layout."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..loggers import Gen_logger
from ..workers.arguments import (
    OBSERVE,
    READ,
    WRITE,
    buffer_labels,
    config_mapping,
    first_of,
    require_list,
    require_role,
    warn_roles,
)


class ExporterArgs:
    """The checked arguments of an exporter: its reader setup, config, output directory and names."""

    def __init__(
        self, owner: str, source_list: Any, config_dict: Any, rb_info: Mapping[str, Any], need_config: bool
    ) -> None:
        self.owner = owner
        self.logger = Gen_logger(owner)
        require_role(owner, rb_info, READ)
        warn_roles(owner, rb_info, (WRITE, OBSERVE), self.logger)
        sources = require_list(owner, source_list, READ)
        if need_config and config_dict is None:
            raise ValueError(f"{owner}: config_dict is None; it needs at least the key 'filename'")
        self.config: Mapping[str, Any] = config_mapping(owner, config_dict)
        self.setup: dict = first_of(owner, sources, READ, self.logger)
        self.label: str = buffer_labels(rb_info, READ, sources)[0]
        self.dtype: np.dtype = np.dtype(self.setup["dtype"])
        self.values_per_slot: int = int(self.setup["values_per_slot"])
        self.directory: str = str(self.config.get("directory_prefix") or "")

    def field_names(self) -> tuple[str, ...]:
        names = self.dtype.names
        if not names:
            raise ValueError(
                f"{self.owner}: buffer {self.label} has the plain dtype {self.dtype}; the file formats name "
                "their columns after the buffer's fields, so declare data_type as a mapping of field names "
                "to types (e.g. {'ch1': 'float32'})"
            )
        return names

    def filename(self, default: str | None = None) -> str:
        """The ``filename`` config key (no extension), or ``default``; checked before any file is made."""
        name = self.config.get("filename", default)
        if name is None:
            raise ValueError(
                f"{self.owner}: config key 'filename' is missing (expected the output file name without "
                f"extension, e.g. filename: {self.label}); config keys given: {sorted(self.config) or 'none'}"
            )
        if not isinstance(name, str) or not name or os.sep in name:
            raise ValueError(
                f"{self.owner}: config key 'filename' must be a plain file name without directories, "
                f"got {name!r}"
            )
        return name

    def output_path(self, name: str) -> str:
        return os.path.join(self.directory, name) if self.directory else name

    def check_directory(self) -> None:
        """An unwritable run directory must stop the exporter before the run relies on it."""
        directory = self.directory or "."
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"{self.owner}: output directory {directory!r} does not exist")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"{self.owner}: output directory {directory!r} is not writable")
