"""mimoCoRB 1.0.2's example setup (verbatim) validates cleanly and resolves to what the controller needs."""

from __future__ import annotations

import importlib
import re

import numpy as np
from cfg_project import EXAMPLE_SETUP, Project, function_source

DISPLAY_ADDENDUM = """\
  - Fkt_5:
      file_name: "modules/plot_waveform"
      fkt_name: "plot_waveform"
      num_process: 1
      RB_assign:
           RB_2: "observe"  # double pulse waveform
  - Fkt_6:
      file_name: "modules/plot_histograms"
      fkt_name: "plot_histograms"
      num_process: 1
      RB_assign:
         RB_3: "read"  # pulse parameters
"""


def rb3_fields_in_setup_text() -> list[tuple[str, str]]:
    """The RB_3 fields as written in the setup file, read with a regex (independent of the loader)."""
    text = EXAMPLE_SETUP.read_text(encoding="utf-8").split("- RB_3:")[1].split("Functions:")[0]
    return re.findall(r"\[\s*'([^']+)',\s*\"([^\"]+)\"\s*\]", text)


def test_example_setup_validates_without_errors_or_warnings(example: Project) -> None:
    setup = example.validate()
    assert setup.warnings == ()
    assert [b.name for b in setup.buffers] == ["RB_1", "RB_2", "RB_3"]
    sizes = [(b.number_of_slots, b.values_per_slot) for b in setup.buffers]
    assert sizes == [(128, 4250), (128, 4250), (32, 1)]


def test_example_rb3_dtype_is_list_of_tuples_in_yaml_order(example: Project) -> None:
    dtype = example.validate().buffers[2].dtype
    expected = rb3_fields_in_setup_text()
    assert len(expected) == 25
    assert isinstance(dtype, list) and all(isinstance(field, tuple) for field in dtype)
    assert [(name, np.dtype(kind)) for name, kind in expected] == dtype
    assert dtype[0][0] == "decay_time" and dtype[-1][0] == "2nd_chD_int"
    assert np.zeros(1, dtype=dtype).dtype.names[19] == "1st_chD_h"


def test_example_functions_are_resolved_with_their_calling_details(example: Project) -> None:
    functions = example.validate().functions
    assert [(f.key, f.index, f.fkt_name, f.num_process) for f in functions] == [
        ("Fkt_1", 1, "simulation_source", 1),
        ("Fkt_2", 2, "calculate_decay_time", 2),
        ("Fkt_3", 3, "save_to_txt", 1),
        ("Fkt_4", 4, "save_parquet", 1),
    ]
    decay = functions[1]
    assert list(decay.rb_assign.items()) == [("RB_1", "read"), ("RB_2", "write"), ("RB_3", "write")]
    assert (decay.reads, decay.writes, decay.observes) == (("RB_1",), ("RB_2", "RB_3"), ())
    assert decay.module.path == example.root / "modules" / "lifetime_filter.py"
    assert decay.module.base == "cwd" and decay.module_name == "lifetime_filter"
    assert decay.function.__name__ == "calculate_decay_time" and decay.on_error == "end"


def test_example_configs_come_from_common_file_and_own_file(example: Project) -> None:
    setup = example.validate()
    source, decay, txt, parquet = setup.functions
    common = example.root / "config" / "simulation_config.yaml"
    own = example.root / "config" / "save_lifetime.yaml"
    assert (source.config_origin, source.config_path) == ("common", common)
    assert source.config_dict == {"number_of_samples": 4250, "analogue_offset": -0.45, "sleeptime": 0.03}
    assert decay.config_dict == {"number_of_samples": 4250, "trigger_level": 50}
    assert (txt.config_origin, txt.config_path) == ("config_file", own)
    assert txt.config_dict == {"filename": "lifetimes", "header_alias": {"decay_time": "tau"}}
    assert parquet.config_dict == {"filename": "spectrum"}
    assert setup.config_files == (common, own)
    assert setup.common_config_file is not None and setup.common_config_file.path == common


def test_example_top_level_defaults_and_limits(example: Project) -> None:
    setup = example.validate()
    assert (setup.gui_control, setup.kbd_control, setup.runtime, setup.runevents) == (True, True, 0, 0)
    assert setup.output_directory.path == example.root / "target"
    assert setup.setup_file == example.setup
    assert setup.setup_dict["Functions"][2]["Fkt_2"]["num_process"] == 2
    assert type(setup.setup_dict) is dict


def test_example_with_display_addendum_validates(example: Project) -> None:
    example.write("simulsource_setup.yaml", example.setup.read_text(encoding="utf-8") + DISPLAY_ADDENDUM)
    example.write("modules/plot_waveform.py", function_source("plot_waveform"))
    example.write("modules/plot_histograms.py", function_source("plot_histograms"))
    example.write(
        "config/simulation_config.yaml",
        (example.root / "config" / "simulation_config.yaml").read_text(encoding="utf-8")
        + "plot_waveform: {title: Muon waveform}\nplot_histograms: {title: Histograms}\n",
    )
    setup = example.validate()
    assert setup.warnings == ()
    assert setup.functions[4].observes == ("RB_2",) and setup.functions[5].reads == ("RB_3",)


def test_example_modules_and_their_siblings_stay_importable_by_name(example: Project) -> None:
    decay = example.validate().functions[1]
    module = importlib.import_module("lifetime_filter")
    assert module.calculate_decay_time is decay.function
    assert importlib.import_module("filters").find_double_pulse(3) == 3


def test_summary_lists_buffers_functions_and_limits(example: Project) -> None:
    summary = example.validate().summary()
    assert "RB_3: 32 slots x 1 values [decay_time:int32, 1st_chA_h:float64" in summary
    assert "Fkt_2: calculate_decay_time from modules/lifetime_filter.py x2" in summary
    assert "run limits: runtime unlimited, runevents unlimited" in summary
