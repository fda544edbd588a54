package io.tokenbus.fanout;

import io.tokenbus.bus.StreamEvent;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Consecutive events with their encoded frames in one format: one buffer per event, plus (lazily,
 * once) all of them joined for a single socket write. A {@link #range} of it shares its frames; a
 * range of a shared batch (one every viewer of the node writes) also shares its joined buffer, as a
 * slice. Safe to share between event loops.
 */
public final class Encoded<E extends StreamEvent> {

  private final Frames<E> frames;
  private final int from;
  private final int to;
  private volatile Buffer joined;
  private volatile Buffer chunk;

  private Encoded(Frames<E> frames, int from, int to) {
    this.frames = frames;
    this.from = from;
    this.to = to;
  }

  /**
   * Log events, with frames from the node's cache; {@code shared} if many viewers will write it.
   */
  static <E extends StreamEvent> Encoded<E> cached(
      FrameCache<E> cache, WireFormat format, List<E> events, boolean shared) {
    List<Buffer> frames = new ArrayList<>(events.size());
    for (E event : events) {
      frames.add(cache.frame(format, event));
    }
    return new Encoded<>(new Frames<>(events, frames, shared), 0, events.size());
  }

  /** Events made for one viewer (merged deltas), encoded for it alone. */
  static <E extends StreamEvent> Encoded<E> encode(
      StreamSource<E> source, WireFormat format, List<E> events) {
    List<Buffer> frames = new ArrayList<>(events.size());
    for (E event : events) {
      frames.add(source.encode(format, event));
    }
    return new Encoded<>(new Frames<>(events, frames, false), 0, events.size());
  }

  public List<E> events() {
    return frames.events.subList(from, to);
  }

  public E first() {
    return frames.events.get(from);
  }

  public E last() {
    return frames.events.get(to - 1);
  }

  public int size() {
    return to - from;
  }

  /** All frames as one buffer, for stream formats (two loops racing both build the same bytes). */
  public Buffer joined() {
    Buffer joined = this.joined;
    if (joined == null) {
      if (size() == 1) {
        joined = frames.frames.get(from);
      } else if (frames.shared) {
        int[] offsets = frames.offsets();
        Buffer all = frames.joined();
        joined = from == 0 && to == frames.size() ? all : all.slice(offsets[from], offsets[to]);
      } else {
        joined = Buffer.buffer(bytes(0, size()));
        for (int i = from; i < to; i++) {
          joined.appendBuffer(frames.frames.get(i));
        }
      }
      this.joined = joined;
    }
    return joined;
  }

  /**
   * {@link #joined()} framed as one HTTP/1.1 chunk ({@code <size in hex>CRLF<bytes>CRLF}, RFC 9112
   * §7.1), for an SSE response whose chunks skip the HTTP encoder: built once, like the joined
   * bytes, and written by every viewer that writes these events.
   */
  public Buffer httpChunk() {
    Buffer chunk = this.chunk;
    if (chunk == null) {
      Buffer bytes = joined();
      String size = Integer.toHexString(bytes.length());
      chunk =
          Buffer.buffer(size.length() + bytes.length() + 4)
              .appendString(size)
              .appendString("\r\n")
              .appendBuffer(bytes)
              .appendString("\r\n");
      this.chunk = chunk;
    }
    return chunk;
  }

  /** Encoded bytes of frames {@code i} (inclusive) to {@code j} (exclusive). */
  int bytes(int i, int j) {
    int[] offsets = frames.offsets();
    return offsets[from + j] - offsets[from + i];
  }

  /**
   * The end of the longest run of frames from {@code i} on within {@code maxBytes} (at least one
   * frame, however big).
   */
  int fit(int i, int maxBytes) {
    int[] offsets = frames.offsets();
    int limit = offsets[from + i] + maxBytes;
    int j = i + 1;
    while (j < size() && offsets[from + j + 1] <= limit) {
      j++;
    }
    return j;
  }

  /** Frames {@code i} (inclusive) to {@code j} (exclusive), sharing what is encoded. */
  Encoded<E> range(int i, int j) {
    return i == 0 && j == size() ? this : new Encoded<>(frames, from + i, from + j);
  }

  /** The events from index {@code i} on. */
  Encoded<E> from(int i) {
    return range(i, size());
  }

  /** The frames behind every range of one encoding. */
  private static final class Frames<E> {
    final List<E> events;
    final List<Buffer> frames;
    final boolean shared;

    /** Where each frame starts in the joined bytes, and (last) their total length. */
    final int[] offsets;

    private Buffer joined;

    Frames(List<E> events, List<Buffer> frames, boolean shared) {
      this.events = events;
      this.frames = frames;
      this.shared = shared;
      offsets = new int[frames.size() + 1];
      for (int i = 0; i < frames.size(); i++) {
        offsets[i + 1] = offsets[i] + frames.get(i).length();
      }
    }

    int size() {
      return frames.size();
    }

    int[] offsets() {
      return offsets;
    }

    synchronized Buffer joined() {
      if (joined == null) {
        if (frames.size() == 1) {
          joined = frames.get(0);
        } else {
          joined = Buffer.buffer(offsets()[frames.size()]);
          for (Buffer frame : frames) {
            joined.appendBuffer(frame);
          }
        }
      }
      return joined;
    }
  }
}
