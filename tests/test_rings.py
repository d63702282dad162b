"""The two-ring handover: a cut is heard exactly at its index, never half a block, and a
handover the consumer missed is reported so the producer can cut again later."""

from __future__ import annotations

import threading
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.playback.ring_layout import LAST_CALLBACK_NS, UNDERRUNS, lateness_percentile
from engine.playback.rings import RingProducer, audio_array, header_array
from engine.playback.sinks.ring_consumer import RingConsumer

BLOCK = 64


def pair(capacity: int = 1024) -> tuple[RingProducer, RingConsumer]:
    header, rings, lock = header_array(), audio_array(capacity), threading.Lock()
    return (
        RingProducer(header, rings, lock, BLOCK),
        RingConsumer(header, rings, lock, BLOCK, 44_100),
    )


def ramp(start: int, count: int, offset: float = 0.0) -> np.ndarray:
    """Frames whose value names their index (and which stream they belong to)."""
    values = np.arange(start, start + count, dtype=np.float32) + offset
    return np.repeat(values[:, None], 2, axis=1)


def play(consumer: RingConsumer, blocks: int) -> np.ndarray:
    out = np.zeros((blocks * BLOCK, 2), dtype=np.float32)
    for b in range(blocks):
        consumer.consume(out[b * BLOCK : (b + 1) * BLOCK])
    return out[:, 0]


def test_a_cut_switches_exactly_at_its_index() -> None:
    producer, consumer = pair()
    producer.write(ramp(0, 512))
    played = play(consumer, 2)  # the consumer is at 128
    cut = producer.cut(producer.safe_cut())
    assert cut == 128 + BLOCK
    producer.write(ramp(cut, 256, offset=0.5))  # the new stream, marked by .5
    played = np.concatenate([played, play(consumer, 4)])
    assert np.array_equal(played[:cut], np.arange(cut))
    assert np.array_equal(played[cut:], np.arange(cut, 6 * BLOCK) + 0.5)
    assert producer.handover_applied() and not producer.handover_missed()


def test_a_missed_handover_keeps_the_old_audio_and_is_reported() -> None:
    producer, consumer = pair()
    producer.write(ramp(0, 512))
    cut = producer.cut(producer.safe_cut())  # 64
    play(consumer, 3)  # the consumer runs past 64 before anything is published
    producer.write(ramp(cut, 256, offset=0.5))
    played = play(consumer, 1)
    assert np.array_equal(played, np.arange(192, 256))  # still the old stream, intact
    assert producer.handover_missed()
    again = producer.cut(producer.safe_cut())
    producer.write(ramp(again, 256, offset=0.5))
    played = play(consumer, 3)
    assert again == 256 + BLOCK
    assert np.array_equal(played[:BLOCK], np.arange(256, 320))
    assert np.array_equal(played[BLOCK:], np.arange(again, again + 2 * BLOCK) + 0.5)


def test_a_cut_is_handed_over_only_with_a_whole_block_behind_it() -> None:
    """A seek that lands a few frames before a track ends writes a sliver first; handing
    that over would run the consumer dry in one callback."""
    producer, consumer = pair()
    producer.write(ramp(0, 512))
    producer.set_expecting(True)
    play(consumer, 1)
    cut = producer.cut(producer.safe_cut())
    producer.write(ramp(cut, 3, offset=0.5))  # the old track's last frames
    assert producer.handover_seq == 0  # not handed over yet
    producer.write(ramp(cut + 3, BLOCK - 3, offset=0.5))  # the next track's first ones
    played = play(consumer, 3)
    assert np.array_equal(played[:BLOCK], np.arange(BLOCK, cut))
    assert np.array_equal(played[BLOCK : 2 * BLOCK], np.arange(cut, cut + BLOCK) + 0.5)
    assert producer.underruns == 1  # only the last block: nothing more was written


def test_a_short_cut_before_the_end_is_handed_over() -> None:
    producer, consumer = pair()
    producer.write(ramp(0, 512))
    cut = producer.cut(producer.safe_cut())
    producer.write(ramp(cut, 10, offset=0.5))  # a pause's fade, then nothing
    producer.set_expecting(True, end_index=producer.write_index)
    played = play(consumer, 2)
    assert np.array_equal(played[BLOCK : BLOCK + 10], np.arange(cut, cut + 10) + 0.5)
    assert not played[BLOCK + 10 :].any() and producer.underruns == 0


def test_underruns_count_only_while_audio_is_promised() -> None:
    producer, consumer = pair()
    play(consumer, 2)
    assert consumer.header[UNDERRUNS] == 0
    producer.set_expecting(True)
    producer.write(ramp(0, 32))
    play(consumer, 1)
    assert producer.underruns == 1 and producer.underrun_frames == 32
    producer.set_expecting(True, end_index=producer.write_index)  # the library ended
    play(consumer, 2)
    assert producer.underruns == 1


def test_a_busy_lock_never_blocks_the_consumer() -> None:
    producer, consumer = pair()
    producer.write(ramp(0, 256))
    play(consumer, 1)
    with producer.lock:  # the producer is publishing: the consumer uses its last copy
        played = play(consumer, 1)
    assert np.array_equal(played, np.arange(BLOCK, 2 * BLOCK))


def test_lateness_histogram_percentiles() -> None:
    _producer, consumer = pair()
    header = consumer.header
    header[24 + 0] = 990
    header[24 + 5] = 9  # 1.25 ms late
    header[24 + 48] = 1  # 12 ms late
    assert lateness_percentile(header, 0.5) == 0.0
    assert lateness_percentile(header, 0.999) == 1.25
    assert lateness_percentile(header, 0.9995) == 12.0


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["write", "play", "cut"]), st.integers(1, 200)), max_size=60)
)
def test_every_played_frame_is_whole_and_in_order(operations) -> None:
    """Whatever the interleaving, the consumer plays each index once, in order, and every
    frame it plays is one the producer wrote for that index (old or new stream)."""
    producer, consumer = pair(capacity=512)
    stream = 0
    written: dict[int, set[float]] = {}
    played_index = 0
    for action, amount in operations:
        if action == "write":
            frames = ramp(producer.write_index, amount, offset=stream / 10)
            taken = producer.write(frames)
            for i in range(producer.write_index - taken, producer.write_index):
                written.setdefault(i, set()).add(float(np.float32(i + stream / 10)))
        elif action == "cut":
            producer.cut(producer.write_index - amount)
            stream += 1
        else:
            out = np.zeros((min(amount, BLOCK), 2), dtype=np.float32)
            consumer.consume(out)
            read = int(consumer.header[8])
            for k, value in enumerate(out[: read - played_index, 0]):
                index = played_index + k
                assert float(value) in written.get(index, set()), (index, value)
            played_index = read


def test_a_cut_made_again_while_the_consumer_starves_is_one_it_can_reach() -> None:
    """After a missed handover the consumer reads its old ring to the end and starves
    there. A cut made again must lie where it can still arrive: at the end of its ring,
    not a block past it (it would never get there: silence for good, the feeder's queue
    full of audio nobody reads)."""
    producer, consumer = pair()
    producer.write(ramp(0, 4 * BLOCK))
    producer.set_expecting(True)
    cut = producer.cut(producer.safe_cut())  # BLOCK
    play(consumer, 2)  # past the cut before it is published
    producer.write(ramp(cut, 6 * BLOCK, offset=0.5))  # more than the old ring holds
    play(consumer, 3)  # reports the miss, plays the old ring to its end, then starves
    assert producer.handover_missed() and consumer.header[UNDERRUNS] == 1
    starved_at = producer.read_index
    assert starved_at == 4 * BLOCK
    # The next callback is due any moment: the producer would normally cut after it.
    consumer.header[LAST_CALLBACK_NS] = time.monotonic_ns() - 2 * consumer.period_ns
    again = producer.cut(producer.earliest_cut())
    assert again == starved_at
    producer.write(ramp(again, 4 * BLOCK, offset=0.5))
    played = play(consumer, 2)
    assert np.array_equal(played, np.arange(again, again + 2 * BLOCK) + 0.5)
    assert producer.handover_applied()


def test_the_consumer_fills_a_raw_buffer_as_it_fills_frames() -> None:
    """The audio process hands the consumer PortAudio's raw buffer, not an array: the
    bytes it writes there are the frames it would play, silence after the end included."""
    producer, frames_consumer = pair()
    producer.write(ramp(0, 3 * BLOCK // 2))
    header_copy = frames_consumer.header.tobytes()
    as_frames = play(frames_consumer, 2)
    _producer, raw_consumer = pair()
    raw_consumer.header[:] = memoryview(bytearray(header_copy)).cast("q")
    raw_consumer.rings[0][:] = frames_consumer.rings[0]
    raw = bytearray(2 * BLOCK * 8)
    raw_consumer.consume(memoryview(raw)[: BLOCK * 8])
    raw_consumer.consume(memoryview(raw)[BLOCK * 8 :])
    played = np.frombuffer(bytes(raw), dtype=np.float32).reshape(-1, 2)[:, 0]
    assert np.array_equal(played, as_frames)
    assert np.array_equal(played[: 3 * BLOCK // 2], np.arange(3 * BLOCK // 2))
    assert not played[3 * BLOCK // 2 :].any()


def test_a_consumer_stepped_by_hand_waits_for_a_publishing_producer() -> None:
    """A device callback never waits: while the producer holds the lock it plays on from
    its last copy (here: nothing yet, so silence). A test stepping the sink by hand waits
    for the lock instead, and plays everything published before it asked."""
    producer, consumer = pair()
    producer.write(ramp(0, 2 * BLOCK))
    holding, released = threading.Event(), threading.Event()

    def publishing() -> None:
        with producer.lock:
            holding.set()
            released.wait()

    holder = threading.Thread(target=publishing)
    holder.start()
    holding.wait()
    quiet = np.ones((BLOCK, 2), dtype=np.float32)
    consumer.consume(quiet)  # the callback's way: no wait, its last copy
    assert not quiet.any()
    threading.Timer(0.05, released.set).start()
    heard = np.zeros((BLOCK, 2), dtype=np.float32)
    consumer.consume(heard, wait=True)  # blocks until the producer lets go
    holder.join()
    assert np.array_equal(heard[:, 0], np.arange(0, BLOCK))
