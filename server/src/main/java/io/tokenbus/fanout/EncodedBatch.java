package io.tokenbus.fanout;

import io.tokenbus.bus.GenerationEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Consecutive events as a node's viewers receive them: one published batch, or several merged
 * because they reached an event loop before it could write the first. Each wire format is encoded
 * the first time a viewer needs it and then shared by every viewer on every event loop of the node.
 */
final class EncodedBatch {

  private final List<GenerationEvent> events;
  private final FrameCache frames;
  private final AtomicReferenceArray<Encoded> byFormat = new AtomicReferenceArray<>(WireFormat.values().length);

  EncodedBatch(List<GenerationEvent> events, FrameCache frames) {
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

  /** True if {@code next} starts right after this batch ends, so the two can be written as one. */
  boolean precedes(EncodedBatch next) {
    return next.firstSeq() == lastSeq() + 1;
  }

  /** Consecutive batches as one; {@code batches} must be a run where each precedes the next. */
  static EncodedBatch merge(List<EncodedBatch> batches) {
    if (batches.size() == 1) {
      return batches.get(0);
    }
    int size = 0;
    for (EncodedBatch batch : batches) {
      size += batch.size();
    }
    List<GenerationEvent> events = new ArrayList<>(size);
    for (EncodedBatch batch : batches) {
      events.addAll(batch.events);
    }
    return new EncodedBatch(events, batches.get(0).frames);
  }

  /** The batch in {@code format}; loops racing to encode it first agree on one. */
  Encoded in(WireFormat format) {
    Encoded encoded = byFormat.get(format.ordinal());
    if (encoded == null) {
      Encoded mine = Encoded.cached(frames, format, events, true);
      encoded = byFormat.compareAndExchange(format.ordinal(), null, mine);
      if (encoded == null) {
        encoded = mine;
      }
    }
    return encoded;
  }
}
