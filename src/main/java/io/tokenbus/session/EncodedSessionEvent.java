package io.tokenbus.session;

import io.vertx.core.buffer.Buffer;

/**
 * A session event with its wire forms, each made once and shared: a live batch is wrapped once per
 * node ({@link SessionHub}), so every SSE and WebSocket viewer of the node writes the same bytes.
 */
public final class EncodedSessionEvent {

  private final String session;
  private final SessionEvent event;
  private Buffer sse;
  private String frame;

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

  public synchronized String frame() {
    if (frame == null) {
      frame = SessionEncoder.frame(session, event);
    }
    return frame;
  }
}
