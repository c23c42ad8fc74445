"""Pydantic models of the setup file and of the common config file.

The models check types and key names only.  Everything that needs more than one place of the file
(consecutive names, buffer references, data flow) or the outside world (numpy types, modules, config
files) is checked in ``validate``; that keeps the published JSON Schema an honest description of what a
schema-aware editor can verify.

Forward compatibility: unknown keys are errors everywhere, because a key this version does not know
would otherwise be silently ignored and the run would differ from what the file says.  Top-level keys
starting with ``x-`` or ``x_`` are the exception: they are reserved for users and for extensions (for
example a place to park YAML anchors) and are ignored.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..alarms.spec import SEVERITIES, SIMPLE_ACTIONS, TARGET_ACTIONS, action_of
from ..history.settings import DEFAULTS as HISTORY
from ..history.settings import SPAN_TEXT, parse_span, span_text
from ..web.access import parse_address

BUFFER_NAME_PATTERN = r"^RB_[1-9][0-9]*$"
FUNCTION_NAME_PATTERN = r"^Fkt_[1-9][0-9]*$"
ALARM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
PATTERN_TEXT = {
    BUFFER_NAME_PATTERN: "a buffer name 'RB_<n>'",
    FUNCTION_NAME_PATTERN: "a name 'Fkt_<n>'",
    ALARM_NAME_PATTERN: "an alarm name of letters, digits and _",
}
EXTENSION_PREFIXES = ("x-", "x_")
MAIN_KEY = "Fkt_main"
RB_ROLES = ("read", "write", "observe")

# Tags of the internal unions; they appear in pydantic error locations and are stripped from key paths.
_TYPE_STRING, _FIELD_MAPPING, _MAIN_ITEM, _WORKER_ITEM = "<type string>", "<fields>", "<Fkt_main>", "<Fkt_i>"
_LINK_STRING, _LINK_MAPPING = "<address>", "<link>"
_ACTION_WORD, _ACTION_MAPPING = "<action>", "<action mapping>"
_ALARM_MAPPING, _ALARM_OFF = "<alarm>", "<off>"
UNION_TAGS = frozenset(
    {
        _TYPE_STRING,
        _FIELD_MAPPING,
        _MAIN_ITEM,
        _WORKER_ITEM,
        _LINK_STRING,
        _LINK_MAPPING,
        _ACTION_WORD,
        _ACTION_MAPPING,
        _ALARM_MAPPING,
        _ALARM_OFF,
    }
)

BufferName = Annotated[str, StringConstraints(pattern=BUFFER_NAME_PATTERN)]
FunctionName = Annotated[str, StringConstraints(pattern=FUNCTION_NAME_PATTERN)]
NonNegativeNumber = Annotated[float, Field(ge=0, strict=True)]
NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]
PositiveInt = Annotated[int, Field(ge=1, strict=True)]


def _one_field_spec(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Report a malformed field as one readable error instead of pydantic's per-element details."""
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError("field_spec", "expected a list [field_name, type_string]") from None


FieldSpec = Annotated[
    tuple[StrictStr, StrictStr],
    WrapValidator(_one_field_spec),
    Field(description="[field_name, numpy type string], e.g. ['chA', 'float64']"),
]


def _web_address(value: str | int) -> str:
    """``[ADDRESS:]PORT`` of the dashboard (YAML reads a bare port as a number)."""
    text = str(value)
    try:
        parse_address(text)
    except ValueError:  # the diagnostics add ", found VALUE" themselves
        raise PydanticCustomError("web_address", "[ADDRESS:]PORT with a port number 0 ... 65535") from None
    return text


WebAddress = Annotated[
    StrictStr | StrictInt,
    AfterValidator(_web_address),
    Field(description="[ADDRESS:]PORT, e.g. 8080 or 0.0.0.0:8080 (address default 127.0.0.1)"),
]


def _data_type_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return _TYPE_STRING
    return _FIELD_MAPPING if isinstance(value, dict) else None


DataType = Annotated[
    Annotated[StrictStr, Tag(_TYPE_STRING)]
    | Annotated[dict[Any, FieldSpec], Field(min_length=1), Tag(_FIELD_MAPPING)],
    Discriminator(
        _data_type_kind,
        custom_error_type="data_type",
        custom_error_message="expected a numpy type string or a mapping label: [field_name, type_string]",
    ),
]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _link_address(value: str) -> str:
    """``tcp://HOST:PORT`` or ``ipc://PATH``: what ZeroMQ binds and connects to."""
    scheme, _, rest = value.partition("://")
    port = rest.rpartition(":")[2] if scheme == "tcp" else ""
    if (scheme == "tcp" and rest.count(":") >= 1 and port.isdigit() and rest.rpartition(":")[0]) or (
        scheme == "ipc" and rest
    ):
        return value
    raise PydanticCustomError(
        "link_address", "expected 'tcp://ADDRESS:PORT' or 'ipc://PATH', found '{value}'", {"value": value}
    )


LinkAddress = Annotated[
    StrictStr,
    AfterValidator(_link_address),
    Field(description="tcp://ADDRESS:PORT or ipc://PATH"),
]
GroupName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$", strict=True)]
PositiveNumber = Annotated[float, Field(gt=0, strict=True)]


class ServeBlock(_Block):
    """Long form of ``serve``: other runs read (and observe) this buffer."""

    address: LinkAddress
    groups: list[GroupName] = Field(
        ["default"], min_length=1, description="network reader groups; each gets every event once"
    )
    secret_key: StrictStr | None = Field(None, description="this run's .key_secret file (mimocorb keys)")
    client_keys: StrictStr | None = Field(None, description="directory of the receivers' public .key files")
    insecure: StrictBool = Field(False, description="allow a plain link on a non-loopback address")
    observe_interval: PositiveNumber = Field(
        0.05, description="least s between two samples for the remote observers (all of them together)"
    )


class ConnectBlock(_Block):
    """Long form of ``connect``: this buffer is fed from a buffer served by another run."""

    address: LinkAddress
    group: GroupName = Field("default", description="the served reader group to join")
    mode: Literal["read", "observe"] = Field("read", description="read: every event; observe: samples")
    secret_key: StrictStr | None = Field(None, description="this run's .key_secret file (mimocorb keys)")
    server_key: StrictStr | None = Field(None, description="the serving run's public .key file")
    insecure: StrictBool = Field(False, description="allow a plain link on a non-loopback address")
    timeout: PositiveNumber = Field(
        10.0, description="s of silence after which the serving run counts as gone and this run ends"
    )


def _span(value: str | float) -> str | float:
    try:
        parse_span(value)
    except ValueError:
        raise PydanticCustomError(
            "span", f"expected {SPAN_TEXT}, found '{{value}}'", {"value": value}
        ) from None
    return value


Span = Annotated[StrictStr | NonNegativeNumber, AfterValidator(_span), Field(description=SPAN_TEXT)]


class HistoryBlock(_Block):
    """``history``: what the run writes into the history of its output directory (docs/operations.md)."""

    enabled: StrictBool = Field(True, description="write the run's samples into history.sqlite")
    interval: PositiveNumber = Field(HISTORY.interval, description="s between two samples")
    full_resolution: Span = Field(
        span_text(HISTORY.full_resolution), description="how long every sample is kept"
    )
    minutes: Span = Field(
        span_text(HISTORY.minutes), description="how long averages, minima and maxima per minute are kept"
    )
    hours: Span | None = Field(None, description="how long those per hour are kept; default: for ever")


def _link_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return _LINK_STRING
    return _LINK_MAPPING if isinstance(value, dict) else None


def _link_discriminator(keys: str) -> Discriminator:
    """The short form (an address) or the long form (a mapping), reported as one error if neither."""
    return Discriminator(
        _link_kind,
        custom_error_type="link",
        custom_error_message=f"expected an address 'tcp://ADDRESS:PORT' or a mapping {keys}",
    )


ServeLinkSpec = Annotated[
    Annotated[LinkAddress, Tag(_LINK_STRING)] | Annotated[ServeBlock, Tag(_LINK_MAPPING)],
    _link_discriminator("{address, groups, secret_key, client_keys, insecure, observe_interval}"),
]
ConnectLinkSpec = Annotated[
    Annotated[LinkAddress, Tag(_LINK_STRING)] | Annotated[ConnectBlock, Tag(_LINK_MAPPING)],
    _link_discriminator("{address, group, mode, secret_key, server_key, insecure, timeout}"),
]


class BufferBlock(_Block):
    """Body of one RB_<n> entry of RingBuffer."""

    number_of_slots: PositiveInt = Field(description="number of slots of the ring")
    channel_per_slot: PositiveInt = Field(description="values per slot (values_per_slot)")
    data_type: DataType = Field(
        description="numpy type string (plain buffer) or mapping of ignored labels to "
        "[field_name, type_string]; field order = order in the file"
    )
    serve: ServeLinkSpec | None = Field(
        None, description="other runs may read this buffer (docs/net.md); the string form: one group"
    )
    connect: ConnectLinkSpec | None = Field(
        None, description="fed from the buffer served there (docs/net.md); it has no local writer"
    )


class MainBlock(_Block):
    """Body of Fkt_main: run limits and the common config file."""

    runtime: NonNegativeNumber = Field(0, description="active run time in s; 0 = unlimited")
    runevents: NonNegativeInt = Field(
        0, description="events into RB_1 after which the run ends; 0 = unlimited"
    )
    config_file: StrictStr | None = Field(
        None, description="common config file (general + one section per fkt_name)"
    )


class FunctionBlock(_Block):
    """Body of one Fkt_<i> entry: a user function and the buffers it is connected to."""

    file_name: StrictStr = Field(
        min_length=1,
        description="module path without '.py', e.g. modules/source, or an importable module's dotted name, "
        "e.g. mimocorb.devices",
    )
    fkt_name: StrictStr = Field(min_length=1, description="name of a callable in that module")
    num_process: PositiveInt = Field(description="number of processes running the function")
    RB_assign: (
        Annotated[dict[BufferName, StrictStr], Field(json_schema_extra={"additionalProperties": False})]
        | None
    ) = Field(None, description="RB_<n>: read | write | observe, in call order")
    config_file: StrictStr | None = Field(None, description="YAML file whose content is the config_dict")
    on_error: Literal["end", "restart"] = Field("end", description="what the run does when a worker fails")


def _functions_item_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    return _MAIN_ITEM if MAIN_KEY in value else _WORKER_ITEM


BufferItem = Annotated[
    dict[BufferName, BufferBlock],
    Field(min_length=1, max_length=1, json_schema_extra={"additionalProperties": False}),
]
MainItem = Annotated[dict[Literal["Fkt_main"], MainBlock | None], Field(min_length=1, max_length=1)]
WorkerItem = Annotated[
    dict[FunctionName, FunctionBlock],
    Field(min_length=1, max_length=1, json_schema_extra={"additionalProperties": False}),
]
FunctionsItem = Annotated[
    Annotated[MainItem, Tag(_MAIN_ITEM)] | Annotated[WorkerItem, Tag(_WORKER_ITEM)],
    Discriminator(
        _functions_item_kind,
        custom_error_type="functions_item",
        custom_error_message="expected a one-key mapping such as 'Fkt_1: {...}'",
    ),
]
FunctionConfigsMap = dict[StrictStr, dict[Any, Any] | None]


def _action_mapping(value: dict[Any, Any]) -> dict[Any, Any]:
    """``{webhook: URL}``, ``{email: ADDRESS}`` or ``{exec: COMMAND}``, the target checked."""
    try:
        action_of(value)
    except ValueError as exc:
        raise PydanticCustomError("alarm_action", str(exc)) from None
    return value


def _action_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return _ACTION_WORD
    return _ACTION_MAPPING if isinstance(value, dict) else None


_ACTIONS_TEXT = (
    f"{', '.join(SIMPLE_ACTIONS)} or a mapping {{webhook: URL}}, {{email: ADDRESS}}, {{exec: COMMAND}}"
)
ActionItem = Annotated[
    Annotated[Literal[SIMPLE_ACTIONS], Tag(_ACTION_WORD)]  # type: ignore[valid-type]
    | Annotated[
        Annotated[
            dict[Literal[TARGET_ACTIONS], StrictStr | list[StrictStr]],  # type: ignore[valid-type]
            Field(min_length=1, max_length=1),
        ],
        AfterValidator(_action_mapping),
        Tag(_ACTION_MAPPING),
    ],
    Discriminator(_action_kind, custom_error_type="alarm_action_kind", custom_error_message=_ACTIONS_TEXT),
]


class AlarmBlock(_Block):
    """Body of one alarm of ``Alarms``: a user alarm has ``when``; a built-in one (buffer_full,
    worker_restarts, disk_low, no_events) only the keys it changes."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    when: StrictStr | None = Field(
        None, description="condition, e.g. 'RB_1.rate_hz < 0.5 and Fkt_2.restarts > 0' (user alarms)"
    )
    for_: NonNegativeNumber | None = Field(
        None, alias="for", description="s the condition must hold before the alarm is raised (default 0)"
    )
    severity: Literal[SEVERITIES] | None = Field(  # type: ignore[valid-type]
        None, description="info | warning | error (default warning)"
    )
    actions: list[ActionItem] | None = Field(
        None, description=f"what is done when it is raised or cleared: {_ACTIONS_TEXT} (default [log])"
    )
    below_gb: NonNegativeNumber | None = Field(None, description="disk_low: free GB below which it is raised")
    restarts: PositiveInt | None = Field(None, description="worker_restarts: this many restarts ...")
    within: PositiveNumber | None = Field(None, description="worker_restarts: ... within this many s")


AlarmName = Annotated[str, StringConstraints(pattern=ALARM_NAME_PATTERN)]


def _alarm_kind(value: Any) -> str | None:
    if value is False:
        return _ALARM_OFF
    return _ALARM_MAPPING if isinstance(value, dict) else None


AlarmBody = Annotated[
    Annotated[AlarmBlock, Tag(_ALARM_MAPPING)] | Annotated[Literal[False], Tag(_ALARM_OFF)],
    Discriminator(
        _alarm_kind,
        custom_error_type="alarm",
        custom_error_message="expected a mapping {when, for, severity, actions} or off (built-in alarms)",
    ),
]
AlarmItem = Annotated[
    dict[AlarmName, AlarmBody],
    Field(min_length=1, max_length=1, json_schema_extra={"additionalProperties": False}),
]


class SetupFile(_Block):
    """The setup file as a whole, in the format of mimoCoRB 1.0.2."""

    model_config = ConfigDict(
        title="mimocorb setup file",
        json_schema_extra={"patternProperties": {"^x[-_]": {"description": "ignored (user/extension data)"}}},
    )

    output_directory: StrictStr = Field("target", description="parent of the run directories")
    GUI_control: StrictBool = Field(True, description="start the buffer-info window")
    KBD_control: StrictBool = Field(True, description="read P/R/S/E commands from the terminal")
    web: WebAddress | None = Field(
        None, description="serve the run's live dashboard there (like mimocorb run --web); default: none"
    )
    history: HistoryBlock | None = Field(
        None, description="the run's history: sample interval and how long samples are kept"
    )
    RingBuffer: list[BufferItem] = Field(min_length=1, description="RB_1, RB_2, ... in this order")
    Functions: list[FunctionsItem] = Field(
        min_length=1, description="Fkt_main first, then Fkt_1, Fkt_2, ... in this order"
    )
    FunctionConfigs: FunctionConfigsMap | None = Field(
        None, description="fkt_name: config_dict (lowest precedence)"
    )
    Alarms: list[AlarmItem] | None = Field(
        None,
        description="alarms on the sampled variables (docs/alarms.md); a built-in alarm's name changes "
        "its settings, 'NAME: off' turns it off",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_extension_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith(EXTENSION_PREFIXES))
        }


class GeneralSection(BaseModel):
    """``general`` of the common config file: run limits; other keys are free (anchors)."""

    model_config = ConfigDict(extra="allow")

    runtime: NonNegativeNumber | None = None
    runevents: NonNegativeInt | None = None


class CommonConfigFile(BaseModel):
    """The common config file: ``general`` plus free-form sections, one per ``fkt_name``.

    Free-form parts may use any YAML keys (also numbers), which pydantic models cannot hold, so the
    validator is given only ``general``'s run limits.
    """

    model_config = ConfigDict(extra="allow")

    general: GeneralSection | None = None


def setup_keys_at(parent: tuple[Any, ...]) -> list[str] | None:
    """Valid keys of the setup-file mapping at location ``parent`` (union tags removed), if it is a model."""
    match parent:
        case ():
            model: type[BaseModel] = SetupFile
        case ("RingBuffer", int(), str()):
            model = BufferBlock
        case ("history",):
            model = HistoryBlock
        case ("RingBuffer", int(), str(), "serve"):
            model = ServeBlock
        case ("RingBuffer", int(), str(), "connect"):
            model = ConnectBlock
        case ("Functions", int(), "Fkt_main"):
            model = MainBlock
        case ("Functions", int(), str()):
            model = FunctionBlock
        case ("Alarms", int(), str()):
            model = AlarmBlock
        case _:
            return None
    return [field.alias or name for name, field in model.model_fields.items()]


def setup_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the setup file, generated from ``SetupFile``."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **SetupFile.model_json_schema()}


def setup_json_schema_text() -> str:
    """Exact content of ``docs/setup.schema.json``; regenerate with ``python -m mimocorb.config.schema``."""
    return json.dumps(setup_json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(setup_json_schema_text(), end="")
