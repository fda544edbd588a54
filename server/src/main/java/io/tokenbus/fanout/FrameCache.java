package io.tokenbus.fanout;

import io.tokenbus.bus.StreamEvent;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
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

  synchronized Buffer frame(WireFormat format, E event) {
    if (event.seq() < 1) {
      return source.encode(format, event);
    }
    List<Buffer> frames = byFormat.get(format.ordinal());
    int index = (int) (event.seq() - 1);
    while (frames.size() <= index) {
      frames.add(null);
    }
    Buffer frame = frames.get(index);
    if (frame == null) {
      frame = source.encode(format, event);
      frames.set(index, frame);
    }
    return frame;
  }
}
