package io.tokenbus.session;

import io.tokenbus.fanout.EventEncoder;
import io.vertx.core.buffer.Buffer;
import java.util.List;
import java.util.function.Function;

/**
 * A session event with its wire forms, each made once and shared: a live batch is wrapped once per
 * node ({@link SessionHub}), so every SSE and WebSocket viewer of the node writes the same bytes.
 */
public final class EncodedSessionEvent {

  private final String session;
  private final SessionEvent event;
  private Buffer sse;
  private Buffer frame;

  EncodedSessionEvent(String session, SessionEvent event) {
    this.session = session;
    this.event = event;
  }

  public long seq() {
    return event.seq();
  }

  public synchronized Buffer sse() {
    if (sse == null) {
      sse = SessionEncoder.sse(event);
    }
    return sse;
  }

  /** The event as a whole WebSocket text frame (header included), the same bytes for every socket. */
  public synchronized Buffer frame() {
    if (frame == null) {
      frame = EventEncoder.textFrame(SessionEncoder.frame(session, event));
    }
    return frame;
  }

  /** The events' bytes in one buffer: {@code wireForm} of each, joined (no copy for one event). */
  public static Buffer joined(List<EncodedSessionEvent> events, Function<EncodedSessionEvent, Buffer> wireForm) {
    if (events.size() == 1) {
      return wireForm.apply(events.get(0));
    }
    Buffer bytes = Buffer.buffer();
    events.forEach(e -> bytes.appendBuffer(wireForm.apply(e)));
    return bytes;
  }
}
