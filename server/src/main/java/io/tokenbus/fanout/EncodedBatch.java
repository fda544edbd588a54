package io.tokenbus.fanout;

import io.tokenbus.bus.StreamEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Consecutive events as a node's viewers receive them: one published batch, or several merged
 * because they reached an event loop before it could write the first. Each wire format is encoded
 * the first time a viewer needs it and then shared by every viewer on every event loop of the node.
 */
final class EncodedBatch<E extends StreamEvent> {

  private final List<E> events;
  private final FrameCache<E> frames;
  private final AtomicReferenceArray<Encoded<E>> byFormat =
      new AtomicReferenceArray<>(WireFormat.values().length);

  EncodedBatch(List<E> events, FrameCache<E> frames) {
    this.events = events;
    this.frames = frames;
  }

  long firstSeq() {
    return events.get(0).seq();
  }

  long lastSeq() {
    return events.get(events.size() - 1).seq();
  }

  int size() {
    return events.size();
  }

  /**
   * Passing events (seq 0: someone typing): shown to whoever is live, never held, replayed or
   * counted.
   */
  boolean passing() {
    return firstSeq() == 0;
  }

  /** Whether it ends the stream: its last event is terminal. */
  boolean terminal() {
    return events.get(events.size() - 1).terminal();
  }

  /** True if {@code next} starts right after this batch ends, so the two can be written as one. */
  boolean precedes(EncodedBatch<E> next) {
    return !passing() && next.firstSeq() == lastSeq() + 1;
  }

  /** Consecutive batches as one; {@code batches} must be a run where each precedes the next. */
  static <E extends StreamEvent> EncodedBatch<E> merge(List<EncodedBatch<E>> batches) {
    if (batches.size() == 1) {
      return batches.get(0);
    }
    int size = 0;
    for (EncodedBatch<E> batch : batches) {
      size += batch.size();
    }
    List<E> events = new ArrayList<>(size);
    for (EncodedBatch<E> batch : batches) {
      events.addAll(batch.events);
    }
    return new EncodedBatch<>(events, batches.get(0).frames);
  }

  /** The batch in {@code format}; loops racing to encode it first agree on one. */
  Encoded<E> in(WireFormat format) {
    Encoded<E> encoded = byFormat.get(format.ordinal());
    if (encoded == null) {
      Encoded<E> mine = Encoded.cached(frames, format, events, true);
      encoded = byFormat.compareAndExchange(format.ordinal(), null, mine);
      if (encoded == null) {
        encoded = mine;
      }
    }
    return encoded;
  }
}
