package io.tokenbus.fanout;

import io.tokenbus.bus.StreamEvent;
import io.vertx.core.buffer.Buffer;

/**
 * The connection side of a {@link Viewer}: an SSE response, or one subscription on a WebSocket.
 * Called on the connection's event loop only.
 */
public interface ViewerOutput<E extends StreamEvent> {

  WireFormat format();

  boolean writeQueueFull();

  void write(Encoded<E> events);

  /** Bytes for this viewer alone, before its events: what a source gives a newcomer first. */
  void write(Buffer head);

  /** Runs {@code action} once, the next time the connection's write queue drains. */
  void onDrain(Runnable action);

  /** The terminal event has been written: finish normally. */
  void end();

  /**
   * The viewer was stalled past {@code viewer.max-stall-seconds}: close so the client reconnects
   * and resumes from its last seq.
   */
  void stalled();

  /** The viewer cannot go on (the stream is gone or cannot be read): say why, if the format can. */
  void lost(String reason);
}
