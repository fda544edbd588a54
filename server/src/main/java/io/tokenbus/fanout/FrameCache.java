package io.tokenbus.fanout;

import io.tokenbus.bus.StreamEvent;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The encoded frames of one stream's events on this node, per wire format, indexed by seq: an event
 * is encoded once per node and format, whether it arrives live or is replayed to a late joiner.
 * Lives as long as the stream has viewers on the node, so it holds at most one frame per event its
 * log holds, per format in use ({@code generation.max-events} for a generation). Merged deltas are
 * not cached (their seq names the last event they cover, not their content), nor are passing events
 * (seq 0).
 */
final class FrameCache<E extends StreamEvent> {

  private final StreamSource<E> source;
  private final List<List<Buffer>> byFormat = new ArrayList<>();

  FrameCache(StreamSource<E> source) {
    this.source = source;
    for (int i = 0; i < WireFormat.values().length; i++) {
      byFormat.add(new ArrayList<>());
    }
  }

  /**
   * The seq at index 0 of every list: the lowest seen, so a stream whose seqs start high (a session
   * rebuilt from the durable history numbers its events past a billion) costs nothing for the seqs
   * it never had.
   */
  private long first = -1;

  /** A seq this far from the cached range is encoded without caching, rather than padded to. */
  static final int MAX_GAP = 1 << 16;

  synchronized Buffer frame(WireFormat format, E event) {
    long seq = event.seq();
    if (seq < 1) {
      return source.encode(format, event);
    }
    if (first < 0) {
      first = seq;
    }
    if (seq < first) {
      if (first - seq > MAX_GAP) {
        return source.encode(format, event);
      }
      int missing = (int) (first - seq);
      for (List<Buffer> frames : byFormat) {
        if (!frames.isEmpty()) {
          frames.addAll(0, Collections.nCopies(missing, null));
        }
      }
      first = seq;
    }
    List<Buffer> frames = byFormat.get(format.ordinal());
    long index = seq - first;
    if (index - frames.size() > MAX_GAP) {
      return source.encode(format, event);
    }
    while (frames.size() <= index) {
      frames.add(null);
    }
    Buffer frame = frames.get((int) index);
    if (frame == null) {
      frame = source.encode(format, event);
      frames.set((int) index, frame);
    }
    return frame;
  }
}
