"""Each bad configuration gives a message with file, line, key path and what was expected."""

from __future__ import annotations

import pickle

from cfg_project import Project, function_source

from mimocorb.config import ConfigError

SETUP = "simulsource_setup.yaml"


def report_of(project: Project) -> str:
    return str(project.failure())


def test_typo_key_names_line_path_and_suggestion(example: Project) -> None:
    example.edit_setup("channel_per_slot: 4250", "chanel_per_slot: 4250")
    error = example.failure()
    line = example.setup_line("chanel_per_slot")
    expected = (
        f"{SETUP}:{line}: RingBuffer[0].RB_1.chanel_per_slot: unknown key; did you mean 'channel_per_slot'?"
    )
    assert expected in str(error)
    assert len(error.errors) == 1  # the 'missing channel_per_slot' it causes is not reported twice


def test_unknown_key_without_close_match_lists_valid_keys(example: Project) -> None:
    example.edit_setup("num_process: 2", "num_process: 2\n       colour: blue")
    line = example.setup_line("colour")
    assert (
        f"{SETUP}:{line}: Functions[2].Fkt_2.colour: unknown key; expected one of: file_name, fkt_name, "
        "num_process, RB_assign, config_file, on_error"
    ) in report_of(example)


def test_unknown_top_level_key_is_an_error_but_x_keys_are_ignored(example: Project) -> None:
    extra = "GUI_contol: false\nx-anchors: {a: &a 1}\nx_note: free text\n"
    example.edit_setup("RingBuffer:", extra + "RingBuffer:")
    assert f"{SETUP}:4: GUI_contol: unknown key; did you mean 'GUI_control'?" in report_of(example)


def test_non_consecutive_buffer_names(example: Project) -> None:
    text = example.setup.read_text(encoding="utf-8").replace("RB_3", "RB_4")
    example.write(SETUP, text)
    error = example.failure()
    line = example.setup_line("- RB_4:")
    assert f"{SETUP}:{line}: RingBuffer[2]: expected 'RB_3', found 'RB_4'" in str(error)
    assert "(found RB_1, RB_2, RB_4)" in str(error)
    assert len(error.errors) == 1


def test_non_consecutive_function_numbering(example: Project) -> None:
    example.edit_setup("- Fkt_3:", "- Fkt_5:")
    error = example.failure()
    line = example.setup_line("- Fkt_5:")
    assert f"{SETUP}:{line}: Functions[3]: expected 'Fkt_3', found 'Fkt_5'" in str(error)
    assert len(error.errors) == 1


def test_fkt_main_must_come_first(example: Project) -> None:
    example.edit_setup("- Fkt_main:", "- Fkt_0:")
    line = example.setup_line("- Fkt_0:")
    report = report_of(example)
    assert f"{SETUP}:{line}: Functions[0].Fkt_0: expected a name 'Fkt_<n>' as key, found 'Fkt_0'" in report
    assert f"{SETUP}:{line}: Functions[0]: expected 'Fkt_main' as first item, found 'Fkt_0'" in report


def test_rb_assign_naming_an_undefined_buffer(example: Project) -> None:
    example.edit_setup('RB_2: "read"     # waveform to save', 'RB_2: "read"\n           RB_7: "observe"')
    line = example.setup_line("RB_7")
    assert (
        f"{SETUP}:{line}: Functions[4].Fkt_4.RB_assign.RB_7: expected one of the defined buffers "
        "(RB_1, RB_2, RB_3), found 'RB_7'"
    ) in report_of(example)


def test_unknown_numpy_type_string(example: Project) -> None:
    example.edit_setup("3: ['1st_chA_h', \"float64\"]", "3: ['1st_chA_h', \"flaot64\"]")
    line = example.setup_line("flaot64")
    assert (
        f"{SETUP}:{line}: RingBuffer[2].RB_3.data_type.3: expected a numpy type such as 'float64' or "
        "'int32', found 'flaot64'"
    ) in report_of(example)


def test_malformed_field_and_object_type(example: Project) -> None:
    example.edit_setup("1: ['chA', \"float64\"]", "1: ['chA']")
    example.edit_setup("2: ['chB', \"float64\"]", "2: ['chB', \"object\"]")
    report = report_of(example)
    line_a, line_b = example.setup_line("1: ['chA']"), example.setup_line('"object"')
    assert (
        f"{SETUP}:{line_a}: RingBuffer[0].RB_1.data_type.1: expected a list [field_name, type_string]"
        in report
    )
    assert f"{SETUP}:{line_b}: RingBuffer[0].RB_1.data_type.2: expected a numpy type of fixed size" in report


def test_written_but_unread_buffer_is_an_error(example: Project) -> None:
    example.edit_setup('RB_2: "read"     # waveform to save', 'RB_2: "observe"')
    line = example.setup_line("- RB_2:")
    report = report_of(example)
    assert (
        f"{SETUP}:{line}: RingBuffer[1].RB_2: written by Fkt_2 (calculate_decay_time) but read by no"
        in report
    )
    assert "observers do not free slots" in report and "would fill up and block the run" in report


def test_unwritten_buffer_is_only_a_warning(example: Project) -> None:
    example.edit_setup('RB_1: "write"', 'RB_1: "observe"')
    setup = example.validate()
    (warning,) = setup.warnings
    assert str(warning) == (
        f"{SETUP}:{example.setup_line('- RB_1:')}: warning: RingBuffer[0].RB_1: read by Fkt_2 "
        "(calculate_decay_time) but written by no function; its readers would wait for ever"
    )


def test_unusual_rb_assign_value_is_a_warning_with_suggestion(example: Project) -> None:
    example.edit_setup('RB_2: "read"     # waveform to save', 'RB_2: "read"\n           RB_1: "obsrve"')
    (warning,) = example.validate().warnings
    assert warning.key_path == "Functions[4].Fkt_4.RB_assign.RB_1" and warning.line == example.setup_line(
        "obsrve"
    )
    assert "expected one of read, write, observe, found 'obsrve'" in warning.message
    assert "did you mean 'observe'?" in warning.message


def test_missing_module_file(example: Project) -> None:
    example.edit_setup('"modules/simulation_source"', '"modules/simulation_sorce"')
    line = example.setup_line("simulation_sorce")
    assert (
        f"{SETUP}:{line}: Functions[1].Fkt_1.file_name: module file 'modules/simulation_sorce.py' not found "
        f"(looked in {example.root}; did you mean 'modules/simulation_source'?)"
    ) in report_of(example)


def test_module_path_with_py_suffix(example: Project) -> None:
    example.edit_setup('"modules/simulation_source"', '"modules/simulation_source.py"')
    assert "Functions[1].Fkt_1.file_name: expected a module path without '.py'" in report_of(example)


def test_module_raising_import_error_shows_original_exception(example: Project) -> None:
    example.write("modules/simulation_source.py", "import not_a_real_package_xyz\n" + function_source("x"))
    line = example.setup_line("modules/simulation_source")
    report = report_of(example)
    assert f"{SETUP}:{line}: Functions[1].Fkt_1.file_name: importing " in report
    assert (
        "simulation_source.py failed: ModuleNotFoundError: No module named 'not_a_real_package_xyz'" in report
    )


def test_module_failing_at_import_shows_where(example: Project) -> None:
    example.write("modules/save_files.py", "X = 1\nraise RuntimeError('no hardware found')\n")
    module = example.root / "modules" / "save_files.py"
    error = example.failure()
    assert [i.key_path for i in error.errors] == [
        "Functions[3].Fkt_3.file_name",
        "Functions[4].Fkt_4.file_name",
    ]
    assert f"RuntimeError: no hardware found (raised at {module}:2)" in error.errors[0].message


def test_module_with_syntax_error(example: Project) -> None:
    example.write("modules/filters.py", "def broken(:\n")
    assert "SyntaxError: invalid syntax (filters.py, line 1)" in report_of(example)


def test_missing_function_suggests_nearest(example: Project) -> None:
    example.edit_setup('fkt_name: "save_parquet"', 'fkt_name: "save_parquett"')
    line = example.setup_line("save_parquett")
    assert (
        f"{SETUP}:{line}: Functions[4].Fkt_4.fkt_name: module 'save_files' has no function 'save_parquett'; "
        "did you mean 'save_parquet'?"
    ) in report_of(example)


def test_function_that_is_not_callable(example: Project) -> None:
    example.write("modules/simulation_source.py", "simulation_source = 42\n")
    line = example.setup_line('fkt_name: "simulation_source"')
    assert (
        f"{SETUP}:{line}: Functions[1].Fkt_1.fkt_name: 'simulation_source' in module 'simulation_source' is "
        "int 42; expected a callable"
    ) in report_of(example)


def test_wrong_signature(example: Project) -> None:
    example.write("modules/simulation_source.py", "def simulation_source(a, b):\n    return None\n")
    line = example.setup_line('fkt_name: "simulation_source"')
    report = report_of(example)
    assert (
        f"{SETUP}:{line}: Functions[1].Fkt_1.fkt_name: 'simulation_source(a, b)' cannot accept the call "
        "simulation_source(source_list, sink_list, observe_list, config_dict, RB_1=...): too many positional"
    ) in report
    assert "expected a signature like simulation_source(source_list=None, sink_list=None" in report


def test_signature_without_rb_info_must_name_the_assigned_buffers(example: Project) -> None:
    example.write(
        "modules/simulation_source.py",
        "def simulation_source(source_list, sink_list, observe_list, config_dict, RB_2=None):\n    pass\n",
    )
    assert "got an unexpected keyword argument 'RB_1'" in report_of(example)


def test_signature_naming_the_assigned_buffers_is_accepted(example: Project) -> None:
    example.write(
        "modules/simulation_source.py",
        "def simulation_source(source_list, sink_list, observe_list, config_dict, RB_1=None):\n    pass\n",
    )
    assert example.validate().functions[0].function.__name__ == "simulation_source"


def test_missing_per_function_config_file(example: Project) -> None:
    example.edit_setup("config/save_lifetime.yaml", "config/save_lifetimes.yaml")
    line = example.setup_line("save_lifetimes.yaml")
    assert (
        f"{SETUP}:{line}: Functions[3].Fkt_3.config_file: config file 'config/save_lifetimes.yaml' not found "
        f"(looked in {example.root})"
    ) in report_of(example)


def test_missing_common_config_file(example: Project) -> None:
    example.edit_setup("config/simulation_config.yaml", "config/simulation.yaml")
    line = example.setup_line("config/simulation.yaml")
    report = report_of(example)
    assert (
        f"{SETUP}:{line}: Functions[0].Fkt_main.config_file: config file 'config/simulation.yaml'" in report
    )


def test_config_file_that_is_a_list(example: Project) -> None:
    example.write("config/save_lifetime.yaml", "- filename\n- lifetimes\n")
    line = example.setup_line("config/save_lifetime.yaml")
    assert (
        f"{SETUP}:{line}: Functions[3].Fkt_3.config_file: config/save_lifetime.yaml: expected a mapping at "
        "the top level, found a list of 2 items"
    ) in report_of(example)


def test_config_file_with_syntax_error_names_that_file(example: Project) -> None:
    example.write("config/save_lifetime.yaml", "filename: lifetimes\nheader_alias: {a: b\n")
    assert "config/save_lifetime.yaml:3: YAML syntax error" in report_of(example)


def test_bad_values_in_common_config_file(example: Project) -> None:
    common = "config/simulation_config.yaml"
    text = (example.root / common).read_text(encoding="utf-8")
    example.write(
        common,
        text.replace("general:", "general:\n  runtime: -5").replace(
            "save_parquet:\n  filename: spectrum\n", "save_parquet: 3\n"
        ),
    )
    report = report_of(example)
    assert f"{common}:2: general.runtime: expected a value >= 0, found -5" in report
    assert (
        f"{common}:12: save_parquet: expected a mapping (the config_dict of 'save_parquet'), found 3"
        in report
    )


def test_num_process_zero(example: Project) -> None:
    example.edit_setup("num_process: 2", "num_process: 0")
    line = example.setup_line("num_process: 0")
    assert f"{SETUP}:{line}: Functions[2].Fkt_2.num_process: expected a value >= 1, found 0" in report_of(
        example
    )


def test_wrong_types_and_missing_keys(example: Project) -> None:
    example.edit_setup("number_of_slots: 32", "number_of_slots: many")
    example.edit_setup('      fkt_name: "save_parquet"\n', "")
    example.edit_setup("- Fkt_main:", "- Fkt_main:\n      on_error: restart")
    report = report_of(example)
    assert (
        f"{SETUP}:{example.setup_line('many')}: RingBuffer[2].RB_3.number_of_slots: expected an integer"
        in report
    )
    assert (
        f"{SETUP}:{example.setup_line('- Fkt_4:')}: Functions[4].Fkt_4.fkt_name: required key is missing"
        in report
    )
    assert (
        "Functions[0].Fkt_main.on_error: unknown key; expected one of: runtime, runevents, config_file"
        in report
    )


def test_on_error_accepts_only_end_or_restart(example: Project) -> None:
    example.edit_setup("num_process: 2", "num_process: 2\n       on_error: retry")
    assert "Functions[2].Fkt_2.on_error: expected 'end' or 'restart', found 'retry'" in report_of(example)
    example.edit_setup("on_error: retry", "on_error: restart")
    assert example.validate().functions[1].on_error == "restart"


def test_setup_that_is_not_a_mapping(project: Project) -> None:
    project.write("setup.yaml", "- RB_1\n- RB_2\n")
    assert report_of(project).endswith(
        "setup.yaml: expected a mapping with RingBuffer and Functions, found a list of 2 items"
    )


def test_several_errors_are_reported_together(example: Project) -> None:
    example.edit_setup("channel_per_slot: 4250", "chanel_per_slot: 4250")
    example.edit_setup("num_process: 2", "num_process: 0")
    example.edit_setup('fkt_name: "save_parquet"', 'fkt_name: "save_parquett"')
    example.edit_setup("config/save_lifetime.yaml", "config/missing.yaml")
    error = example.failure()
    assert [issue.key_path for issue in error.errors] == [
        "RingBuffer[0].RB_1.chanel_per_slot",
        "Functions[2].Fkt_2.num_process",
        "Functions[3].Fkt_3.config_file",
        "Functions[4].Fkt_4.fkt_name",
    ]
    assert str(error).startswith("invalid configuration (4 errors, 1 warning):\n  simulsource_setup.yaml:9: ")
    assert isinstance(error, ValueError)


def test_config_error_survives_pickling(example: Project) -> None:
    example.edit_setup("num_process: 2", "num_process: 0")
    error = example.failure()
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, ConfigError) and copy.issues == error.issues and str(copy) == str(error)


def test_module_name_taken_by_another_module(example: Project) -> None:
    example.write("modules/json.py", function_source("simulation_source"))
    example.edit_setup('"modules/simulation_source"', '"modules/json"')
    assert "module name 'json' is already taken by " in report_of(example)


CHECKED_FILTER = (
    "import numpy as np\n\n\n"
    + function_source("calculate_decay_time")
    + """

def check(config_dict, buffers):
    seen = {role: [list(d.names or ()) for d in dtypes] for role, dtypes in buffers.items()}
    if config_dict.get("trigger_level", 0) > 40:
        raise ValueError(f"trigger_level must be at most 40, got {config_dict['trigger_level']}; saw {seen}")


calculate_decay_time.check_config = check
"""
)


def test_check_config_with_buffers_stops_the_setup(example: Project) -> None:
    """A function's check_config(config_dict, buffers) gets its buffers' dtypes in list order."""
    example.write("modules/lifetime_filter.py", CHECKED_FILTER)
    report = report_of(example)
    line = example.setup_line('fkt_name: "calculate_decay_time"')
    assert (
        f"{SETUP}:{line}: Functions[2].Fkt_2.fkt_name: config of 'calculate_decay_time' "
        "(config/simulation_config.yaml): trigger_level must be at most 40, got 50; "
        "saw {'read': [['chA', 'chB', 'chC', 'chD']], 'write': [['chA', 'chB', 'chC', 'chD'], "
        "['decay_time', "
    ) in report


def test_check_config_of_one_argument_and_a_defective_check(example: Project) -> None:
    example.write(
        "modules/save_files.py",
        function_source("save_to_txt")
        + "\n\n"
        + function_source("save_parquet")
        + "\n\nsave_to_txt.check_config = lambda config: config['no such key']\n"
        + "save_parquet.check_config = lambda config: None\n",
    )
    report = report_of(example)
    assert "check_config of 'save_to_txt' failed: KeyError: 'no such key' (raised at " in report
    assert "save_parquet" not in report
