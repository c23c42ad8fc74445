"""A setup whose ring buffers do not fit the machine's shared memory is refused before anything starts,
with the sizes; one that takes more than half of it is warned about."""

from __future__ import annotations

from cfg_project import Project

from mimocorb.config.memory import size_text
from mimocorb.ring import RingBuffer, shared_memory_free

SETUP = "simulsource_setup.yaml"
RB_1_SLOTS = "number_of_slots: 128"  # as in the example; RB_1 and RB_2 hold waveforms of 4 x 4250 float64


def _slot_bytes() -> int:
    return RingBuffer.segment_size(2, 4250, "4f8") - RingBuffer.segment_size(1, 4250, "4f8")


def test_a_typo_of_a_few_zeros_is_refused_naming_the_sizes(example: Project) -> None:
    example.edit_setup(RB_1_SLOTS, "number_of_slots: 100000000")
    error = example.failure()
    line = example.setup_line("number_of_slots: 100000000")
    text = str(error)
    assert f"{SETUP}:{line}: RingBuffer[0].RB_1.number_of_slots: the ring buffers need " in text
    assert f"RB_1 {size_text(RingBuffer.segment_size(100_000_000, 4250, '4f8'))}" in text
    assert "but the machine has" in text and "of free space in /dev/shm" in text
    assert len(error.errors) == 1


def test_buffers_taking_more_than_half_of_the_shared_memory_are_warned_about(example: Project) -> None:
    free = shared_memory_free()
    assert free is not None, "Linux keeps shared memory in /dev/shm"
    slots = int(0.7 * free / _slot_bytes())  # RB_1 alone: 70 % (nothing is created by validate)
    example.edit_setup(RB_1_SLOTS, f"number_of_slots: {slots}")
    warnings = [str(issue) for issue in example.validate().warnings]
    line = example.setup_line(f"number_of_slots: {slots}")
    assert any(
        f"{SETUP}:{line}: warning: RingBuffer[0].RB_1.number_of_slots: the ring buffers take " in w
        and "more than half of the" in w
        for w in warnings
    ), warnings


def test_the_example_fits_without_a_word(example: Project) -> None:
    assert not [issue for issue in example.validate().warnings if "shared memory" in str(issue)]
