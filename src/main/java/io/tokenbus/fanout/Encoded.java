package io.tokenbus.fanout;

import io.tokenbus.bus.GenerationEvent;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Consecutive events with their encoded frames in one format: one buffer per event, plus (lazily,
 * once) all of them joined for a single socket write and each frame as text for WebSocket. Safe
 * to share between event loops.
 */
public final class Encoded {

  private final List<GenerationEvent> events;
  private final List<Buffer> frames;
  private Buffer joined;
  private String[] texts;

  private Encoded(List<GenerationEvent> events, List<Buffer> frames) {
    this.events = events;
    this.frames = frames;
  }

  /** Log events, with frames from the node's cache. */
  static Encoded cached(FrameCache cache, WireFormat format, List<GenerationEvent> events) {
    List<Buffer> frames = new ArrayList<>(events.size());
    for (GenerationEvent event : events) {
      frames.add(cache.frame(format, event));
    }
    return new Encoded(events, frames);
  }

  /** Events made for one viewer (merged deltas), encoded for it alone. */
  static Encoded encode(EventEncoder encoder, WireFormat format, List<GenerationEvent> events) {
    List<Buffer> frames = new ArrayList<>(events.size());
    for (GenerationEvent event : events) {
      frames.add(encoder.encode(format, event));
    }
    return new Encoded(events, frames);
  }

  public List<GenerationEvent> events() {
    return events;
  }

  public GenerationEvent first() {
    return events.get(0);
  }

  public GenerationEvent last() {
    return events.get(events.size() - 1);
  }

  public int size() {
    return events.size();
  }

  /** All frames as one buffer, for stream formats. */
  public synchronized Buffer joined() {
    if (joined == null) {
      if (frames.size() == 1) {
        joined = frames.get(0);
      } else {
        int length = 0;
        for (Buffer frame : frames) {
          length += frame.length();
        }
        joined = Buffer.buffer(length);
        for (Buffer frame : frames) {
          joined.appendBuffer(frame);
        }
      }
    }
    return joined;
  }

  /** Frame {@code i} as text, for WebSocket text frames. */
  public synchronized String text(int i) {
    if (texts == null) {
      texts = new String[frames.size()];
    }
    if (texts[i] == null) {
      texts[i] = frames.get(i).toString(StandardCharsets.UTF_8);
    }
    return texts[i];
  }

  /** The events from index {@code from} on, sharing the encoded frames. */
  Encoded from(int from) {
    return from == 0 ? this : new Encoded(events.subList(from, events.size()), frames.subList(from, frames.size()));
  }
}
