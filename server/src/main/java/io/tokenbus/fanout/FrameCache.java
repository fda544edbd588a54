package io.tokenbus.fanout;

import io.tokenbus.bus.GenerationEvent;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The encoded frames of one generation's events on this node, per wire format, indexed by seq: an
 * event is encoded once per node and format, whether it arrives live or is replayed to a late
 * joiner. Lives as long as the generation has viewers on the node, so it holds at most
 * {@code generation.max-events} frames per format in use. Merged deltas are not cached: their
 * seq names the last event they cover, not their content.
 */
final class FrameCache {

  private final EventEncoder encoder;
  private final List<List<Buffer>> byFormat = new ArrayList<>();

  FrameCache(EventEncoder encoder) {
    this.encoder = encoder;
    for (int i = 0; i < WireFormat.values().length; i++) {
      byFormat.add(new ArrayList<>());
    }
  }

  synchronized Buffer frame(WireFormat format, GenerationEvent event) {
    List<Buffer> frames = byFormat.get(format.ordinal());
    int index = (int) (event.seq() - 1);
    while (frames.size() <= index) {
      frames.add(null);
    }
    Buffer frame = frames.get(index);
    if (frame == null) {
      frame = encoder.encode(format, event);
      frames.set(index, frame);
    }
    return frame;
  }
}
